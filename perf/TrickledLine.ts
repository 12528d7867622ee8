/**
 * `npm run build:perf && node dist/perf/TrickledLine.js [--runs N] [--line BYTES] [--pieces 0,64,1] [--layers scanner,copy] [--baseline DIR] [--record]`
 *
 * CPU for one stamped message whose text part holds one long line (default 1 MiB less one byte, the
 * longest the stamped copy takes: MAX_STAMPED_LINE_BYTES counts its CR) written in small pieces, as a bound session sending
 * DATA a few bytes at a time would: the README's "Trickled bytes". Two layers: `scanner` is
 * ChunkGuard → MimeScanner alone (where an unfinished line is held), `copy` the whole StampedCopy
 * stage (a Transform, one turn per written chunk, Stamper and join behind it).
 *
 * Each measurement is a child process of its own (fresh heap): process.cpuUsage around feeding the
 * message (all threads, so GC counts). `--baseline DIR`: another checkout's build (DIR/dist/src)
 * takes turns with this one, in swapped order from one run to the next; the table gives the medians
 * and the median of the per-pair ratios. Writes perf/results/local/trickled-line-<timestamp>.json
 * (perf/results/ with --record). Pieces of 0: the message in one write (the floor). A benchmark, not a test: nothing is asserted.
 */
import { fork } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { Readable, Writable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { fileURLToPath, pathToFileURL } from "node:url"
import type * as SignatureModule from "../src/domain/Signature.js"
import type * as MimeScannerModule from "../src/pipeline/mime/MimeScanner.js"
import type * as SplitterGuardModule from "../src/pipeline/mime/SplitterGuard.js"
import type * as StamperModule from "../src/pipeline/mime/Stamper.js"
import type * as StampedCopyModule from "../src/pipeline/StampedCopy.js"
import { resultsDir } from "./ResultsDir.js"

const argument = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : undefined
}
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")
const RUNS = Number(argument("runs") ?? 3)
/** the longest line a stamped copy takes, its CR included, in any cut (MAX_STAMPED_LINE_BYTES) */
const LINE = Number(argument("line") ?? 1024 * 1024 - 1)
const PIECES = (argument("pieces") ?? "0,64,1").split(",").map(Number)
const LAYERS = (argument("layers") ?? "scanner,copy").split(",")
const BASELINE = argument("baseline") === undefined ? undefined : path.resolve(argument("baseline")!)

const HEAD = "From: a@example.com\r\nTo: b@example.com\r\nSubject: trickle\r\nMIME-Version: 1.0\r\n"
const message = (line: number): Buffer =>
  Buffer.from(
    `${HEAD}Content-Type: multipart/mixed; boundary="BB"\r\n\r\n--BB\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n` +
      `Hello\r\n${"x".repeat(line)}\r\nBye\r\n--BB\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nQUFB\r\n--BB--\r\n`
  )

const cut = (bytes: Buffer, size: number): Array<Buffer> => {
  const out: Array<Buffer> = []
  // copies, as socket reads are: a piece does not share one big buffer with the others
  for (let at = 0; at < bytes.length; at += size) out.push(Buffer.from(bytes.subarray(at, at + size)))
  return out
}

/** In a child: one measurement of `layer` of the build at `root`; prints CPU seconds as JSON. */
const runChild = async (root: string, layer: string, piece: number): Promise<void> => {
  const from = <A>(file: string) => import(pathToFileURL(path.join(root, "dist", "src", file)).href) as Promise<A>
  const { MimeScanner } = await from<typeof MimeScannerModule>("pipeline/mime/MimeScanner.js")
  const { ChunkGuard } = await from<typeof SplitterGuardModule>("pipeline/mime/SplitterGuard.js")
  const { StampedCopy } = await from<typeof StampedCopyModule>("pipeline/StampedCopy.js")
  const { Stamper } = await from<typeof StamperModule>("pipeline/mime/Stamper.js")
  const { SignatureElement } = await from<typeof SignatureModule>("domain/Signature.js")
  const whole = message(LINE)
  // 0: the message in one piece (the floor)
  const chunks = piece === 0 ? [whole] : cut(whole, piece)
  let outBytes = 0
  const start = process.cpuUsage()
  if (layer === "scanner") {
    const guard = new ChunkGuard()
    const scanner = new MimeScanner((e) => {
      if (!Buffer.isBuffer(e) && e.type !== "node") outBytes += e.value.length
    })
    for (const chunk of chunks) {
      const guarded = guard.pass(chunk)
      if (guarded !== undefined) scanner.write(guarded)
    }
    const rest = guard.end()
    if (rest !== undefined) scanner.write(rest)
    scanner.end()
  } else {
    const element = new SignatureElement({
      ruleId: "r1",
      templateId: "t1",
      position: "above-reply",
      html: "<p>Alice Example</p>",
      text: "Alice Example",
      marker: "Alice Example"
    })
    const policy = {
      tenant: "t1",
      receivedLine: "from upstream by imprint",
      stampKey: Buffer.alloc(32, 7),
      nowSeconds: 1_796_601_600,
      stampMaxAgeSeconds: 86_400
    }
    const copy = new StampedCopy(new Stamper({ elements: [element], skipIfPresent: [] }), policy, undefined, { maxHeadSize: 1024 * 1024, maxChildNodes: 500 })
    const sink = new Writable({
      write(chunk: Buffer, _e, cb) {
        outBytes += chunk.length
        cb()
      }
    })
    await pipeline(Readable.from(chunks, { objectMode: false }), copy, sink)
  }
  const used = process.cpuUsage(start)
  process.stdout.write(JSON.stringify({ cpuSeconds: (used.user + used.system) / 1e6, outBytes }) + "\n")
}

const measure = (root: string, layer: string, piece: number): Promise<{ cpuSeconds: number; outBytes: number }> =>
  new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ["--child", root, "--layer", layer, "--piece", String(piece), "--line", String(LINE)], {
      stdio: ["ignore", "pipe", "inherit", "ipc"]
    })
    let out = ""
    child.stdout!.on("data", (d: Buffer) => void (out += d.toString()))
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`child exited ${code}`))))
  })

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

const runParent = async (): Promise<void> => {
  const builds: Array<[string, string]> = [["this", ROOT], ...(BASELINE === undefined ? [] : [["baseline", BASELINE] as [string, string]])]
  const rows: Array<Record<string, unknown>> = []
  const dir = resultsDir(ROOT)
  mkdirSync(dir, { recursive: true })
  const file = path.join(dir, `trickled-line-${new Date().toISOString().replace(/[:.]/g, "-")}.json`)
  for (const layer of LAYERS) {
    for (const piece of PIECES) {
      const seconds: Record<string, Array<number>> = Object.fromEntries(builds.map(([name]) => [name, []]))
      for (let run = 0; run < RUNS; run++) {
        const order = run % 2 === 0 ? builds : [...builds].reverse()
        for (const [name, root] of order) seconds[name].push((await measure(root, layer, piece)).cpuSeconds)
      }
      const ratios = BASELINE === undefined ? [] : seconds.this.map((s, i) => s / seconds.baseline[i])
      const row = {
        layer,
        line: LINE,
        piece,
        seconds,
        medians: Object.fromEntries(builds.map(([name]) => [name, median(seconds[name])])),
        ratio: ratios.length ? median(ratios) : undefined
      }
      rows.push(row)
      // after every row: a case of the old build can run for minutes
      writeFileSync(file, JSON.stringify({ runs: RUNS, line: LINE, baseline: BASELINE, rows }, null, 2))
      console.log(
        `${layer.padEnd(8)} ${LINE} B line in ${String(piece).padStart(4)}-byte pieces: ` +
          builds.map(([name]) => `${name} ${median(seconds[name]).toFixed(3)} s [${seconds[name].map((s) => s.toFixed(3)).join(", ")}]`).join("  ") +
          (ratios.length ? `  this/baseline ${median(ratios).toFixed(4)}` : "")
      )
    }
  }
  console.log(`wrote ${file}`)
}

const CHILD = argument("child")
;(CHILD === undefined ? runParent() : runChild(CHILD, argument("layer")!, Number(argument("piece")))).catch((e) => {
  console.error(e)
  process.exit(1)
})
