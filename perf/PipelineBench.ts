/**
 * `npm run build:perf && node dist/perf/PipelineBench.js [--messages N] [--runs N]`
 *
 * CPU per message of the DATA pipeline alone (src/pipeline/Transaction.ts),
 * in one process, without sockets: the perf 10 KB HTML reply through
 * LineGuard → HeaderPeek → Fanout → (stamped: StampedCopy, i.e. MimeScanner → root edit →
 * Stamper → join; unstamped: RawHeaderEdit) into a link that just drains
 * the bytes. Baseline in the same run: the same bytes through a bare
 * PassThrough. Medians of process CPU µs per message over the runs; writes
 * perf/results/pipeline-<timestamp>.json. It tells how much of the relay's
 * cost per message is the pipeline and how much is the SMTP sessions around it.
 * `--baseline DIR`: another checkout's build (DIR/dist/src/pipeline/Transaction.js,
 * e.g. the commit before a change, built with `npm run build:perf`) runs
 * the unstamped and stamped cases in the same process and turns, and the table
 * gives this build / baseline: the way to measure a change on a shared machine.
 * `--only REGEX`: the cases to run (names as in the table; the PassThrough always runs).
 * A benchmark, not a test: nothing is asserted.
 */
import { resultsDir } from "./ResultsDir.js"
import { Effect } from "effect"
import { mkdirSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { PassThrough, Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { fileURLToPath } from "node:url"
import { demoImages } from "../src/demo/DemoImages.js"
import { ElementImage, SignatureElement } from "../src/domain/Signature.js"
import type { DownstreamLink } from "../src/pipeline/Relay.js"
import { relayTransaction, type Decision } from "../src/pipeline/Transaction.js"
import { messageSpec } from "./Messages.js"

const flag = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}
const MESSAGES = flag("messages", 2_000)
const RUNS = flag("runs", 5)
const WARMUP = 300
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")
const RECIPIENTS = ["bob@remote.example"]

const spec = messageSpec("10k")
const chunks = (seq: number): Array<Buffer> => [spec.header(String(seq).padStart(9, "0") + "-000000"), ...spec.body()]

const element = new SignatureElement({
  ruleId: "r1",
  templateId: "t1",
  position: "above-reply",
  html: "<table><tr><td><b>Alice Example</b><br>Head of Sales | +44 20 7946 0000</td></tr></table>",
  text: "Alice Example\nHead of Sales | +44 20 7946 0000",
  marker: "Alice Example"
})
const stamped: Decision = { copies: [{ recipients: RECIPIENTS, plan: { elements: [element], skipIfPresent: [] }, ruleIds: ["r1"] }] }

// issue 17: the same element with the demo tenant's five images embedded (multipart/related parts)
const images = demoImages().map(
  (i) =>
    new ElementImage({
      contentId: `img-${i.id}@imprint`,
      contentType: "image/png",
      src: `cid:img-${i.id}@imprint`,
      data: i.bytes
    })
)
const withImages = new SignatureElement({
  ...element,
  html: element.html + images.map((i) => `<img src="${i.src}">`).join(""),
  delivery: "embedded",
  images
})
const embedded: Decision = { copies: [{ recipients: RECIPIENTS, plan: { elements: [withImages], skipIfPresent: [] }, ruleIds: ["r1"] }] }
const unstamped: Decision = { copies: [{ recipients: RECIPIENTS, plan: undefined, ruleIds: [] }], unstamped: "bench" }

/** bytes the last message put on the wire (embedding makes it bigger) */
let lastOutputBytes = 0

/** A link whose DATA drains the copy: what the downstream socket would take. */
const drainLink = {
  send: (output: Readable) =>
    Effect.async<{ code: number; text: string; lines: Array<string> }>((resume) => {
      lastOutputBytes = 0
      output.on("data", (c: Buffer) => void (lastOutputBytes += c.length))
      output.once("end", () => resume(Effect.succeed({ code: 250, text: "ok", lines: ["ok"] })))
    })
} as unknown as DownstreamLink

const policy = {
  tenant: "bench",
  receivedLine: "Received: from bench by bench; Fri, 27 Nov 2026 00:00:00 +0000",
  stampKey: Buffer.alloc(32, 7),
  nowSeconds: Math.floor(Date.now() / 1000),
  stampMaxAgeSeconds: 86_400
}

const BASELINE = (() => {
  const i = process.argv.indexOf("--baseline")
  return i > 0 ? path.resolve(process.argv[i + 1]) : undefined
})()
const ONLY = (() => {
  const i = process.argv.indexOf("--only")
  return i > 0 ? new RegExp(process.argv[i + 1]) : undefined
})()
const baselineRelay: typeof relayTransaction | undefined =
  BASELINE === undefined
    ? undefined
    : ((await import(path.join(BASELINE, "dist", "src", "pipeline", "Transaction.js"))) as { relayTransaction: typeof relayTransaction }).relayTransaction

const oneMessage = (seq: number, decision: Decision, relay: typeof relayTransaction = relayTransaction) =>
  relay({
    upstream: Readable.from(chunks(seq), { objectMode: false }),
    maxBytes: 50_000_000,
    policy,
    recipients: RECIPIENTS,
    decide: () => Effect.succeed(decision),
    links: () => Effect.succeed([drainLink])
  })

const passThrough = (seq: number) =>
  Effect.promise(() =>
    pipeline(Readable.from(chunks(seq), { objectMode: false }), new PassThrough(), async function* (source) {
      for await (const _ of source) void _
    })
  )

/** peak RSS while a case ran (sampled every 5 ms; a benchmark, not flow control) */
const peakRss = new Map<string, number>()

const cpuMicrosPerMessage = (n: number, one: (seq: number) => Effect.Effect<unknown, unknown>, name?: string) =>
  Effect.gen(function* () {
    let peak = process.memoryUsage.rss()
    const sampler = setInterval(() => void (peak = Math.max(peak, process.memoryUsage.rss())), 5)
    const before = process.cpuUsage()
    for (let i = 0; i < n; i++) yield* one(i)
    const used = process.cpuUsage(before)
    clearInterval(sampler)
    if (name !== undefined) peakRss.set(name, Math.max(peakRss.get(name) ?? 0, peak))
    return (used.user + used.system) / n
  })

type Case = readonly [string, (seq: number) => Effect.Effect<unknown, unknown>]
const allCases: ReadonlyArray<Case> = [
  ["PassThrough (baseline)", passThrough],
  ["Transaction, unstamped", (s) => oneMessage(s, unstamped)],
  ["Transaction, stamped", (s) => oneMessage(s, stamped)],
  ["Transaction, stamped + 5 embedded images", (s) => oneMessage(s, embedded)],
  ...(baselineRelay === undefined
    ? []
    : ([
        ["baseline build, unstamped", (s: number) => oneMessage(s, unstamped, baselineRelay)],
        ["baseline build, stamped", (s: number) => oneMessage(s, stamped, baselineRelay)]
      ] satisfies Array<Case>))
]
const cases = allCases.filter(([name]) => name.startsWith("PassThrough") || ONLY === undefined || ONLY.test(name))

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const program = Effect.gen(function* () {
  const outputBytes = new Map<string, number>()
  for (const [name, one] of cases) {
    yield* cpuMicrosPerMessage(WARMUP, one)
    outputBytes.set(name, lastOutputBytes)
  }
  const samples = new Map<string, Array<number>>()
  for (let r = 0; r < RUNS; r++) {
    for (const [name, one] of cases) {
      const us = yield* cpuMicrosPerMessage(MESSAGES, one, name)
      samples.set(name, [...(samples.get(name) ?? []), us])
    }
  }
  const base = median(samples.get(cases[0][0])!)
  const rows = cases.map(([name]) => ({
    case: name,
    cpuMicrosPerMessage: median(samples.get(name)!),
    ratio: median(samples.get(name)!) / base,
    messagesPerCpuSecond: 1e6 / median(samples.get(name)!),
    outputBytes: outputBytes.get(name),
    peakRssMB: (peakRss.get(name) ?? 0) / 2 ** 20
  }))
  console.log(`| case | CPU µs per 10 KB message (median of ${RUNS}) | × baseline | msgs per CPU second | bytes out | peak RSS MB |\n|---|--:|--:|--:|--:|--:|`)
  for (const r of rows) {
    console.log(
      `| ${r.case} | ${r.cpuMicrosPerMessage.toFixed(0)} | ${r.ratio.toFixed(1)} | ${r.messagesPerCpuSecond.toFixed(0)} | ${r.outputBytes ?? "–"} | ${r.peakRssMB.toFixed(0)} |`
    )
  }
  // this build against the baseline build, run by run (the runs share the machine's load)
  const versus = (mine: string, theirs: string) => {
    const a = samples.get(mine)
    const b = samples.get(theirs)
    return a === undefined || b === undefined ? undefined : median(a.map((x, i) => x / b[i]))
  }
  const ratios = {
    unstamped: versus("Transaction, unstamped", "baseline build, unstamped"),
    stamped: versus("Transaction, stamped", "baseline build, stamped")
  }
  if (baselineRelay !== undefined) {
    console.log(
      `\nthis build / baseline (${BASELINE}), CPU per message, median of per-run ratios: unstamped ${ratios.unstamped?.toFixed(2) ?? "–"}, stamped ${ratios.stamped?.toFixed(2) ?? "–"}`
    )
  }
  const dir = resultsDir(ROOT)
  mkdirSync(dir, { recursive: true })
  const file = path.join(dir, `pipeline-${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}Z.json`)
  writeFileSync(file, JSON.stringify({ messages: MESSAGES, runs: RUNS, baseline: BASELINE, ratios, rows, samples: Object.fromEntries(samples) }, null, 2))
  console.log(`written ${path.relative(ROOT, file)}`)
})

Effect.runPromise(program.pipe(Effect.orDie)).catch((e) => {
  console.error(e)
  process.exitCode = 1
})
