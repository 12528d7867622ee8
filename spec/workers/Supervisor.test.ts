import { describe, expect, it } from "vitest"
import { RESTART_BASE_MS, RESTART_MAX_MS, restartDelay } from "../../src/workers/Supervisor.js"

describe("worker restart backoff", () => {
  it("starts at the base, doubles per crash in a row, and stops growing at the cap", () => {
    expect(restartDelay(0)).toBe(RESTART_BASE_MS)
    expect(restartDelay(1)).toBe(2 * RESTART_BASE_MS)
    expect(restartDelay(3)).toBe(8 * RESTART_BASE_MS)
    expect(restartDelay(40)).toBe(RESTART_MAX_MS)
  })
})
