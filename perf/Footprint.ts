/**
 * `npm run perf:footprint -- [--baseline FILE] [--reps N] [--messages N] [--settle-ms N] [--modes demo,serve] [--record]`
 *
 * The relay's memory before and after mail (issue 16: most of its footprint is
 * there before the first message). For each mode, the relay is started as an
 * operator starts it:
 *   demo   `imprint demo` (data and outbox in a temp folder, every port 0)
 *   serve  `imprint init` into a temp folder, its imprint.json given free
 *          loopback ports and the perf sink as downstream, its acme.json
 *          imported, then `imprint serve --config imprint.json`
 * The first start of each (demo tenant import, certificate generation) is kept
 * apart; then each repetition starts the relay again on the same data, waits
 * until it listens and `--settle-ms` more (default 8,000), and reads its RSS,
 * then, through perf/FootprintProbe.ts, the V8 heap after a forced GC (heapUsed,
 * external, arrayBuffers, heap spaces); it sends `--messages` stamped 10 KB
 * messages (default 400: 10 sessions, reused connections), waits 2 s and reads
 * it all again, plus the peak RSS (VmHWM, reset when the load starts).
 *
 * `--baseline FILE`: another build's dist/src/main.js, run in the same turns
 * (the order reversed every other repetition); the report gives medians and the
 * median of the per-repetition ratios this build / baseline. Results:
 * perf/results/local/footprint-<timestamp>.json (perf/results/ with --record).
 */
import { execFile } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { killAllChildren, startServer, type Server } from "./Child.js"
import { freePort } from "./FreePort.js"
import { runLoad } from "./LoadGenerator.js"
import { resultsDir } from "./ResultsDir.js"
import { resetSink, sinkStats } from "./SinkClient.js"
import { ROOT, STAMP_MARKER } from "./Targets.js"

const option = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? undefined : process.argv[i + 1]
}
const MAIN = process.env.PERF_IMPRINT_MAIN ?? path.join(ROOT, "dist", "src", "main.js")
const BASELINE = option("baseline") === undefined ? undefined : path.resolve(option("baseline") as string)
const REPS = Number(option("reps") ?? 3)
const MESSAGES = Number(option("messages") ?? 400)
const SETTLE_MS = Number(option("settle-ms") ?? 8000)
const MODES = (option("modes") ?? "demo,serve").split(",") as Array<Mode>
for (const m of MODES) if (m !== "demo" && m !== "serve") throw new Error(`unknown mode ${m}; demo or serve`)

type Mode = "demo" | "serve"
/** after the load, before reading: in-flight writes (trace, outbox) finish */
const AFTER_LOAD_MS = 2000
const SESSIONS = 10
const LOAD_MAX_MS = 120_000
const PROBE_TIMEOUT_MS = 10_000
const CLI_TIMEOUT_MS = 60_000
const PROBE = pathToFileURL(path.join(ROOT, "dist", "perf", "FootprintProbe.js")).href
/** the demo tenant's first user, and the starter tenant's (src/demo/DemoTenant.ts, src/StarterFiles.ts) */
const SENDERS: Record<Mode, string> = { demo: "alice@demo.example", serve: "alice@acme.example" }
/** every stamped message carries it (src/pipeline/headers/LoopStamp.ts) */
const LOOP_STAMP = "X-Imprint-Loop:"

type Reading = Record<string, unknown> & { readonly rssMb: number; readonly heapUsedMb: number; readonly arrayBuffersMb: number }
interface Probe {
  readonly before: Reading
  readonly after: Reading
}
interface Sample {
  readonly idle: Probe
  readonly load: { readonly ok: number; readonly stamped: number; readonly errors: unknown; readonly peakRssMb: number; readonly cpuMsPerMessage: number }
  readonly afterLoad: Probe
}

const cli = (main: string, args: ReadonlyArray<string>, cwd: string): Promise<void> =>
  new Promise((resolve, reject) =>
    execFile(process.execPath, [main, ...args], { cwd, timeout: CLI_TIMEOUT_MS }, (err, _out, stderr) =>
      err ? reject(new Error(`${args.join(" ")}: ${err.message} ${stderr.slice(-500)}`)) : resolve()
    )
  )

/** one relay of one build in one mode: its folder, and how to start it */
interface Entry {
  readonly name: string
  readonly main: string
  readonly mode: Mode
  readonly dir: string
  readonly start: () => Promise<Server>
  readonly stamped: (sink: Server) => Promise<number>
}

const flagsFor = (main: string) => (main === MAIN ? (process.env.PERF_IMPRINT_NODE_FLAGS ?? "").split(" ").filter((f) => f !== "") : [])

const prepare = async (name: string, main: string, mode: Mode, sink: Server): Promise<Entry> => {
  const dir = mkdtempSync(path.join(tmpdir(), `imprint-footprint-${mode}-`))
  const probeOut = path.join(dir, "probe.json")
  const node = [...flagsFor(main), "--expose-gc", "--import", PROBE, main]
  if (mode === "demo") {
    const outbox = path.join(dir, "outbox")
    const env = {
      FOOTPRINT_PROBE_OUT: probeOut,
      IMPRINT_DATA_DIR: path.join(dir, "data"),
      IMPRINT_CAPTURE_DIR: outbox,
      IMPRINT_SMTP_PORT: "0",
      IMPRINT_ADMIN_PORT: "0",
      IMPRINT_IMAGES_PORT: "0"
    }
    const countStamped = () =>
      existsSync(outbox) ? readdirSync(outbox).filter((f) => readFileSync(path.join(outbox, f), "latin1").includes(LOOP_STAMP)).length : 0
    let seen = 0
    return {
      name,
      main,
      mode,
      dir,
      start: () => startServer({ name, args: [...node, "demo"], cwd: dir, env }),
      stamped: async () => {
        const total = countStamped()
        const n = total - seen
        seen = total
        return n
      }
    }
  }
  await cli(main, ["init", dir], dir)
  const configFile = path.join(dir, "imprint.json")
  const config = JSON.parse(readFileSync(configFile, "utf8"))
  config.dataDir = path.join(dir, "data")
  config.smtp.port = await freePort()
  config.admin.port = await freePort()
  config.downstream = { host: "127.0.0.1", port: sink.port, tls: "none" }
  writeFileSync(configFile, JSON.stringify(config, null, 2))
  // the starter tenant as it is, but for the sink's marker in its signature, so the sink counts stamped messages
  const tenantFile = path.join(dir, "acme.json")
  const tenant = JSON.parse(readFileSync(tenantFile, "utf8"))
  tenant.templates[0].html += `<span style="color:#ffffff">${STAMP_MARKER}</span>`
  writeFileSync(tenantFile, JSON.stringify(tenant, null, 2))
  await cli(main, ["tenant", "import", tenantFile, "--config", configFile], dir)
  return {
    name,
    main,
    mode,
    dir,
    start: () => startServer({ name, args: [...node, "serve", "--config", configFile], cwd: dir, env: { FOOTPRINT_PROBE_OUT: probeOut } }),
    stamped: async (s) => (await sinkStats(s)).marked
  }
}

const probe = async (server: Server, file: string): Promise<Probe> => {
  rmSync(file, { force: true })
  process.kill(server.pid, "SIGUSR2")
  const deadline = Date.now() + PROBE_TIMEOUT_MS
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`${server.name}: no answer from the footprint probe (is dist/perf/FootprintProbe.js built?)`)
    await sleep(50)
  }
  return JSON.parse(readFileSync(file, "utf8")) as Probe
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const measure = async (e: Entry, sink: Server, messages: number): Promise<Sample> => {
  const server = await e.start()
  try {
    await sleep(SETTLE_MS)
    const probeFile = path.join(e.dir, "probe.json")
    const idle = await probe(server, probeFile)
    if (e.mode === "serve") await resetSink(sink)
    await e.stamped(sink)
    const stop = server.measure()
    const load = await runLoad({
      port: server.port,
      kind: "10k",
      concurrency: SESSIONS,
      pattern: "reused",
      messages,
      maxMs: LOAD_MAX_MS,
      runId: `${e.name}-${Date.now()}`,
      sessionSource: () => ({ localAddress: "127.0.0.1", sender: SENDERS[e.mode] })
    })
    const { peakRssKb, cpuS } = stop()
    await sleep(AFTER_LOAD_MS)
    const afterLoad = await probe(server, probeFile)
    // VmHWM was reset when the load started: the probe's reading covers the load and the wait after it
    const peakRssMb = Math.max(Math.round(peakRssKb / 100) / 10, afterLoad.before.hwmMb as number)
    return {
      idle,
      load: {
        ok: load.ok,
        stamped: await e.stamped(sink),
        errors: { ...load.errors, samples: load.errorSamples },
        peakRssMb,
        cpuMsPerMessage: (cpuS * 1000) / Math.max(1, load.ok)
      },
      afterLoad
    }
  } finally {
    await server.stop()
  }
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** the figures of the table: name → how to read it from a sample */
const FIGURES: ReadonlyArray<readonly [string, (s: Sample) => number]> = [
  ["idle RSS MB", (s) => s.idle.before.rssMb],
  ["idle heapUsed MB after GC", (s) => s.idle.after.heapUsedMb],
  ["idle arrayBuffers MB after GC", (s) => s.idle.after.arrayBuffersMb],
  ["peak RSS MB, load and 2 s after", (s) => s.load.peakRssMb],
  ["RSS MB after the load", (s) => s.afterLoad.before.rssMb],
  ["heapUsed MB after the load, after GC", (s) => s.afterLoad.after.heapUsedMb],
  ["arrayBuffers MB after the load, after GC", (s) => s.afterLoad.after.arrayBuffersMb],
  ["relay CPU ms per message", (s) => s.load.cpuMsPerMessage]
]

const main = async () => {
  for (const m of [MAIN, ...(BASELINE === undefined ? [] : [BASELINE])]) if (!existsSync(m)) throw new Error(`${m} is missing (npm run build)`)
  const sink = await startServer({ name: "sink", args: [path.join(ROOT, "dist", "perf", "Sink.js")], ipc: true, cwd: ROOT, env: { PERF_EARLY_TALKER_MS: "0" } })
  const entries: Array<Entry> = []
  const first = new Map<string, Probe>()
  const samples = new Map<string, Array<Sample>>()
  try {
    for (const mode of MODES) {
      entries.push(await prepare(`${mode}`, MAIN, mode, sink))
      if (BASELINE !== undefined) entries.push(await prepare(`${mode}@baseline`, BASELINE, mode, sink))
    }
    for (const e of entries) {
      // the first start imports the demo tenant and generates the certificate: its own row, no load
      const server = await e.start()
      try {
        await sleep(SETTLE_MS)
        first.set(e.name, await probe(server, path.join(e.dir, "probe.json")))
      } finally {
        await server.stop()
      }
      samples.set(e.name, [])
    }
    for (let r = 0; r < REPS; r++) {
      for (const e of r % 2 === 0 ? entries : [...entries].reverse()) {
        const s = await measure(e, sink, MESSAGES)
        samples.get(e.name)!.push(s)
        console.log(
          `rep ${r + 1} ${e.name}: idle ${s.idle.before.rssMb} MB RSS, heap ${s.idle.after.heapUsedMb} MB; ${s.load.ok} sent, ${s.load.stamped} stamped, peak ${s.load.peakRssMb} MB; after ${s.afterLoad.before.rssMb} MB RSS, heap ${s.afterLoad.after.heapUsedMb} MB`
        )
      }
    }
  } finally {
    await sink.stop()
    killAllChildren()
    for (const e of entries) rmSync(e.dir, { recursive: true, force: true })
  }
  const names = entries.map((e) => e.name)
  const medians = Object.fromEntries(names.map((n) => [n, Object.fromEntries(FIGURES.map(([f, read]) => [f, median(samples.get(n)!.map(read))]))]))
  const ratios = Object.fromEntries(
    names
      .filter((n) => n.endsWith("@baseline"))
      .map((b) => {
        const mine = samples.get(b.replace("@baseline", ""))!
        const theirs = samples.get(b)!
        return [b.replace("@baseline", ""), Object.fromEntries(FIGURES.map(([f, read]) => [f, median(mine.map((s, i) => read(s) / read(theirs[i])))]))]
      })
  )
  console.log(`\n| figure (median of ${REPS}) | ${names.join(" | ")} |\n|---|${names.map(() => "--:").join("|")}|`)
  for (const [f] of FIGURES) console.log(`| ${f} | ${names.map((n) => (medians[n][f] as number).toFixed(1)).join(" | ")} |`)
  console.log(`| first start: idle RSS MB | ${names.map((n) => first.get(n)!.before.rssMb.toFixed(1)).join(" | ")} |`)
  console.log(`| first start: heapUsed MB after GC | ${names.map((n) => first.get(n)!.after.heapUsedMb.toFixed(1)).join(" | ")} |`)
  for (const [mode, r] of Object.entries(ratios))
    console.log(`${mode}, this build / baseline (median of per-repetition ratios): ${FIGURES.map(([f]) => `${f} ${(r[f] as number).toFixed(2)}`).join("; ")}`)
  const dir = resultsDir(ROOT)
  mkdirSync(dir, { recursive: true })
  const file = path.join(dir, `footprint-${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}Z.json`)
  const settings = { reps: REPS, messages: MESSAGES, settleMs: SETTLE_MS, sessions: SESSIONS, main: MAIN, baseline: BASELINE, nodeFlags: flagsFor(MAIN) }
  writeFileSync(
    file,
    JSON.stringify({ settings, node: process.version, medians, ratios, first: Object.fromEntries(first), samples: Object.fromEntries(samples) }, null, 2)
  )
  console.log(`written ${path.relative(ROOT, file)}`)
}

main().catch((e) => {
  console.error(e)
  killAllChildren()
  process.exitCode = 1
})
