import type { StreamInfo } from "@nats-io/jetstream"
import { describe, expect, it } from "vitest"
import { hasQuorum, QUORUM_SILENT_MS } from "../../src/cluster/StreamQuorum.js"

/**
 * The `cluster` part of stream info answers seen from nats-server 2.9.10
 * (three servers, replicas 3; trimmed to the fields read), before and after
 * two of the three were SIGKILLed.
 */
const info = (cluster: unknown) => ({ cluster }) as unknown as StreamInfo
const ms = (n: number) => n * 1e6
const replica = (name: string, activeMs: number, current = true) => ({ name, current, active: ms(activeMs), peer: name })

describe("StreamQuorum: does a stream info answer come from a stream that can take changes", () => {
  it("a single server (no cluster part) and a one-replica stream (a leader, no replicas) are their own majority", () => {
    expect(hasQuorum(info(undefined))).toBe(true)
    expect(hasQuorum(info({ name: "c", leader: "s1" }))).toBe(true)
  })

  it("a leader that hears from its replicas has quorum (healthy, idle: `active` under a second)", () => {
    expect(hasQuorum(info({ name: "c", leader: "s3", replicas: [replica("s1", 915), replica("s2", 1)] }))).toBe(true)
  })

  it("a leader left alone still answers as leader, its replicas still `current`: no quorum once both are silent too long", () => {
    const after = (s: number) => info({ name: "c", leader: "s3", replicas: [replica("s1", s * 1000), replica("s2", s * 1000)] })
    expect(hasQuorum(after(1))).toBe(true)
    expect(hasQuorum(after(QUORUM_SILENT_MS / 1000 + 1))).toBe(false)
    // what 2.9.10 answered 9 s after the kill
    expect(hasQuorum(after(9))).toBe(false)
  })

  it("one of two replicas heard from is a majority of three; offline ones count as silent", () => {
    expect(hasQuorum(info({ name: "c", leader: "s3", replicas: [replica("s1", 20_000, false), replica("s2", 200)] }))).toBe(true)
    expect(hasQuorum(info({ name: "c", leader: "s3", replicas: [replica("s1", 20_000, false), { ...replica("s2", 200), offline: true }] }))).toBe(false)
    // five replicas: the leader and two heard from are three of five
    const five = (heard: number) => info({ name: "c", leader: "s0", replicas: [1, 2, 3, 4].map((i) => replica(`s${i}`, i <= heard ? 100 : 60_000)) })
    expect(hasQuorum(five(2))).toBe(true)
    expect(hasQuorum(five(1))).toBe(false)
  })

  it("an answer without a leader (a stepped-down leader, or a follower left alone) has no quorum, whatever its replicas say", () => {
    // a follower left alone, 7 s after the kill: a dead server read `active` 0
    expect(hasQuorum(info({ name: "c", replicas: [replica("s3", 7_191, false), replica("s1", 19_900, false), replica("s2", 0, false)] }))).toBe(false)
    expect(hasQuorum(info({ name: "c", leader: "", replicas: [] }))).toBe(false)
  })
})
