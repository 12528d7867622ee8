/**
 * Where a relay allocates Buffer bytes, a preload for any perf run:
 *
 *   NODE_OPTIONS="--import $PWD/dist/perf/BufferAllocs.js" PERF_BUFFER_ALLOCS_OUT=/tmp/allocs \
 *     node dist/perf/run.js --quick --only "^mem 100m" --targets imprint-stamp
 *
 * Only a relay process (`main.js serve`, or the pass-through floor) counts; the harness's own
 * processes inherit NODE_OPTIONS and do nothing. It writes `<out>/allocs-<pid>.txt` every second
 * and when it exits:
 *
 * - bytes the sockets read (every read is a new Buffer made by Node's native side: counted
 *   where `net.Socket` pushes it) and bytes written to sockets (not allocations: for scale);
 * - Buffers of at least MIN_BYTES made by `Buffer.allocUnsafe`, `allocUnsafeSlow`, `alloc`,
 *   `concat` and `from` (not `from(arrayBuffer)`, which shares), by API and the first frames
 *   of the caller's stack, most bytes first;
 * - the peak of `process.memoryUsage().arrayBuffers` (sampled every SAMPLE_MS), the whole sample
 *   at the RSS peak, and the garbage collections by kind;
 * - with PERF_BUFFER_ALLOCS_SERIES=1, also `<out>/series-<pid>.tsv`: every sample (ms, "mem", rss,
 *   heapUsed, arrayBuffers in MB) and every GC (ms, "gc", kind: 1 scavenge, 4 mark-compact,
 *   8 incremental, duration), to see which GCs free the Buffers.
 *
 * Divide by the bytes read (one big message against a warm-up of 400 × 10 KB) for bytes
 * allocated per message byte. It replaces Buffer's static functions in the measured process:
 * a measuring tool only, it costs a stack trace per counted allocation.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { PerformanceObserver, constants } from "node:perf_hooks"

/** smaller Buffers come from Node's 8 KB pool or are headers: not the per-byte cost looked for */
const MIN_BYTES = 1024
const SAMPLE_MS = 5
const FRAMES = 4

const out = process.env.PERF_BUFFER_ALLOCS_OUT
const script = process.argv[1] ?? ""
const isRelay = process.argv.includes("serve") || script.endsWith("PassThrough.js")

if (out !== undefined && isRelay) {
  const mb = (n: number): string => (n / 2 ** 20).toFixed(1)
  const byCaller = new Map<string, { n: number; bytes: number }>()
  const totals = { socketRead: 0, socketReads: 0, socketWritten: 0, allocated: 0 }
  const peak = { arrayBuffers: 0, heapUsed: 0, rss: 0 }
  /** the whole sample at the RSS peak: what the peak was made of */
  let atPeak: NodeJS.MemoryUsage | undefined
  const gcs = { minor: 0, major: 0, incremental: 0, weak: 0 }

  const where = (): string => {
    const holder: { stack?: string } = {}
    const limit = Error.stackTraceLimit
    Error.stackTraceLimit = FRAMES + 1
    Error.captureStackTrace(holder, count)
    Error.stackTraceLimit = limit
    return (holder.stack ?? "")
      .split("\n")
      .slice(2, 2 + FRAMES)
      .map((f) =>
        f
          .trim()
          .replace(/^at /, "")
          .replace(/\((?:file:\/\/)?\/.*\/(dist|node_modules)\//, "(")
      )
      .join(" < ")
  }

  /** Buffer.concat and from call allocUnsafe themselves: only the outermost call counts */
  let depth = 0
  const count = (api: string, b: Buffer): void => {
    if (depth > 0 || b.length < MIN_BYTES) return
    totals.allocated += b.length
    const key = `${api}  ${where()}`
    const e = byCaller.get(key)
    if (e !== undefined) {
      e.n++
      e.bytes += b.length
    } else byCaller.set(key, { n: 1, bytes: b.length })
  }

  const B = Buffer as unknown as Record<string, (...args: Array<unknown>) => Buffer>
  for (const api of ["allocUnsafe", "allocUnsafeSlow", "alloc", "concat"]) {
    const original = B[api]
    B[api] = function (this: unknown, ...args: Array<unknown>): Buffer {
      depth++
      let b: Buffer
      try {
        b = original.apply(this, args)
      } finally {
        depth--
      }
      count(api, b)
      return b
    }
  }
  const from = B.from
  B.from = function (this: unknown, ...args: Array<unknown>): Buffer {
    depth++
    let b: Buffer
    try {
      b = from.apply(this, args)
    } finally {
      depth--
    }
    if (!(args[0] instanceof ArrayBuffer) && !(args[0] instanceof SharedArrayBuffer)) count("from", b)
    return b
  }

  const socket = net.Socket.prototype as unknown as {
    push: (chunk: unknown, enc?: BufferEncoding) => boolean
    write: (...args: Array<unknown>) => boolean
  }
  const push = socket.push
  socket.push = function (this: unknown, chunk: unknown, enc?: BufferEncoding): boolean {
    if (Buffer.isBuffer(chunk)) {
      totals.socketRead += chunk.length
      totals.socketReads++
    }
    return push.call(this, chunk, enc)
  }
  const write = socket.write
  socket.write = function (this: unknown, ...args: Array<unknown>): boolean {
    const chunk = args[0]
    if (Buffer.isBuffer(chunk)) totals.socketWritten += chunk.length
    else if (typeof chunk === "string") totals.socketWritten += Buffer.byteLength(chunk)
    return write.apply(this, args)
  }

  /** with PERF_BUFFER_ALLOCS_SERIES=1: every sample and GC, for the sawtooth of arrayBuffers */
  const series: Array<string> | undefined = process.env.PERF_BUFFER_ALLOCS_SERIES === "1" ? [] : undefined
  const t0 = performance.now()
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind
      series?.push(`${(e.startTime - t0).toFixed(1)}\tgc\t${kind}\t${e.duration.toFixed(2)}`)
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gcs.minor++
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) gcs.major++
      else if (kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL) gcs.incremental++
      else gcs.weak++
    }
  }).observe({ entryTypes: ["gc"] })

  setInterval(() => {
    const m = process.memoryUsage()
    series?.push(`${(performance.now() - t0).toFixed(1)}\tmem\t${mb(m.rss)}\t${mb(m.heapUsed)}\t${mb(m.arrayBuffers)}`)
    peak.arrayBuffers = Math.max(peak.arrayBuffers, m.arrayBuffers)
    peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed)
    if (m.rss > peak.rss) {
      peak.rss = m.rss
      atPeak = m
    }
  }, SAMPLE_MS).unref()

  const report = (): void => {
    const read = Math.max(1, totals.socketRead)
    const lines = [
      `socket reads ${mb(totals.socketRead)} MB in ${totals.socketReads} reads; written ${mb(totals.socketWritten)} MB`,
      `Buffers >= ${MIN_BYTES} B allocated in JS: ${mb(totals.allocated)} MB (${(totals.allocated / read).toFixed(3)} per byte read; + 1 for the reads themselves)`,
      `peak arrayBuffers ${mb(peak.arrayBuffers)} MB, heapUsed ${mb(peak.heapUsed)} MB, rss ${mb(peak.rss)} MB; gc minor ${gcs.minor} major ${gcs.major} incremental ${gcs.incremental} weak ${gcs.weak}`,
      `at the RSS peak: ${
        atPeak === undefined
          ? "-"
          : Object.entries(atPeak)
              .map(([k, v]) => `${k} ${mb(v)}`)
              .join(", ")
      } MB`,
      "",
      "MB\tper byte read\tcount\twhere",
      ...[...byCaller]
        .sort((a, b) => b[1].bytes - a[1].bytes)
        .slice(0, 25)
        .map(([k, { n, bytes }]) => `${mb(bytes)}\t${(bytes / read).toFixed(3)}\t${n}\t${k}`)
    ]
    mkdirSync(out, { recursive: true })
    writeFileSync(path.join(out, `allocs-${process.pid}.txt`), lines.join("\n") + "\n")
    if (series !== undefined) writeFileSync(path.join(out, `series-${process.pid}.tsv`), series.join("\n") + "\n")
  }
  setInterval(report, 1000).unref()
  process.on("exit", report)
}
