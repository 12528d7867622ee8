/**
 * Counts Effect interpreter steps, a preload for any perf run:
 *
 *   NODE_OPTIONS="--import $PWD/dist/perf/EffectSteps.js" PERF_EFFECT_STEPS_OUT=/tmp/steps \
 *     node dist/perf/CpuPerMessage.js --targets imprint-plain --batches 2 --messages 1000
 *
 * Every process that imports it (the relay under test, and its baseline build's with
 * `--baseline`) writes `<out>/steps-<pid>.txt` when it exits, if it ran at least
 * MIN_STEPS: the total, then each kind of step by the function it carried (a
 * continuation, a sync body, a generator…), most frequent first. Divide by the messages
 * the process relayed (CpuPerMessage: 600 warm-up + batches × messages) for steps per
 * message: a count, so unlike CPU time it does not move with the machine's load. It
 * patches the op handlers of Effect's FiberRuntime (internal, Effect 3.22) in the module
 * instance the measured script resolves, so it only counts; never load it in production.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { pathToFileURL } from "node:url"

/** processes below this are the harness's own (sink, load generator): no file */
const MIN_STEPS = 100_000

const OPS = [
  "Async",
  "Commit",
  "Failure",
  "OnFailure",
  "OnSuccess",
  "OnSuccessAndFailure",
  "Success",
  "Sync",
  "Tag",
  "UpdateRuntimeFlags",
  "While",
  "Iterator",
  "WithRuntime",
  "Yield",
  "RevertFlags",
  "Left",
  "Right",
  "Some",
  "None"
]

const out = process.env.PERF_EFFECT_STEPS_OUT
const main = process.argv[1]
if (out !== undefined && main !== undefined) {
  const effectRoot = path.dirname(createRequire(pathToFileURL(main)).resolve("effect/package.json"))
  const { FiberRuntime } = (await import(pathToFileURL(path.join(effectRoot, "dist", "esm", "internal", "fiberRuntime.js")).href)) as {
    FiberRuntime: { prototype: Record<string, unknown> }
  }
  const proto = FiberRuntime.prototype
  const byCarrier = new Map<unknown, { op: string; n: number }>()
  let total = 0
  for (const op of OPS) {
    const original = proto[op]
    if (typeof original !== "function") continue
    proto[op] = function (this: unknown, cur: Record<string, unknown>) {
      total++
      const carried = op === "Commit" ? cur.commit : (cur.effect_instruction_i1 ?? cur.effect_instruction_i0)
      const key = typeof carried === "function" ? carried : `${op}:${(cur.constructor as { name?: string } | undefined)?.name ?? "?"}`
      const entry = byCarrier.get(key)
      if (entry !== undefined) entry.n++
      else byCarrier.set(key, { op, n: 1 })
      return (original as (cur: unknown) => unknown).call(this, cur)
    }
  }
  process.on("exit", () => {
    if (total < MIN_STEPS) return
    const grouped = new Map<string, number>()
    for (const [key, { op, n }] of byCarrier) {
      const what = `${op} ${typeof key === "function" ? key.toString().replace(/\s+/g, " ").slice(0, 160) : String(key)}`
      grouped.set(what, (grouped.get(what) ?? 0) + n)
    }
    const lines = [...grouped].sort((a, b) => b[1] - a[1]).map(([what, n]) => `${n}\t${what}`)
    mkdirSync(out, { recursive: true })
    writeFileSync(path.join(out, `steps-${process.pid}.txt`), `${total}\ttotal (${main})\n${lines.join("\n")}\n`)
  })
}
