import { describe, expect, it } from "vitest"
import { TraceRecord } from "../../src/domain/Trace.js"
import { MAX_REPLY_BYTES, replyFor } from "../../src/trace/TraceFanout.js"
import { makeId } from "../../src/trace/TraceStore.js"
import { entry } from "./TraceFixtures.js"

/**
 * A node's answer to another node's trace search fits one NATS message: a page
 * too large is cut, and its `next` then says where the node goes on, so the
 * merge asks for the rest on a later page instead of losing it.
 */
describe("TraceFanout.replyFor", () => {
  const many = Array.from({ length: 400 }, (_, i) => `recipient-${i}@example.org`)
  const records = Array.from(
    { length: 300 },
    (_, i) => new TraceRecord({ ...entry("acme", 1_765_000_000_000 - i), recipients: many, id: makeId(1_765_000_000_000 - i, 1), node: "a" })
  )

  it("cuts a page above MAX_REPLY_BYTES and continues below the last record kept", () => {
    const json = replyFor({ records, next: records[records.length - 1].id, scanned: 300 })
    expect(Buffer.byteLength(json)).toBeLessThanOrEqual(MAX_REPLY_BYTES)
    const reply = JSON.parse(json) as { records: Array<{ id: string }>; next: string }
    expect(reply.records.length).toBeGreaterThan(0)
    expect(reply.records.length).toBeLessThan(records.length)
    expect(reply.records.map((r) => r.id)).toEqual(records.slice(0, reply.records.length).map((r) => r.id))
    expect(reply.next).toBe(reply.records[reply.records.length - 1].id)
  })

  it("leaves a page that fits as it is, without a next when the node had none", () => {
    const reply = JSON.parse(replyFor({ records: records.slice(0, 3), scanned: 3 })) as { records: Array<unknown>; next?: string }
    expect(reply.records.length).toBe(3)
    expect(reply.next).toBeUndefined()
  })
})
