/**
 * `node dist/perf/peers.js [--quick] [--reps N]` (run as root after
 * perf/install-peers.sh): how Imprint (plain and stamping) and its floors compare with what operators run
 * today — Postfix as a plain relay (queue on disk) and Postfix + altermime
 * disclaimer filter — driven by the same load generator to the same sink,
 * alternating within each repetition. For the queueing peers, msgs/s is
 * end to end (until the sink has every message), comparable with the
 * synchronous relays whose 250 already means delivered. A peer whose
 * package is missing is skipped with a message.
 *
 * After the full table it prints the comparison issue 16 asks for (`ratioTable`):
 * per scenario (10 KB and 1 MB, new connection per message), each relay's msgs/s,
 * CPU ms per message (its whole process tree) and peak RSS, and Imprint stamping
 * as a ratio of the Node library floor (smtp-server → nodemailer) and of Postfix's
 * plain relay.
 */
import { resultsDir } from "./ResultsDir.js"
import { mkdirSync, writeFileSync } from "node:fs"
import { freePort } from "./FreePort.js"
import * as os from "node:os"
import * as path from "node:path"
import { killAllChildren, startServer, type Server } from "./Child.js"
import { quantile, runLoad, type ConnectionPattern } from "./LoadGenerator.js"
import type { MessageKind } from "./Messages.js"
import { postfixUnavailable, startPostfix, type PostfixInstance, type PostfixVariant } from "./PostfixPeer.js"
import { markdown, median, summarize, type RunRecord, type Summary } from "./Report.js"
import { resetSink, waitForSink } from "./SinkClient.js"
import { ROOT, Targets } from "./Targets.js"

const args = process.argv.slice(2)
const quick = args.includes("--quick")
const repsAt = args.indexOf("--reps")
const reps = repsAt === -1 ? 3 : Number(args[repsAt + 1])
/** a queueing peer must have delivered everything within this time after its last 250 */
const DRAIN_TIMEOUT_MS = 120_000
const WARMUP_MESSAGES = 40

interface Scenario {
  readonly name: string
  readonly kind: MessageKind
  readonly concurrency: number
  readonly pattern: ConnectionPattern
  readonly messages: number
  readonly maxMs: number
}

// the conditions of issue 5's reference table: 20 sessions, new connection per message
const scenarios: ReadonlyArray<Scenario> = [
  { name: "10k c20 new", kind: "10k", concurrency: 20, pattern: "new", messages: quick ? 300 : 1500, maxMs: quick ? 4000 : 15_000 },
  { name: "1m c20 new", kind: "1m", concurrency: 20, pattern: "new", messages: quick ? 40 : 200, maxMs: quick ? 4000 : 15_000 }
]

interface Peer {
  readonly id: string
  readonly unavailable: () => string | undefined
  /** port to send to, and a measure() like Child's */
  readonly open: (sink: Server) => Promise<{ port: number; measure: () => () => { peakRssKb: number; cpuS: number }; close: () => Promise<void> }>
  /** true when a 250 means queued, not delivered */
  readonly queueing: boolean
}

/** Imprint's own targets run in the same repetitions, so "Imprint vs what you run today" is a ratio within one run */
const relay = (id: "direct" | "passthrough" | "imprint-plain" | "imprint-stamp"): Peer => ({
  id,
  queueing: false,
  unavailable: () => undefined,
  open: async (sink) => {
    const r = await Targets[id].start(sink)
    return { port: r.port, measure: r.measured.measure, close: r.stop }
  }
})

const postfixPeers = new Map<PostfixVariant, PostfixInstance>()
const postfixPeer = (variant: PostfixVariant): Peer => ({
  id: variant === "plain" ? "postfix" : "postfix+altermime",
  queueing: true,
  unavailable: () => postfixUnavailable(variant),
  // one instance for the whole run: Postfix is a long-running daemon, and starting it takes seconds
  open: async (sink) => {
    let pf = postfixPeers.get(variant)
    if (pf === undefined) {
      pf = startPostfix({ port: await freePort(), reinjectPort: await freePort(), sinkPort: sink.port, variant })
      postfixPeers.set(variant, pf)
    }
    return { port: pf.port, measure: pf.measure, close: async () => undefined }
  }
})

/** CPU ms per message of one run: the relay's process tree over the messages it took (median over reps) */
const cpuMsPerMessage = (runs: ReadonlyArray<RunRecord>, scenario: string, target: string): number => {
  const xs = runs.filter((r) => r.scenario === scenario && r.target === target && r.ok > 0).map((r) => (r.cpuS * 1000) / r.ok)
  return median(xs)
}

const RATIO_ROWS: ReadonlyArray<readonly [string, string]> = [
  ["direct", "load straight into the sink (the machine's limit)"],
  ["passthrough", "Node library floor: smtp-server → nodemailer"],
  ["postfix", "Postfix plain relay"],
  ["imprint-plain", "Imprint, no rule"],
  ["imprint-stamp", "**Imprint, stamping every message**"],
  ["postfix+altermime", "Postfix + altermime disclaimer"]
]

/** issue 16's comparison: msgs/s, CPU per message and peak RSS per relay, and Imprint stamping's ratios */
export const ratioTable = (runs: ReadonlyArray<RunRecord>, summaries: ReadonlyArray<Summary>): string => {
  const out: Array<string> = []
  const fmt = (x: number, digits: number) =>
    Number.isFinite(x) ? x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }) : "–"
  for (const s of scenarios) {
    const of = (target: string) => summaries.find((x) => x.scenario === s.name && x.target === target && x.group === "matrix")
    out.push(`\n${s.name}: ${s.concurrency} sessions, ${s.pattern === "new" ? "a new connection per message" : "reused connections"}, medians\n`)
    out.push("| relay | msgs/s | CPU ms/msg | peak RSS MB |", "|---|--:|--:|--:|")
    for (const [target, label] of RATIO_ROWS) {
      const x = of(target)
      if (x === undefined) continue
      out.push(`| ${label} | ${fmt(x.msgsPerS, 0)} | ${fmt(cpuMsPerMessage(runs, s.name, target), 2)} | ${fmt(x.peakRssMb, 0)} |`)
    }
    const stamp = of("imprint-stamp")
    const ratio = (target: string, pick: (x: Summary) => number) => {
      const other = of(target)
      return stamp === undefined || other === undefined ? NaN : pick(stamp) / pick(other)
    }
    const cpuRatio = (target: string) => cpuMsPerMessage(runs, s.name, "imprint-stamp") / cpuMsPerMessage(runs, s.name, target)
    out.push(
      "",
      "| Imprint stamping vs | msgs/s | CPU per message | peak RSS |",
      "|---|--:|--:|--:|",
      `| the library floor | ${fmt(
        ratio("passthrough", (x) => x.msgsPerS),
        2
      )}× | ${fmt(cpuRatio("passthrough"), 2)}× | ${fmt(
        ratio("passthrough", (x) => x.peakRssMb),
        2
      )}× |`,
      `| Postfix plain relay | ${fmt(
        ratio("postfix", (x) => x.msgsPerS),
        2
      )}× | ${fmt(cpuRatio("postfix"), 2)}× | ${fmt(
        ratio("postfix", (x) => x.peakRssMb),
        2
      )}× |`,
      `| Postfix + altermime | ${fmt(
        ratio("postfix+altermime", (x) => x.msgsPerS),
        2
      )}× | ${fmt(cpuRatio("postfix+altermime"), 2)}× | ${fmt(
        ratio("postfix+altermime", (x) => x.peakRssMb),
        2
      )}× |`
    )
  }
  return out.join("\n")
}

const runOne = async (sink: Server, peer: Peer, s: Scenario, rep: number, n: number): Promise<RunRecord> => {
  const target = await peer.open(sink)
  try {
    await resetSink(sink) // the drain wait below counts what arrives from here on
    await runLoad({ port: target.port, kind: "10k", concurrency: 10, pattern: "reused", messages: WARMUP_MESSAGES, maxMs: 10_000, runId: `pw${n}` })
    if (peer.queueing) await waitForSink(sink, WARMUP_MESSAGES, DRAIN_TIMEOUT_MS)
    await resetSink(sink)
    const stop = target.measure()
    const load = await runLoad({
      port: target.port,
      kind: s.kind,
      concurrency: s.concurrency,
      pattern: s.pattern,
      messages: s.messages,
      maxMs: s.maxMs,
      runId: `p${n}`
    })
    const t0 = performance.now()
    const stats = await waitForSink(sink, load.ok, peer.queueing ? DRAIN_TIMEOUT_MS : 0)
    const drainS = (performance.now() - t0) / 1000
    const m = stop()
    const atSink = new Set(stats.seqs)
    const acked = new Set(load.acked)
    const missing = load.acked.filter((q) => !atSink.has(q)).length
    const duplicates = Object.keys(stats.duplicates).length
    const unackedArrivals = stats.seqs.filter((q) => !acked.has(q)).length
    const secs = load.elapsedMs / 1000 + (peer.queueing ? drainS : 0)
    return {
      scenario: s.name,
      group: "matrix",
      target: peer.id,
      rep,
      attempted: load.attempted,
      ok: load.ok,
      errors: load.errors,
      errorSamples: load.errorSamples,
      elapsedS: secs,
      msgsPerS: load.ok / secs,
      mbPerS: load.bytesOk / 1e6 / secs,
      p50Ms: quantile(load.latenciesMs, 0.5),
      p90Ms: quantile(load.latenciesMs, 0.9),
      p99Ms: quantile(load.latenciesMs, 0.99),
      peakRssMb: m.peakRssKb / 1024,
      cpuS: m.cpuS,
      loadgenCpuS: NaN,
      arrivedOnce: missing === 0 && duplicates === 0 && unackedArrivals === 0 && stats.withoutSeq === 0,
      missing,
      duplicates,
      unackedArrivals,
      stamped: stats.marked,
      drainS: peer.queueing ? drainS : 0
    }
  } finally {
    await target.close()
  }
}

const main = async (): Promise<void> => {
  const all = [relay("direct"), relay("passthrough"), relay("imprint-plain"), relay("imprint-stamp"), postfixPeer("plain"), postfixPeer("altermime")]
  const skipped: Array<string> = []
  const peers = all.filter((p) => {
    const why = p.unavailable()
    if (why !== undefined) {
      skipped.push(`${p.id}: ${why}`)
      console.error(`skipping ${p.id}: ${why}`)
    }
    return why === undefined
  })
  const started = new Date()
  const sink = await startServer({ name: "sink", args: [path.join(ROOT, "dist", "perf", "Sink.js")], ipc: true, cwd: ROOT, env: { PERF_EARLY_TALKER_MS: "0" } })
  const runs: Array<RunRecord> = []
  let n = 0
  try {
    for (const s of scenarios) {
      for (let rep = 1; rep <= reps; rep++) {
        for (const p of peers) {
          const r = await runOne(sink, p, s, rep, n++)
          runs.push(r)
          console.error(
            `${s.name.padEnd(12)} ${p.id.padEnd(18)} rep ${rep}: ${r.msgsPerS.toFixed(0)} msgs/s end to end, p50 ${r.p50Ms.toFixed(2)} ms, ` +
              `peak ${r.peakRssMb.toFixed(0)} MB, cpu ${r.cpuS.toFixed(2)} s, drain ${r.drainS?.toFixed(2)} s${r.arrivedOnce ? "" : " NOT ARRIVED ONCE"}`
          )
        }
      }
    }
  } finally {
    for (const pf of postfixPeers.values()) pf.stop()
    postfixPeers.clear()
    for (const id of ["imprint-plain", "imprint-stamp"] as const) await Targets[id].dispose?.()
    await sink.stop()
  }
  const cpus = os.cpus()
  const summaries = summarize(runs)
  const md =
    markdown({
      title: `Imprint perf peers ${started.toISOString()}`,
      context: [
        `${started.toISOString()}, ${quick ? "quick" : "full"}, ${reps} repetitions alternating, medians; machine: ${cpus.length} × ${cpus[0]?.model ?? "?"}, Node ${process.version}`,
        "msgs/s and MB/s are end to end: for Postfix until the sink had every message (250 there means queued); latency is to the 250",
        "peak RSS and CPU: Postfix = master + all its children summed (shared pages counted per process); others as in run.js",
        "stamped: share of messages carrying the perf marker (altermime's disclaimer carries it too)"
      ],
      summaries,
      skipped
    }) +
    "\n\n## Imprint vs the floor vs Postfix (issue 16)\n" +
    ratioTable(runs, summaries) +
    "\n"
  const dir = resultsDir(ROOT)
  mkdirSync(dir, { recursive: true })
  const stamp = `peers-${started
    .toISOString()
    .replace(/:/g, "-")
    .replace(/\.\d+Z$/, "Z")}`
  writeFileSync(path.join(dir, `${stamp}.json`), JSON.stringify({ started, quick, reps, skipped, runs }, null, 2))
  writeFileSync(path.join(dir, `${stamp}.md`), md)
  console.log(md)
}

process.on("exit", () => {
  killAllChildren()
  for (const pf of postfixPeers.values()) {
    try {
      pf.stop()
    } catch {
      /* already stopped */
    }
  }
})
main().catch((e) => {
  console.error(e instanceof Error ? e.stack : e)
  process.exit(1)
})
