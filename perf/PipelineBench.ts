/**
 * `npm run build:perf && node dist/perf/PipelineBench.js [--runs N] [--messages N] [--baseline DIR] [--only REGEX]`
 *
 * CPU per message of the DATA pipeline alone (src/pipeline/Transaction.ts),
 * without sockets: the perf 10 KB HTML reply through LineGuard → HeaderPeek →
 * Fanout → (stamped: StampedCopy, i.e. MimeScanner → root edit → Stamper →
 * join; unstamped: RawHeaderEdit) into a link that just drains the bytes.
 * Baseline in the same run: the same bytes through a bare PassThrough. It
 * tells how much of the relay's cost per message is the pipeline and how much
 * is the SMTP sessions around it.
 *
 * Each build runs in a child process of its own (its own heap, JIT and GC),
 * and the parent has them take turns in batches: for every case, `--runs`
 * batches of `--messages` messages per build, the builds' order swapped from
 * one pair to the next; a batch is CPU µs per message of that child
 * (process.cpuUsage: all its threads, so GC and compiler threads count).
 * Cases take turns too (case 1 batch, case 2 batch, …), so a quiet or busy
 * moment of the shared machine falls on all of them. The earlier form ran
 * both builds' cases in one process in a fixed order, and an A/A run (the
 * same build as its own baseline) read up to 1.4–1.7× on the unstamped case:
 * the two builds shared one heap and its GCs, and what one case left behind
 * was collected in the next one's time.
 *
 * `--baseline DIR`: another checkout's build (DIR/dist/src, built with
 * `npm run build:perf`; node_modules symlinked to this one's) runs the same
 * cases in its own child, and the table ends with this build / baseline:
 * the median of the per-pair ratios. `--only REGEX`: the cases to run (names
 * as in the table; the PassThrough always runs). Writes
 * perf/results/pipeline-<timestamp>.json. A benchmark, not a test: nothing is
 * asserted.
 */
import { resultsDir } from "./ResultsDir.js"
import { Effect } from "effect"
import { fork, type ChildProcess } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { PassThrough, Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { fileURLToPath, pathToFileURL } from "node:url"
import type * as DemoImagesModule from "../src/demo/DemoImages.js"
import type * as SignatureModule from "../src/domain/Signature.js"
import type { DownstreamLink } from "../src/pipeline/Relay.js"
import type * as TransactionModule from "../src/pipeline/Transaction.js"
import { messageSpec } from "./Messages.js"

const argument = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : undefined
}
const MESSAGES = Number(argument("messages") ?? 500)
const RUNS = Number(argument("runs") ?? 25)
/** messages per case a child runs before its first batch (the first few hundred run 2–3× slower: JIT) */
const WARMUP = Number(argument("warmup") ?? 2_000)
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")
const RECIPIENTS = ["bob@remote.example"]
const BASELINE = argument("baseline") === undefined ? undefined : path.resolve(argument("baseline")!)
const ONLY = argument("only") === undefined ? undefined : new RegExp(argument("only")!)
/** In a child: the build (checkout root) whose pipeline this process measures. */
const CHILD_ROOT = argument("child")

const CASE_NAMES = ["PassThrough (baseline)", "Transaction, unstamped", "Transaction, stamped", "Transaction, stamped + 5 embedded images"] as const
const caseNames = CASE_NAMES.filter((name) => name.startsWith("PassThrough") || ONLY === undefined || ONLY.test(name))

/** What a child answers for one batch. */
interface BatchResult {
  readonly cpuMicrosPerMessage: number
  readonly outputBytes: number
  readonly rss: number
}
type ToChild = { readonly case: string; readonly messages: number } | { readonly exit: true }
type FromChild = { readonly ready: true } | ({ readonly case: string } & BatchResult)

const spec = messageSpec("10k")
const chunks = (seq: number): Array<Buffer> => [spec.header(String(seq).padStart(9, "0") + "-000000"), ...spec.body()]

/** A child: the cases of the build at `root`, run a batch at a time as the parent asks. */
const runChild = async (root: string): Promise<void> => {
  const from = <A>(file: string) => import(pathToFileURL(path.join(root, "dist", "src", file)).href) as Promise<A>
  const { relayTransaction } = await from<typeof TransactionModule>("pipeline/Transaction.js")
  const { ElementImage, SignatureElement } = await from<typeof SignatureModule>("domain/Signature.js")
  const { demoImages } = await from<typeof DemoImagesModule>("demo/DemoImages.js")
  type Decision = TransactionModule.Decision

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
  const oneMessage = (seq: number, decision: Decision) =>
    relayTransaction({
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
        lastOutputBytes = 0
        for await (const chunk of source) lastOutputBytes += (chunk as Buffer).length
      })
    )
  const cases: Record<(typeof CASE_NAMES)[number], (seq: number) => Effect.Effect<unknown, unknown>> = {
    "PassThrough (baseline)": passThrough,
    "Transaction, unstamped": (s) => oneMessage(s, unstamped),
    "Transaction, stamped": (s) => oneMessage(s, stamped),
    "Transaction, stamped + 5 embedded images": (s) => oneMessage(s, embedded)
  }

  let seq = 0
  const batch = (name: string, n: number) =>
    Effect.gen(function* () {
      const one = cases[name as (typeof CASE_NAMES)[number]]
      let peak = process.memoryUsage.rss()
      const sampler = setInterval(() => void (peak = Math.max(peak, process.memoryUsage.rss())), 5)
      const before = process.cpuUsage()
      for (let i = 0; i < n; i++) yield* one(seq++)
      const used = process.cpuUsage(before)
      clearInterval(sampler)
      return { cpuMicrosPerMessage: (used.user + used.system) / n, outputBytes: lastOutputBytes, rss: peak } satisfies BatchResult
    })
  for (const name of caseNames) await Effect.runPromise(batch(name, WARMUP).pipe(Effect.orDie))
  process.on("message", (m: ToChild) => {
    if ("exit" in m) return process.disconnect()
    void Effect.runPromise(batch(m.case, m.messages).pipe(Effect.orDie)).then((r) => process.send!({ case: m.case, ...r } satisfies FromChild))
  })
  process.send!({ ready: true } satisfies FromChild)
}

/** A child process measuring the build at `root`, and a way to ask it for one batch. */
const startChild = (root: string) =>
  new Promise<{ readonly batch: (name: string) => Promise<BatchResult>; readonly stop: () => void; readonly process: ChildProcess }>((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ["--child", root, ...(ONLY === undefined ? [] : ["--only", ONLY.source])], { stdio: "inherit" })
    let waiting: ((r: BatchResult) => void) | undefined
    child.once("error", reject)
    child.once("exit", (code) => (code === 0 ? undefined : reject(new Error(`the child for ${root} exited with ${code}`))))
    child.on("message", (m: FromChild) => {
      if ("ready" in m)
        resolve({
          process: child,
          stop: () => child.send({ exit: true } satisfies ToChild),
          batch: (name) =>
            new Promise((answer) => {
              waiting = answer
              child.send({ case: name, messages: MESSAGES } satisfies ToChild)
            })
        })
      else waiting?.(m)
    })
  })

const quantile = (xs: ReadonlyArray<number>, q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))]
const median = (xs: ReadonlyArray<number>) => quantile(xs, 0.5)

const runParent = async (): Promise<void> => {
  const mine = await startChild(ROOT)
  const theirs = BASELINE === undefined ? undefined : await startChild(BASELINE)
  const samples = new Map<string, Array<number>>()
  const baselineSamples = new Map<string, Array<number>>()
  const outputBytes = new Map<string, number>()
  const peakRss = new Map<string, number>()
  const record = (into: Map<string, Array<number>>, name: string, r: BatchResult) => {
    into.set(name, [...(into.get(name) ?? []), r.cpuMicrosPerMessage])
    outputBytes.set(name, r.outputBytes)
    peakRss.set(name, Math.max(peakRss.get(name) ?? 0, r.rss))
  }
  for (let r = 0; r < RUNS; r++) {
    for (const name of caseNames) {
      // swap which build goes first from one pair to the next
      if (theirs === undefined || r % 2 === 0) {
        record(samples, name, await mine.batch(name))
        if (theirs !== undefined) record(baselineSamples, name, await theirs.batch(name))
      } else {
        record(baselineSamples, name, await theirs.batch(name))
        record(samples, name, await mine.batch(name))
      }
    }
  }
  mine.stop()
  theirs?.stop()

  const base = median(samples.get(caseNames[0])!)
  const rows = caseNames.map((name) => ({
    case: name,
    cpuMicrosPerMessage: median(samples.get(name)!),
    ratio: median(samples.get(name)!) / base,
    messagesPerCpuSecond: 1e6 / median(samples.get(name)!),
    outputBytes: outputBytes.get(name),
    peakRssMB: (peakRss.get(name) ?? 0) / 2 ** 20,
    baselineCpuMicrosPerMessage: baselineSamples.has(name) ? median(baselineSamples.get(name)!) : undefined
  }))
  console.log(
    `| case | CPU µs per 10 KB message (median of ${RUNS} batches of ${MESSAGES}) | × PassThrough | msgs per CPU second | bytes out | peak RSS MB |${BASELINE === undefined ? "" : " baseline build, CPU µs |"}\n|---|--:|--:|--:|--:|--:|${BASELINE === undefined ? "" : "--:|"}`
  )
  for (const r of rows) {
    console.log(
      `| ${r.case} | ${r.cpuMicrosPerMessage.toFixed(0)} | ${r.ratio.toFixed(1)} | ${r.messagesPerCpuSecond.toFixed(0)} | ${r.outputBytes ?? "–"} | ${r.peakRssMB.toFixed(0)} |${r.baselineCpuMicrosPerMessage === undefined ? "" : ` ${r.baselineCpuMicrosPerMessage.toFixed(0)} |`}`
    )
  }
  // this build against the baseline build, pair by pair (a pair shares the machine's moment)
  const pairRatios = caseNames.flatMap((name) => {
    const a = samples.get(name)
    const b = baselineSamples.get(name)
    return a === undefined || b === undefined ? [] : [{ name, ratios: a.map((x, i) => x / b[i]) }]
  })
  const ratios = Object.fromEntries(pairRatios.map(({ name, ratios }) => [name, median(ratios)]))
  if (BASELINE !== undefined) {
    console.log(`\nthis build / baseline (${BASELINE}), CPU per message, median of ${RUNS} batch-pair ratios [quartiles]:`)
    for (const { name, ratios } of pairRatios)
      console.log(`  ${name}: ${median(ratios).toFixed(3)} [${quantile(ratios, 0.25).toFixed(2)}–${quantile(ratios, 0.75).toFixed(2)}]`)
  }
  const dir = resultsDir(ROOT)
  mkdirSync(dir, { recursive: true })
  const file = path.join(dir, `pipeline-${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}Z.json`)
  writeFileSync(
    file,
    JSON.stringify(
      {
        messages: MESSAGES,
        runs: RUNS,
        baseline: BASELINE,
        ratios,
        rows,
        samples: Object.fromEntries(samples),
        baselineSamples: Object.fromEntries(baselineSamples)
      },
      null,
      2
    )
  )
  console.log(`written ${path.relative(ROOT, file)}`)
}

;(CHILD_ROOT === undefined ? runParent() : runChild(CHILD_ROOT)).catch((e) => {
  console.error(e)
  process.exitCode = 1
})
