/**
 * `npm run build && node dist/perf/CpuPerMessage.js [--targets a,b,…] [--batches N] [--messages N] [--kind 10k|100k|1m]`
 *
 * Steady-state CPU of the relay process per message (10 KB unless --kind): each target (the
 * same ids as run.ts, default passthrough-own, imprint-plain, imprint-stamp)
 * is started once, warmed with WARMUP_MESSAGES, then sent batches of messages
 * (10 sessions, reused connections), the targets taking turns batch by batch.
 * CPU is the relay process's own (user + system from /proc), so it is far less
 * sensitive to a busy machine than msgs/s; the medians and the ratio to the
 * first target are written to perf/results/cpu-<timestamp>.json. A benchmark,
 * not a test: nothing is asserted.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { killAllChildren, startServer } from "./Child.js"
import { runLoad } from "./LoadGenerator.js"
import { MessageKinds, type MessageKind } from "./Messages.js"
import { ROOT, TargetIds, Targets, type Running, type TargetId } from "./Targets.js"

const option = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? undefined : process.argv[i + 1]
}
const targets = (option("targets") ?? "passthrough-own,imprint-plain,imprint-stamp").split(",") as Array<TargetId>
for (const t of targets) if (!TargetIds.includes(t)) throw new Error(`unknown target ${t}; one of ${TargetIds.join(", ")}`)
const KIND = (option("kind") ?? "10k") as MessageKind
if (!MessageKinds.includes(KIND)) throw new Error(`unknown kind ${KIND}; one of ${MessageKinds.join(", ")}`)
const BATCHES = Number(option("batches") ?? 5)
const MESSAGES = Number(option("messages") ?? 400)
/** long enough for the JIT to settle on Imprint's larger code base */
const WARMUP_MESSAGES = 600
const SESSIONS = 10
const BATCH_MAX_MS = 120_000

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const main = async () => {
  const sink = await startServer({ name: "sink", args: [path.join(ROOT, "dist", "perf", "Sink.js")], ipc: true, cwd: ROOT, env: { PERF_EARLY_TALKER_MS: "0" } })
  const running = new Map<TargetId, Running>()
  const samples = new Map<TargetId, Array<number>>(targets.map((t) => [t, []]))
  try {
    for (const t of targets) {
      const r = await Targets[t].start(sink)
      running.set(t, r)
      await runLoad({ port: r.port, kind: KIND, concurrency: SESSIONS, pattern: "reused", messages: WARMUP_MESSAGES, maxMs: BATCH_MAX_MS, runId: `w-${t}` })
    }
    for (let b = 0; b < BATCHES; b++) {
      for (const t of targets) {
        const r = running.get(t)!
        const stop = r.measured.measure()
        const load = await runLoad({ port: r.port, kind: KIND, concurrency: SESSIONS, pattern: "reused", messages: MESSAGES, maxMs: BATCH_MAX_MS, runId: `b${b}-${t}` })
        const { cpuS } = stop()
        samples.get(t)!.push((cpuS * 1000) / Math.max(1, load.ok))
      }
    }
  } finally {
    for (const r of running.values()) await r.stop()
    for (const t of targets) await Targets[t].dispose?.()
    await sink.stop()
    killAllChildren()
  }
  const base = median(samples.get(targets[0])!)
  const rows = targets.map((t) => ({ target: t, cpuMsPerMessage: median(samples.get(t)!), ratio: median(samples.get(t)!) / base }))
  console.log(`| target | relay CPU ms per ${KIND} message (median of ${BATCHES} × ${MESSAGES}) | × ${targets[0]} |\n|---|--:|--:|`)
  for (const r of rows) console.log(`| ${r.target} | ${r.cpuMsPerMessage.toFixed(2)} | ${r.ratio.toFixed(1)} |`)
  const dir = path.join(ROOT, "perf", "results")
  mkdirSync(dir, { recursive: true })
  const file = path.join(dir, `cpu-${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}Z.json`)
  writeFileSync(file, JSON.stringify({ kind: KIND, batches: BATCHES, messages: MESSAGES, sessions: SESSIONS, rows, samples: Object.fromEntries(samples) }, null, 2))
  console.log(`written ${path.relative(ROOT, file)}`)
}

main().catch((e) => {
  console.error(e)
  killAllChildren()
  process.exitCode = 1
})
