import { describe, expect, it } from "vitest"
import { AuthThrottle } from "../../../src/pipeline/inbound/AuthThrottle.js"

describe("AuthThrottle.apply (outcomes from the node's other workers)", () => {
  it("counts another worker's failures as its own, in their own window", () => {
    const throttle = new AuthThrottle(2, 100, 60_000)
    throttle.failed("192.0.2.1", "relay@acme", 1_000)
    throttle.apply({ failed: true, address: "192.0.2.1", username: "relay@acme", at: 2_000 })
    expect(throttle.isThrottled("192.0.2.1", "relay@acme", 3_000)).toBe(true)
    // the window opened at the first failure: it ends for both
    expect(throttle.isThrottled("192.0.2.1", "relay@acme", 62_000)).toBe(false)
  })

  it("a success on another worker clears that (address, username) only", () => {
    const throttle = new AuthThrottle(1, 100, 60_000)
    throttle.failed("192.0.2.1", "relay@acme", 1_000)
    throttle.failed("192.0.2.1", "other@acme", 1_000)
    throttle.apply({ failed: false, address: "192.0.2.1", username: "relay@acme", at: 2_000 })
    expect(throttle.isThrottled("192.0.2.1", "relay@acme", 3_000)).toBe(false)
    expect(throttle.isThrottled("192.0.2.1", "other@acme", 3_000)).toBe(true)
  })
})
