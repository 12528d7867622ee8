/**
 * `npm run build:perf && node dist/perf/CpuPerMessage.js [--targets a,b,…] [--batches N] [--messages N] [--kind 10k|100k|1m] [--pattern reused|new] [--baseline FILE]`
 *
 * Steady-state CPU of the relay process per message (10 KB unless --kind): each target (the
 * same ids as run.ts, default passthrough-own, imprint-plain, imprint-stamp)
 * is started once, warmed with WARMUP_MESSAGES, then sent batches of messages
 * (10 sessions, reused connections unless `--pattern new`), the targets taking turns batch by batch
 * (in reverse order every other batch, so none always runs first).
 * CPU is the relay process's own (user + system from /proc), so it is far less
 * sensitive to a busy machine than msgs/s; the medians and the ratio to the
 * first target are written to perf/results/cpu-<timestamp>.json.
 *
 * `--baseline FILE`: another build's `dist/src/main.js` (a git worktree at the
 * commit to compare with). Every Imprint target then also runs on that build,
 * in the same turns, and the report gives the median of the per-batch ratios
 * this build / baseline: the way to check what a change costs or saves on a
 * shared machine, where single runs vary by ±20 %. A benchmark, not a test:
 * nothing is asserted.
 */
import { resultsDir } from "./ResultsDir.js"
import { mkdirSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { killAllChildren, startServer } from "./Child.js"
import { runLoad, type ConnectionPattern } from "./LoadGenerator.js"
import { MessageKinds, type MessageKind } from "./Messages.js"
import { imprintTarget, ROOT, TargetIds, Targets, type Running, type Target, type TargetId } from "./Targets.js"

const option = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? undefined : process.argv[i + 1]
}
const targets = (option("targets") ?? "passthrough-own,imprint-plain,imprint-stamp").split(",") as Array<TargetId>
for (const t of targets) if (!TargetIds.includes(t)) throw new Error(`unknown target ${t}; one of ${TargetIds.join(", ")}`)
const KIND = (option("kind") ?? "10k") as MessageKind
if (!MessageKinds.includes(KIND)) throw new Error(`unknown kind ${KIND}; one of ${MessageKinds.join(", ")}`)
const PATTERN = (option("pattern") ?? "reused") as ConnectionPattern
if (PATTERN !== "reused" && PATTERN !== "new") throw new Error(`unknown pattern ${PATTERN}; reused or new`)
const BASELINE = option("baseline") === undefined ? undefined : path.resolve(option("baseline") as string)
const BATCHES = Number(option("batches") ?? 5)
const MESSAGES = Number(option("messages") ?? 400)
/** long enough for the JIT to settle on Imprint's larger code base */
const WARMUP_MESSAGES = 600
const SESSIONS = 10
const BATCH_MAX_MS = 120_000

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** one process measured: a target of this build, or an Imprint target on the --baseline build */
interface Entry {
  readonly name: string
  readonly target: Target
}

const entries: ReadonlyArray<Entry> = targets.flatMap((t): Array<Entry> => {
  const own = { name: t, target: Targets[t] }
  if (BASELINE === undefined || (t !== "imprint-plain" && t !== "imprint-stamp")) return [own]
  return [own, { name: `${t}@baseline`, target: imprintTarget(t, `${Targets[t].label}, baseline build`, t === "imprint-stamp", BASELINE) }]
})

const main = async () => {
  const sink = await startServer({ name: "sink", args: [path.join(ROOT, "dist", "perf", "Sink.js")], ipc: true, cwd: ROOT, env: { PERF_EARLY_TALKER_MS: "0" } })
  const running = new Map<string, Running>()
  const samples = new Map<string, Array<number>>(entries.map((e) => [e.name, []]))
  /** user time alone per message: the relay's own code, without the kernel's share (loopback TCP), which moves with the machine's load */
  const userSamples = new Map<string, Array<number>>(entries.map((e) => [e.name, []]))
  try {
    for (const e of entries) {
      const why = e.target.unavailable()
      if (why !== undefined) throw new Error(`${e.name}: ${why}`)
      const r = await e.target.start(sink)
      running.set(e.name, r)
      await runLoad({ port: r.port, kind: KIND, concurrency: SESSIONS, pattern: PATTERN, messages: WARMUP_MESSAGES, maxMs: BATCH_MAX_MS, runId: `w-${e.name}` })
    }
    for (let b = 0; b < BATCHES; b++) {
      for (const e of b % 2 === 0 ? entries : [...entries].reverse()) {
        const r = running.get(e.name)!
        const stop = r.measured.measure()
        const load = await runLoad({
          port: r.port,
          kind: KIND,
          concurrency: SESSIONS,
          pattern: PATTERN,
          messages: MESSAGES,
          maxMs: BATCH_MAX_MS,
          runId: `b${b}-${e.name}`
        })
        const { cpuS, userS } = stop()
        samples.get(e.name)!.push((cpuS * 1000) / Math.max(1, load.ok))
        userSamples.get(e.name)!.push((userS * 1000) / Math.max(1, load.ok))
      }
    }
  } finally {
    for (const r of running.values()) await r.stop()
    for (const e of entries) await e.target.dispose?.()
    await sink.stop()
    killAllChildren()
  }
  const first = entries[0].name
  const base = median(samples.get(first)!)
  const rows = entries.map((e) => ({ target: e.name, cpuMsPerMessage: median(samples.get(e.name)!), ratio: median(samples.get(e.name)!) / base }))
  console.log(`| target | relay CPU ms per ${KIND} message, ${PATTERN} connections (median of ${BATCHES} × ${MESSAGES}) | × ${first} |\n|---|--:|--:|`)
  for (const r of rows) console.log(`| ${r.target} | ${r.cpuMsPerMessage.toFixed(2)} | ${r.ratio.toFixed(1)} |`)
  // this build against the baseline, batch by batch: the two ran in the same turn each time
  const versus = entries
    .filter((e) => e.name.endsWith("@baseline"))
    .map((e) => {
      const mine = samples.get(e.name.replace("@baseline", ""))!
      const theirs = samples.get(e.name)!
      const perBatch = mine.map((m, i) => m / theirs[i])
      const mineUser = userSamples.get(e.name.replace("@baseline", ""))!
      const theirsUser = userSamples.get(e.name)!
      const userPerBatch = mineUser.map((m, i) => m / theirsUser[i])
      return {
        target: e.name.replace("@baseline", ""),
        baseline: BASELINE,
        medianRatio: median(perBatch),
        perBatch,
        userMedianRatio: median(userPerBatch),
        userPerBatch
      }
    })
  for (const v of versus) {
    console.log(
      `${v.target}: this build / baseline = ${v.medianRatio.toFixed(3)} (median of ${v.perBatch.length} batch pairs: ${v.perBatch.map((r) => r.toFixed(2)).join(" ")})`
    )
    console.log(`${v.target}: user time only, this build / baseline = ${v.userMedianRatio.toFixed(3)} (${v.userPerBatch.map((r) => r.toFixed(2)).join(" ")})`)
  }
  const dir = resultsDir(ROOT)
  mkdirSync(dir, { recursive: true })
  const file = path.join(dir, `cpu-${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}Z.json`)
  writeFileSync(
    file,
    JSON.stringify(
      {
        kind: KIND,
        pattern: PATTERN,
        batches: BATCHES,
        messages: MESSAGES,
        sessions: SESSIONS,
        rows,
        versus,
        samples: Object.fromEntries(samples),
        userSamples: Object.fromEntries(userSamples)
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
