import { describe, expect, it } from "vitest"
import { MinuteBudget } from "../../../src/pipeline/inbound/MinuteBudget.js"

/** The cap on trace records of unbound sessions' refusals (Inbound, UNBOUND_REFUSALS_TRACED_PER_MINUTE). */
describe("MinuteBudget", () => {
  it("gives `perMinute` takes in a minute, none more, and a fresh budget the next minute", () => {
    const budget = new MinuteBudget(3)
    const t0 = 10 * 60_000
    expect([t0, t0 + 1, t0 + 59_999, t0 + 59_999].map((t) => budget.take(t))).toEqual([true, true, true, false])
    expect([t0 + 60_000, t0 + 60_001, t0 + 60_002, t0 + 60_003].map((t) => budget.take(t))).toEqual([true, true, true, false])
  })
})
