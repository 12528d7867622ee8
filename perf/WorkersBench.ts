/**
 * `npm run perf:workers [-- --batches N] [--messages N] [--pattern new|reused] [--sessions N] [--offered F] [--compare admission]`
 *
 * `workers: 1` against `workers: 2` (issue 18 phase C), stamping 10 KB
 * replies: both relays are started once and warmed, then take turns batch by
 * batch (in reverse order every other batch) in the same run. Per batch:
 * msgs/s, and the relay's CPU per message summed over the primary and its
 * workers (/proc, user + system).
 *
 * Two passes. **Saturation**: as fast as the sessions go (on a 2-core machine
 * the load generator, the sink and two workers then compete for the same
 * cores, so CPU per message also measures that contention). **Offered rate**:
 * the same fixed rate for both, F (default 0.5) times the median workers: 1
 * reached at saturation, so neither configuration is CPU-bound and CPU per
 * message compares what the design costs. `--offered 0` skips it. **Same
 * rate per process**: workers: 1 at half the offered rate (what each of two
 * workers sees) against workers: 2 at the offered rate: a Node.js process's
 * CPU per message grows as its own rate falls, and this pass takes that out.
 * Medians and the ratios 2/1 go to perf/results/workers-<timestamp>.json.
 *
 * `--compare admission`: both sides are `workers: 2`; side 1 runs with the
 * perf-only switch PERF_WORKERS_SKIP_NODE_ADMISSION=1 (workers count their
 * connection limits alone, no round trip to the primary), side 2 as shipped.
 * With `--pattern new` the difference in the primary's CPU per message is the
 * node-wide admission's share of the primary's cost per new connection, the
 * rest being node:cluster's accept and hand-over. Saturation and offered rate
 * only; results in workers-admission-<timestamp>.json.
 * A benchmark, not a test.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { killAllChildren, readProc, startServer } from "./Child.js"
import { runLoad, type ConnectionPattern } from "./LoadGenerator.js"
import { resultsDir } from "./ResultsDir.js"
import { imprintTarget, ROOT, type Running } from "./Targets.js"

const option = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? undefined : process.argv[i + 1]
}
const BATCHES = Number(option("batches") ?? 5)
const MESSAGES = Number(option("messages") ?? 600)
const SESSIONS = Number(option("sessions") ?? 20)
const PATTERN = (option("pattern") ?? "new") as ConnectionPattern
if (PATTERN !== "new" && PATTERN !== "reused") throw new Error(`unknown pattern ${PATTERN}; new or reused`)
const OFFERED = Number(option("offered") ?? 0.5)
const COMPARE = option("compare") ?? "workers"
if (COMPARE !== "workers" && COMPARE !== "admission") throw new Error(`unknown comparison ${COMPARE}; workers or admission`)
const WARMUP_MESSAGES = 600
const BATCH_MAX_MS = 120_000
const KIND = "10k"

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** the process and its children (the workers), CPU seconds summed */
const treeCpu = (pid: number): number => {
  let children: Array<number> = []
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    // no children file (not Linux): the process alone
  }
  return [pid, ...children].reduce((sum, p) => sum + (readProc(p)?.cpuS ?? 0), 0)
}

const extraConfig = (workers: number) => ({ workers, ...(process.env.PERF_TRACE_OFF ? { trace: { enabled: false } } : {}) })
/** `key` 1 is the baseline, 2 the measured side; ratios are 2 / 1 */
const variants =
  COMPARE === "workers"
    ? [1, 2].map((workers) => ({
        key: workers,
        name: `workers ${workers}`,
        target: imprintTarget("imprint-stamp", `Imprint stamping, workers: ${workers}`, true, undefined, extraConfig(workers))
      }))
    : [
        {
          key: 1,
          name: "workers 2, no admission round trip",
          target: imprintTarget("imprint-stamp", "workers: 2, admission skipped", true, undefined, extraConfig(2), { PERF_WORKERS_SKIP_NODE_ADMISSION: "1" })
        },
        { key: 2, name: "workers 2, node admission", target: imprintTarget("imprint-stamp", "workers: 2", true, undefined, extraConfig(2)) }
      ]

interface Pass {
  readonly rate: Map<number, Array<number>>
  readonly cpu: Map<number, Array<number>>
  /** the primary's own share (workers: 2; for workers: 1 the one process) */
  readonly primaryCpu: Map<number, Array<number>>
}

/** CPU ms per second of each relay doing nothing (timers, polls, heartbeats): a fixed cost, not a cost per message */
const IDLE_MS = 5_000
const idleCpu = async (running: Map<number, Running>) => {
  const out = new Map<number, number>()
  for (const v of variants) {
    const pid = running.get(v.key)!.measured.pid
    const before = treeCpu(pid)
    await new Promise((r) => setTimeout(r, IDLE_MS))
    out.set(v.key, ((treeCpu(pid) - before) * 1000) / (IDLE_MS / 1000))
  }
  return out
}

const summary = (pass: Pass) => {
  const rows = variants.map((v) => ({
    workers: v.key,
    variant: v.name,
    msgsPerSecond: median(pass.rate.get(v.key)!),
    cpuMsPerMessage: median(pass.cpu.get(v.key)!)
  }))
  const [one, two] = rows
  return {
    rows,
    ratios: { throughput: two.msgsPerSecond / one.msgsPerSecond, cpuPerMessage: two.cpuMsPerMessage / one.cpuMsPerMessage },
    // the ratio of each pair (batch b of workers 2 against batch b of workers 1): their spread says how noisy the machine was
    pairRatios: pass.cpu.get(2)!.map((c, i) => c / pass.cpu.get(1)![i]),
    primaryPairRatios: pass.primaryCpu.get(2)!.map((c, i) => c / pass.primaryCpu.get(1)![i]),
    primaryCpuMsPerMessage: Object.fromEntries(variants.map((v) => [v.key, median(pass.primaryCpu.get(v.key)!)])),
    samples: {
      msgsPerSecond: Object.fromEntries(pass.rate),
      cpuMsPerMessage: Object.fromEntries(pass.cpu),
      primaryCpuMsPerMessage: Object.fromEntries(pass.primaryCpu)
    }
  }
}

/** BATCHES pairs, alternating which configuration goes first; `ratePerSecond` paces the load (absent: saturation), per configuration */
const runPass = async (running: Map<number, Running>, label: string, ratePerSecond?: (workers: number) => number): Promise<Pass> => {
  const rate = new Map<number, Array<number>>(variants.map((v) => [v.key, []]))
  const cpu = new Map<number, Array<number>>(variants.map((v) => [v.key, []]))
  const primaryCpu = new Map<number, Array<number>>(variants.map((v) => [v.key, []]))
  for (let b = 0; b < BATCHES; b++) {
    for (const v of b % 2 === 0 ? variants : [...variants].reverse()) {
      const r = running.get(v.key)!
      const before = treeCpu(r.measured.pid)
      const primaryBefore = readProc(r.measured.pid)?.cpuS ?? 0
      const load = await runLoad({
        port: r.port,
        kind: KIND,
        concurrency: SESSIONS,
        pattern: PATTERN,
        messages: MESSAGES,
        maxMs: BATCH_MAX_MS,
        runId: `${label}${b}-${v.key}`,
        ratePerSecond: ratePerSecond?.(v.key)
      })
      const used = treeCpu(r.measured.pid) - before
      primaryCpu.get(v.key)!.push((((readProc(r.measured.pid)?.cpuS ?? 0) - primaryBefore) * 1000) / Math.max(1, load.ok))
      if (load.ok < load.attempted) console.error(`${v.name}, ${label} batch ${b}: ${load.attempted - load.ok} failed: ${load.errorSamples.join(" | ")}`)
      rate.get(v.key)!.push(load.ok / (load.elapsedMs / 1000))
      cpu.get(v.key)!.push((used * 1000) / Math.max(1, load.ok))
    }
  }
  return { rate, cpu, primaryCpu }
}

const print = (title: string, s: ReturnType<typeof summary>) => {
  console.log(
    `${title}\n| workers | msgs/s (median of ${BATCHES} × ${MESSAGES}, ${SESSIONS} sessions, ${PATTERN} connections) | relay CPU ms per message (all processes) |\n|--:|--:|--:|`
  )
  for (const r of s.rows) console.log(`| ${r.variant} | ${r.msgsPerSecond.toFixed(0)} | ${r.cpuMsPerMessage.toFixed(2)} |`)
  console.log(
    `${variants[1].name} / ${variants[0].name}: throughput ×${s.ratios.throughput.toFixed(2)}, CPU per message ×${s.ratios.cpuPerMessage.toFixed(2)} (pairs: ${s.pairRatios.map((r) => r.toFixed(2)).join(" ")}); ` +
      `the primary's own CPU ms per message: ${variants.map((v) => `${v.name}: ${s.primaryCpuMsPerMessage[v.key].toFixed(2)}`).join(", ")} ` +
      `(pairs 2 / 1: ${s.primaryPairRatios.map((r) => r.toFixed(2)).join(" ")})`
  )
}

const main = async () => {
  const sink = await startServer({ name: "sink", args: [path.join(ROOT, "dist", "perf", "Sink.js")], ipc: true, cwd: ROOT, env: { PERF_EARLY_TALKER_MS: "0" } })
  const running = new Map<number, Running>()
  const loadBefore = os.loadavg()
  let saturation: ReturnType<typeof summary>
  let offered: (ReturnType<typeof summary> & { ratePerSecond: number; fraction: number }) | undefined
  let idle: Map<number, number> | undefined
  let sameProcessRate: (ReturnType<typeof summary> & { workers1RatePerSecond: number; workers2RatePerSecond: number }) | undefined
  try {
    for (const v of variants) {
      console.error(`starting ${v.name}`)
      const r = await v.target.start(sink)
      running.set(v.key, r)
      await runLoad({
        port: r.port,
        kind: KIND,
        concurrency: SESSIONS,
        pattern: PATTERN,
        messages: WARMUP_MESSAGES,
        maxMs: BATCH_MAX_MS,
        runId: `w-${v.key}`
      })
    }
    idle = await idleCpu(running)
    console.log(`idle CPU ms per second: ${variants.map((v) => `${v.name}: ${idle!.get(v.key)!.toFixed(1)}`).join(", ")}`)
    saturation = summary(await runPass(running, "s"))
    print("saturation", saturation)
    if (OFFERED > 0) {
      // (in `--compare admission` the same-rate pass is skipped: both sides run two workers)
      const ratePerSecond = Math.max(1, Math.round(OFFERED * saturation.rows[0].msgsPerSecond))
      console.error(`offered rate: ${ratePerSecond} msgs/s for both`)
      offered = { ...summary(await runPass(running, "o", () => ratePerSecond)), ratePerSecond, fraction: OFFERED }
      print(`offered rate ${ratePerSecond} msgs/s (${OFFERED} × workers: 1 at saturation)`, offered)
      // Each of two workers sees half the node's rate, and a Node.js process's CPU per message grows as its own
      // rate falls (fewer events per wake-up of its event loop). This pass gives workers: 1 the rate each worker sees.
      const perProcess = Math.max(1, Math.round(ratePerSecond / 2))
      if (COMPARE === "workers")
        sameProcessRate = {
          ...summary(await runPass(running, "p", (w) => (w === 1 ? perProcess : ratePerSecond))),
          workers1RatePerSecond: perProcess,
          workers2RatePerSecond: ratePerSecond
        }
      if (sameProcessRate !== undefined)
        print(`the same rate per process: workers 1 at ${perProcess} msgs/s, workers 2 at ${ratePerSecond} msgs/s (each worker ${perProcess})`, sameProcessRate)
    }
  } finally {
    for (const r of running.values()) await r.stop()
    for (const v of variants) await v.target.dispose?.()
    await sink.stop()
    killAllChildren()
  }
  console.log(
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")} on ${os.availableParallelism()} cores`
  )
  const dir = resultsDir(ROOT)
  mkdirSync(dir, { recursive: true })
  const file = path.join(dir, `workers-${COMPARE === "admission" ? "admission-" : ""}${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}Z.json`)
  writeFileSync(
    file,
    JSON.stringify(
      {
        // the machine's run queue before and after the run: on a shared 2-core VM, the second worker competes with everything else
        loadAverage: os.loadavg(),
        loadAverageBefore: loadBefore,
        cores: os.availableParallelism(),
        kind: KIND,
        compare: COMPARE,
        variants: variants.map((v) => ({ key: v.key, name: v.name })),
        pattern: PATTERN,
        sessions: SESSIONS,
        batches: BATCHES,
        messages: MESSAGES,
        // saturation, kept at the top level as before
        rows: saturation.rows,
        ratios: saturation.ratios,
        pairRatios: saturation.pairRatios,
        primaryCpuMsPerMessage: saturation.primaryCpuMsPerMessage,
        primaryPairRatios: saturation.primaryPairRatios,
        samples: saturation.samples,
        offered,
        sameProcessRate,
        idleCpuMsPerSecond: idle === undefined ? undefined : Object.fromEntries(idle)
      },
      null,
      2
    )
  )
  console.log(`written ${path.relative(ROOT, file)}`)
}

main().catch((e) => {
  console.error(e)
  killAllChildren()
  process.exitCode = 1
})
