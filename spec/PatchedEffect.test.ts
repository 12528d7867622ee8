import { spawnSync } from "node:child_process"
import { describe, expect, it } from "vitest"

/**
 * patches/apply.mjs "effect-young-closures": V8's parser allocates a function literal assigned
 * straight to a property (`obj.prop = () => ...`) in the old generation. effect's core made the
 * per-call closures of Effect.async and the interruption masks that way, so every wait kept its
 * message's objects through scavenges (perf/issue-16.md, "the ninth session"). The check runs in
 * a child process: `%InYoungGeneration` needs `--allow-natives-syntax`.
 */
const CHECK = `
import { Effect } from "effect"
const young = (f) => %InYoungGeneration(f)
const asyncPrimitive = Effect.async((resume) => void resume).commit()
const out = {
  control: young((() => { const o = {}; o.f = () => 1; return o.f })()),
  async: young(asyncPrimitive.effect_instruction_i0),
  interruptible: young(Effect.interruptible(Effect.void).effect_instruction_i1),
  uninterruptible: young(Effect.uninterruptible(Effect.void).effect_instruction_i1),
  interruptibleMask: young(Effect.interruptibleMask(() => Effect.void).commit().effect_instruction_i1),
  uninterruptibleMask: young(Effect.uninterruptibleMask(() => Effect.void).commit().effect_instruction_i1),
  withRuntimeFlagsPatch: young(Effect.withRuntimeFlagsPatch(Effect.void, 0).effect_instruction_i1)
}
console.log(JSON.stringify(out))
`

describe("patched effect core", () => {
  it("allocates the per-call closures of async and the interruption masks in the young generation", () => {
    const run = spawnSync(process.execPath, ["--allow-natives-syntax", "--input-type=module", "-e", CHECK], { encoding: "utf8" })
    expect(run.stderr).toBe("")
    const seen = JSON.parse(run.stdout) as Record<string, boolean>
    expect(seen).toEqual({
      // the V8 behaviour the patch works around (a Node release that drops it shows here)
      control: false,
      async: true,
      interruptible: true,
      uninterruptible: true,
      interruptibleMask: true,
      uninterruptibleMask: true,
      withRuntimeFlagsPatch: true
    })
  })
})
