import { Either } from "effect"
import { afterEach, describe, expect, it, vi } from "vitest"
import { decodeConfig } from "../../src/config.js"
import { NodeAuthPermits, QUEUE_WAIT_MS } from "../../src/workers/NodeAuthPermits.js"

/** The primary's AUTH permits (workers: N): attempts in flight count with the failures, over every worker. */

const permits = (smtp: Record<string, unknown>) => new NodeAuthPermits(Either.getOrThrow(decodeConfig({ dataDir: "/tmp/unused", smtp })))
const failed = (address: string, username: string) => ({ failed: true, address, username, at: 0 })
const succeeded = (address: string, username: string) => ({ failed: false, address, username, at: 0 })

afterEach(() => {
  vi.useRealTimers()
})

describe("NodeAuthPermits", () => {
  it("grants up to the per-user limit in flight over every worker, queues the next, and refuses it once the failures reach the limit", () => {
    const node = permits({ authFailuresBeforeThrottle: 2 })
    const later: Array<boolean> = []
    expect(node.request(1, 1, "192.0.2.1", "u", 0, () => undefined)).toBe("granted")
    expect(node.request(2, 1, "192.0.2.1", "u", 0, () => undefined)).toBe("granted")
    expect(node.request(1, 2, "192.0.2.1", "u", 0, (g) => later.push(g))).toBe("queued")
    // another username from the same address is not held up
    expect(node.request(2, 2, "192.0.2.1", "v", 0, () => undefined)).toBe("granted")
    node.outcome(1, failed("192.0.2.1", "u"), 1, 0)
    expect(later).toEqual([])
    node.outcome(2, failed("192.0.2.1", "u"), 1, 0)
    expect(later).toEqual([false])
    expect(node.request(1, 3, "192.0.2.1", "u", 0, () => undefined)).toBe("refused")
    expect(node.waiting).toBe(0)
  })

  it("a success lets the queued attempts of its username through: a server's burst with the right password is slowed, not throttled", () => {
    const node = permits({ authFailuresBeforeThrottle: 1 })
    const later: Array<boolean> = []
    expect(node.request(1, 1, "192.0.2.1", "u", 0, () => undefined)).toBe("granted")
    expect(node.request(2, 1, "192.0.2.1", "u", 0, (g) => later.push(g))).toBe("queued")
    expect(node.request(1, 2, "192.0.2.1", "u", 0, (g) => later.push(g))).toBe("queued")
    node.outcome(1, succeeded("192.0.2.1", "u"), 1, 0)
    expect(later).toEqual([true])
    node.outcome(2, succeeded("192.0.2.1", "u"), 1, 0)
    expect(later).toEqual([true, true])
  })

  it("holds the per-address limit over sprayed usernames", () => {
    const node = permits({ authFailuresBeforeThrottle: 5, authFailuresPerAddress: 3 })
    const answers = Array.from({ length: 6 }, (_, i) => node.request(1 + (i % 2), i, "192.0.2.9", `user-${i}`, 0, () => undefined))
    expect(answers).toEqual(["granted", "granted", "granted", "queued", "queued", "queued"])
  })

  it("a worker that exits gives its permits back; a permit released unused frees its place", () => {
    const node = permits({ authFailuresBeforeThrottle: 1 })
    const later: Array<boolean> = []
    expect(node.request(1, 1, "192.0.2.1", "u", 0, () => undefined)).toBe("granted")
    expect(node.request(2, 1, "192.0.2.1", "u", 0, (g) => later.push(g))).toBe("queued")
    expect(node.request(1, 2, "192.0.2.1", "u", 0, () => undefined)).toBe("queued")
    node.workerExited(1, 0)
    // worker 1's queued attempt is gone with it; worker 2's now holds the place
    expect(later).toEqual([true])
    expect(node.inFlight).toBe(1)
    expect(node.waiting).toBe(0)
    node.release(2, 1, 0)
    expect(node.inFlight).toBe(0)
    expect(node.request(1, 3, "192.0.2.1", "u", 0, () => undefined)).toBe("granted")
  })

  it(`a queued attempt is refused after ${QUEUE_WAIT_MS} ms`, () => {
    vi.useFakeTimers()
    const node = permits({ authFailuresBeforeThrottle: 1 })
    const later: Array<boolean> = []
    expect(node.request(1, 1, "192.0.2.1", "u", 0, () => undefined)).toBe("granted")
    expect(node.request(1, 2, "192.0.2.1", "u", 0, (g) => later.push(g))).toBe("queued")
    vi.advanceTimersByTime(QUEUE_WAIT_MS)
    expect(later).toEqual([false])
    expect(node.waiting).toBe(0)
  })
})
