/**
 * `npm run perf [-- --quick] [--reps N] [--targets a,b] [--only REGEX] [--no-memory] [--cpu-prof DIR]`
 *
 * Runs every scenario against every available target, alternating targets
 * within each repetition (ABCD ABCD ABCD) so that machine noise hits them
 * alike, and reports medians. Each target gets a fresh server process per
 * run (per target for the --quick matrix), warmed up, then measured. Writes perf/results/<timestamp>.json and
 * .md and prints the table. See perf/README.md.
 */
import { resultsDir } from "./ResultsDir.js"
import { execFileSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { killAllChildren, startServer, type Server } from "./Child.js"
import { quantile, runLoad, type ConnectionPattern } from "./LoadGenerator.js"
import { checkMessage, KindBytes, MessageKinds, messageSpec, type MessageKind } from "./Messages.js"
import { markdown, summarize, type RunRecord } from "./Report.js"
import { earlyTalkerDelayMs, earlyTalkerPatchApplied } from "./SmtpServerPatch.js"
import { ROOT, TargetIds, Targets, type Running, type TargetId } from "./Targets.js"
import { resetSink, sinkStats } from "./SinkClient.js"

interface Scenario {
  readonly name: string
  readonly group: "matrix" | "memory"
  readonly kind: MessageKind
  readonly concurrency: number
  readonly pattern: ConnectionPattern
  readonly messages: number
  readonly maxMs: number
}

/** warm-up before each measured run: JIT, connection pools, tenant actor started */
const WARMUP_MESSAGES = 400
/** messages per run for each kind in the full matrix (each run is also capped in time) */
const FULL_MESSAGES: Partial<Record<MessageKind, number>> = { "10k": 3000, "100k": 1500, "1m": 300 }
const FULL_MAX_MS = 15_000
/** keeps --quick under two minutes even for a slow target (each run still finishes its in-flight messages) */
const QUICK_MAX_MS = 2_000
const MEMORY_MAX_MS = 60_000

const args = process.argv.slice(2)
const flag = (name: string): boolean => args.includes(`--${name}`)
const option = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`)
  return i === -1 ? undefined : args[i + 1]
}

const quick = flag("quick")
if (option("cpu-prof") !== undefined) process.env.PERF_CPU_PROF_DIR = option("cpu-prof")
const reps = Number(option("reps") ?? 3)
const only = option("only") === undefined ? undefined : new RegExp(option("only") as string)

const scenarioName = (kind: MessageKind, c: number, p: ConnectionPattern) => `${kind} c${c} ${p}`

const matrix = (): ReadonlyArray<Scenario> => {
  if (quick) {
    return [
      { kind: "10k" as const, c: 20, p: "new" as const, m: 400 },
      { kind: "10k" as const, c: 20, p: "reused" as const, m: 600 },
      { kind: "1m" as const, c: 20, p: "reused" as const, m: 40 }
    ].map((s) => ({ name: scenarioName(s.kind, s.c, s.p), group: "matrix", kind: s.kind, concurrency: s.c, pattern: s.p, messages: s.m, maxMs: QUICK_MAX_MS }))
  }
  const out: Array<Scenario> = []
  for (const kind of ["10k", "100k", "1m"] as const) {
    for (const concurrency of [1, 20, 100]) {
      for (const pattern of ["new", "reused"] as const) {
        out.push({
          name: scenarioName(kind, concurrency, pattern),
          group: "matrix",
          kind,
          concurrency,
          pattern,
          messages: FULL_MESSAGES[kind] ?? 100,
          maxMs: FULL_MAX_MS
        })
      }
    }
  }
  return out
}

/**
 * The memory check: the same shape at 100 KB and large, on the relay processes
 * (not "direct", whose process is the sink). Peak RSS is far less sensitive to
 * a busy machine than throughput, so --quick runs it once, on (2) and (4) only,
 * and only the single-message pair.
 */
const memoryTargets = (ts: ReadonlyArray<TargetId>): ReadonlyArray<TargetId> =>
  ts.filter((t) => t !== "direct" && (!quick || t === "passthrough" || t === "imprint-stamp"))
const memoryReps = (): number => (quick ? 1 : reps)

const memory = (): ReadonlyArray<Scenario> =>
  [
    { name: "mem 100k x1", kind: "100k", concurrency: 1, messages: 1 },
    // 10 MB shows whether growth is a fixed window (10 MB ≈ 100 MB) or per byte (100 MB ≫ 10 MB)
    { name: "mem 10m x1", kind: "10m", concurrency: 1, messages: 1 },
    { name: "mem 100m x1", kind: "100m", concurrency: 1, messages: 1 },
    // the stamped part itself is the big one: it streams live through the stamper past its held window
    { name: "mem 100m-text x1", kind: "100m-text", concurrency: 1, messages: 1 },
    ...(quick ? [] : [{ name: "mem 10m-text x1", kind: "10m-text", concurrency: 1, messages: 1 }]),
    // the 20 × 10 MB pair moves 200 MB per target: full runs only
    ...(quick
      ? []
      : [
          { name: "mem 100k c20", kind: "100k", concurrency: 20, messages: 20 },
          { name: "mem 10m c20", kind: "10m", concurrency: 20, messages: 20 },
          { name: "mem 10m-text c20", kind: "10m-text", concurrency: 20, messages: 20 }
        ])
  ].map((s) => ({ ...s, group: "memory" as const, kind: s.kind as MessageKind, pattern: "new" as const, maxMs: MEMORY_MAX_MS }))

let runCounter = 0

/**
 * Server processes kept between runs. The full run starts a fresh process for
 * every run; --quick keeps one per target through the matrix (start-up and
 * warm-up cost seconds per run for Imprint) and resets its VmHWM per run, so
 * peak RSS there includes what earlier scenarios left on the heap. The memory
 * check always uses fresh processes.
 */
const kept = new Map<TargetId, Running>()

const runOne = async (sink: Server, targetId: TargetId, s: Scenario, rep: number): Promise<RunRecord> => {
  const keep = quick && s.group === "matrix"
  const stale = keep ? undefined : kept.get(targetId)
  if (stale !== undefined) {
    kept.delete(targetId)
    await stale.stop()
  } // frees Imprint's configured port
  const reuse = keep ? kept.get(targetId) : undefined
  const target = reuse ?? (await Targets[targetId].start(sink))
  if (keep) kept.set(targetId, target)
  let failed = true
  try {
    if (reuse === undefined) {
      await runLoad({
        port: target.port,
        kind: "10k",
        concurrency: Math.min(s.concurrency, 10),
        pattern: "reused",
        messages: WARMUP_MESSAGES,
        maxMs: 15_000,
        runId: `w${runCounter}`
      })
    }
    await resetSink(sink)
    const runId = `r${++runCounter}`
    const stopMeasure = target.measured.measure()
    const cpu0 = process.cpuUsage()
    const load = await runLoad({ port: target.port, kind: s.kind, concurrency: s.concurrency, pattern: s.pattern, messages: s.messages, maxMs: s.maxMs, runId })
    const cpu = process.cpuUsage(cpu0)
    const measured = stopMeasure()
    const stats = await sinkStats(sink)
    const atSink = new Set(stats.seqs)
    const acked = new Set(load.acked)
    const missing = load.acked.filter((q) => !atSink.has(q)).length
    const duplicates = Object.keys(stats.duplicates).length
    const unackedArrivals = stats.seqs.filter((q) => !acked.has(q)).length
    const secs = load.elapsedMs / 1000
    failed = false
    return {
      scenario: s.name,
      group: s.group,
      target: targetId,
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
      peakRssMb: measured.peakRssKb / 1024,
      cpuS: measured.cpuS,
      loadgenCpuS: (cpu.user + cpu.system) / 1e6,
      arrivedOnce: missing === 0 && duplicates === 0 && unackedArrivals === 0 && stats.withoutSeq === 0,
      missing,
      duplicates,
      unackedArrivals,
      stamped: stats.marked
    }
  } finally {
    if (!keep || failed) {
      kept.delete(targetId)
      await target.stop()
    }
  }
}

const git = (...a: Array<string>): string => {
  try {
    return execFileSync("git", a, { cwd: ROOT, encoding: "utf8" }).trim()
  } catch {
    return "?"
  }
}

const main = async (): Promise<void> => {
  for (const kind of MessageKinds) {
    const problems = checkMessage(messageSpec(kind))
    if (problems.length > 0) throw new Error(`generated ${kind} message is malformed: ${problems.join("; ")}`)
  }
  // --quick keeps to the four targets of issue 5; (2b) joins in the full run or by --targets
  // imprint-stamp-untraced only by --targets (the trace's cost: perf/README.md)
  const defaults = (quick ? TargetIds.filter((t) => t !== "passthrough-own") : [...TargetIds]).filter((t) => t !== "imprint-stamp-untraced")
  const wanted = (option("targets")?.split(",") ?? defaults) as Array<TargetId>
  const skipped: Array<string> = []
  const targets = wanted.filter((t) => {
    const why = t in Targets ? Targets[t].unavailable() : `unknown target ${t}`
    if (why !== undefined) {
      skipped.push(`${t}: ${why}`)
      console.error(`skipping ${t}: ${why}`)
    }
    return why === undefined
  })
  const scenarios = [...matrix(), ...(flag("no-memory") ? [] : memory())].filter((s) => only === undefined || only.test(s.name))
  const started = new Date()
  // the sink stands for a downstream MTA that greets at once, whatever PERF_EARLY_TALKER_MS asks of the relay
  const sink = await startServer({ name: "sink", args: [path.join(ROOT, "dist", "perf", "Sink.js")], ipc: true, cwd: ROOT, env: { PERF_EARLY_TALKER_MS: "0" } })
  const runs: Array<RunRecord> = []
  const failed = new Set<TargetId>()
  try {
    for (const s of scenarios) {
      const ts = s.group === "memory" ? memoryTargets(targets) : targets
      for (let rep = 1; rep <= (s.group === "memory" ? memoryReps() : reps); rep++) {
        for (const t of ts) {
          if (failed.has(t)) continue
          let r: RunRecord
          try {
            r = await runOne(sink, t, s, rep)
          } catch (e) {
            // one broken target must not cost the others' figures
            const why = `${t} failed in ${s.name} rep ${rep}: ${e instanceof Error ? e.message : String(e)}`
            failed.add(t)
            skipped.push(why)
            console.error(why)
            continue
          }
          runs.push(r)
          console.error(
            `${s.name.padEnd(14)} ${t.padEnd(13)} rep ${rep}: ${r.msgsPerS.toFixed(0)} msgs/s, p50 ${r.p50Ms.toFixed(2)} ms, ` +
              `peak ${r.peakRssMb.toFixed(0)} MB, cpu ${r.cpuS.toFixed(2)} s, errors ${JSON.stringify(r.errors)}${r.arrivedOnce ? "" : " NOT ARRIVED ONCE"}` +
              (r.errorSamples.length > 0 ? ` (${r.errorSamples[0]})` : "")
          )
        }
      }
    }
  } finally {
    for (const r of kept.values()) await r.stop()
    kept.clear()
    await sink.stop()
    for (const t of targets) await Targets[t].dispose?.()
  }
  const summaries = summarize(runs)
  const cpus = os.cpus()
  const context = [
    `${started.toISOString()}, ${quick ? "quick" : "full"} run, ${reps} repetitions alternating targets, medians` + (quick ? "; memory check once" : ""),
    `machine: ${cpus.length} × ${cpus[0]?.model ?? "?"}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}, Node ${process.version}`,
    `commit ${git("rev-parse", "--short", "HEAD")}; loopback; MB = 10^6 bytes; sizes: ${Object.entries(KindBytes)
      .map(([k, b]) => `${k}=${messageSpec(k as MessageKind).bytes}`)
      .join(", ")}`,
    `smtp-server early-talker patch ${earlyTalkerPatchApplied() ? "applied" : "NOT applied (every smtp-server greets after 100 ms)"}; ` +
      `pass-through greets after ${earlyTalkerDelayMs()} ms, sink after 0 ms`,
    "latency: end of DATA sent → 250 received, at the load generator; peak RSS and CPU of the relay process (the sink's for direct)"
  ]
  const md = markdown({ title: `Imprint perf ${started.toISOString()}`, context, summaries, skipped })
  const dir = resultsDir(ROOT)
  mkdirSync(dir, { recursive: true })
  const stamp = started
    .toISOString()
    .replace(/:/g, "-")
    .replace(/\.\d+Z$/, "Z")
  writeFileSync(path.join(dir, `${stamp}.json`), JSON.stringify({ started, quick, reps, context, skipped, summaries, runs }, null, 2))
  writeFileSync(path.join(dir, `${stamp}.md`), md)
  console.log(md)
  console.error(`written ${path.relative(ROOT, dir)}/${stamp}.json and .md`)
}

process.on("exit", killAllChildren)
for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.on(sig, () => {
    killAllChildren()
    process.exit(130)
  })
main().catch((e) => {
  console.error(e instanceof Error ? e.stack : e)
  killAllChildren()
  process.exit(1)
})
