import { Either } from "effect"
import fc from "fast-check"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import { decodeConfig } from "../../src/config.js"
import type { Refusal } from "../../src/pipeline/inbound/ConnectionLimits.js"
import { LEASE_SLOTS, WorkerLease } from "../../src/workers/AdmissionLease.js"
import { NodeAdmission } from "../../src/workers/NodeAdmission.js"

/**
 * Admission slots leased to workers (workers: N): sessions bound at connect
 * admitted without a round trip, the node's maxClients still exact.
 */

const config = (smtp: Record<string, unknown>) => Either.getOrThrow(decodeConfig({ dataDir: "/tmp/unused", smtp }))

beforeEach(() => {
  // the revoke's wait never ends on its own here: every message is delivered
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

describe("WorkerLease", () => {
  it("admits on free slots, reuses a closed one, and after a revoke sends each slot back as its session closes", () => {
    const lease = new WorkerLease()
    expect(lease.take("a")).toBe(false)
    lease.granted(2)
    expect(lease.take("a")).toBe(true)
    expect(lease.take("b")).toBe(true)
    expect(lease.take("c")).toBe(false)
    expect(lease.closed("a")).toBe(0)
    expect(lease.take("c")).toBe(true)
    expect(lease.closed("x")).toBeUndefined()
    expect(lease.closed("b")).toBe(0)
    expect(lease.revoke()).toBe(1)
    expect(lease.take("d")).toBe(false)
    expect(lease.closed("c")).toBe(1)
    expect(lease.slots).toBe(0)
  })
})

describe("NodeAdmission with leases", () => {
  it("grants slots with a session bound at connect while the node is below half of maxClients, none for an unbound one", () => {
    const node = new NodeAdmission(config({ maxClients: 40 }))
    const answers: Array<[Refusal | undefined, number]> = []
    node.request(1, "a", "10.0.0.1", true, 0, (r, l) => answers.push([r, l]))
    node.request(2, "a", "10.0.0.1", false, 0, (r, l) => answers.push([r, l]))
    node.request(2, "b", "10.0.0.1", true, 0, (r, l) => answers.push([r, l]))
    // 3 sessions + 16 leased: another 8 would pass 20
    node.request(1, "b", "10.0.0.2", true, 0, (r, l) => answers.push([r, l]))
    expect(answers).toEqual([
      [undefined, LEASE_SLOTS],
      [undefined, 0],
      [undefined, LEASE_SLOTS],
      [undefined, 0]
    ])
    expect(node.leasedSlots).toBe(2 * LEASE_SLOTS)
  })

  it("at maxClients, revokes the leases before refusing; holds the requests meanwhile and answers them in order", () => {
    const revoked: Array<number> = []
    const node = new NodeAdmission(config({ maxClients: 10 }), (slot) => revoked.push(slot))
    const answers: Array<string> = []
    const ask = (slot: number, id: string) => node.request(slot, id, "10.0.0.1", true, 0, (r, l) => answers.push(`${id}:${r ?? "ok"}:${l}`))
    ask(1, "a") // 1 session + 8 leased: within half of 10? no: 1 + 0 + 8 > 5, no lease
    expect(answers).toEqual(["a:ok:0"])
    expect(node.leasedSlots).toBe(0)
    // a node with room for a lease
    const wide = new NodeAdmission(config({ maxClients: 20 }), (slot) => revoked.push(slot))
    const wideAnswers: Array<string> = []
    const askWide = (slot: number, id: string) => wide.request(slot, id, "10.0.0.1", true, 0, (r, l) => wideAnswers.push(`${id}:${r ?? "ok"}:${l}`))
    askWide(1, "a") // 1 + 8 ≤ 10: leased
    for (let i = 0; i < 11; i++) askWide(2, `s${i}`)
    // 1 + 8 leased + 11 = 20: the next asks for worker 1's slots back first
    askWide(2, "x")
    askWide(2, "y")
    expect(revoked).toEqual([1])
    expect(wideAnswers.slice(-2)).toEqual(["s9:ok:0", "s10:ok:0"])
    // worker 1 uses 3 of its 8 slots and gives 5 back: x and y are admitted, in order
    wide.revoked(1, 5, 0)
    expect(wideAnswers.slice(-2)).toEqual(["x:ok:0", "y:ok:0"])
    // now 1 + 3 (in use on worker 1) + 13 = 17: three more, then refused without another revoke
    for (const id of ["p", "q", "r", "z"]) askWide(2, id)
    expect(wideAnswers.slice(-4)).toEqual(["p:ok:0", "q:ok:0", "r:ok:0", "z:clients:0"])
    expect(revoked).toEqual([1])
    // a slot back from worker 1 (its session closed) makes room again
    wide.returned(1, 1)
    askWide(2, "w")
    expect(wideAnswers.at(-1)).toBe("w:ok:0")
  })

  it("a worker that exits while asked to revoke: its slots are gone and the held requests are answered", () => {
    const node = new NodeAdmission(config({ maxClients: 20 }))
    const answers: Array<string> = []
    node.request(1, "a", "10.0.0.1", true, 0, () => undefined)
    for (let i = 0; i < 11; i++) node.request(2, `s${i}`, "10.0.0.1", true, 0, () => undefined)
    node.request(2, "x", "10.0.0.1", true, 0, (r) => answers.push(r ?? "ok"))
    expect(answers).toEqual([])
    node.workerExited(1, 0)
    expect(answers).toEqual(["ok"])
    expect(node.leasedSlots).toBe(0)
  })

  it("a request held while revoking whose session closed meanwhile is dropped", () => {
    const node = new NodeAdmission(config({ maxClients: 20 }))
    const answers: Array<string> = []
    node.request(1, "a", "10.0.0.1", true, 0, () => undefined)
    for (let i = 0; i < 11; i++) node.request(2, `s${i}`, "10.0.0.1", true, 0, () => undefined)
    node.request(2, "x", "10.0.0.1", true, 0, (r) => answers.push(`x:${r ?? "ok"}`))
    node.request(2, "y", "10.0.0.1", true, 0, (r) => answers.push(`y:${r ?? "ok"}`))
    node.closed(2, "x")
    node.revoked(1, 7, 0)
    expect(answers).toEqual(["y:ok"])
  })

  /**
   * Two workers and a primary exchanging messages in any order the channels
   * allow (each direction of each channel in order): sessions bound at connect
   * and unbound ones open and close at random. The node never holds more than
   * maxClients, nor an address more than its limit; and once every message is
   * delivered, a session is refused for maxClients only when the node is full.
   */
  it("never more than maxClients open, whatever the interleaving; refused only when full", () => {
    const MAX = 24
    const PER_ADDRESS = 3
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(7), fc.nat(1), fc.nat(1_000)), { maxLength: 600 }), (ops) => {
        type ToPrimary =
          | { t: "admit"; id: string; bound: boolean; address: string }
          | { t: "closed"; id: string }
          | { t: "return"; n: number }
          | { t: "revoked"; free: number }
        type ToWorker = { t: "reply"; id: string; refusal: Refusal | undefined; lease: number } | { t: "revoke" }
        const toPrimary = new Map<number, Array<ToPrimary>>([
          [1, []],
          [2, []]
        ])
        const toWorker = new Map<number, Array<ToWorker>>([
          [1, []],
          [2, []]
        ])
        const node = new NodeAdmission(
          config({ maxClients: MAX, maxUnboundClients: MAX, maxConnectionsPerAddress: PER_ADDRESS, maxConnectionRatePerAddress: 0 }),
          (slot) => toWorker.get(slot)!.push({ t: "revoke" })
        )
        const workers = new Map(
          [1, 2].map((w) => [w, { lease: new WorkerLease(), open: new Map<string, string | undefined>(), pending: new Map<string, string | undefined>() }])
        )
        let next = 0
        let lastRefusal: Refusal | undefined
        const connect = (w: number, bound: boolean, address: string) => {
          const worker = workers.get(w)!
          const id = `s${next++}`
          if (bound && worker.lease.take(id)) return void worker.open.set(id, undefined)
          worker.pending.set(id, bound ? undefined : address)
          toPrimary.get(w)!.push({ t: "admit", id, bound, address })
        }
        const close = (w: number, pick: number) => {
          const worker = workers.get(w)!
          const ids = [...worker.open.keys(), ...worker.pending.keys()]
          if (ids.length === 0) return
          const id = ids[pick % ids.length]
          worker.open.delete(id)
          worker.pending.delete(id)
          const back = worker.lease.closed(id)
          if (back === undefined) toPrimary.get(w)!.push({ t: "closed", id })
          else if (back > 0) toPrimary.get(w)!.push({ t: "return", n: back })
        }
        const deliverToPrimary = (w: number) => {
          const m = toPrimary.get(w)!.shift()
          if (m === undefined) return
          if (m.t === "admit") node.request(w, m.id, m.address, m.bound, 0, (refusal, lease) => toWorker.get(w)!.push({ t: "reply", id: m.id, refusal, lease }))
          else if (m.t === "closed") node.closed(w, m.id)
          else if (m.t === "return") node.returned(w, m.n)
          else node.revoked(w, m.free, 0)
        }
        const deliverToWorker = (w: number) => {
          const m = toWorker.get(w)!.shift()
          if (m === undefined) return
          const worker = workers.get(w)!
          if (m.t === "revoke") return void toPrimary.get(w)!.push({ t: "revoked", free: worker.lease.revoke() })
          if (m.lease > 0) worker.lease.granted(m.lease)
          if (!worker.pending.has(m.id)) return
          const address = worker.pending.get(m.id)
          worker.pending.delete(m.id)
          if (m.refusal === undefined) worker.open.set(m.id, address)
          else lastRefusal = m.refusal
        }
        const check = () => {
          const open = [...workers.values()].flatMap((w) => [...w.open.values()])
          expect(open.length).toBeLessThanOrEqual(MAX)
          for (const a of ["10.0.0.1", "10.0.0.2"]) expect(open.filter((x) => x === a).length).toBeLessThanOrEqual(PER_ADDRESS)
        }
        for (const [op, w0, n] of ops) {
          const w = w0 + 1
          if (op <= 2) connect(w, true, "10.0.0.9")
          else if (op === 3) connect(w, false, n % 2 === 0 ? "10.0.0.1" : "10.0.0.2")
          else if (op === 4) close(w, n)
          else if (op === 5) deliverToPrimary(w)
          else deliverToWorker(w)
          check()
        }
        const drain = () => {
          while ([...toPrimary.values(), ...toWorker.values()].some((q) => q.length > 0))
            for (const w of [1, 2]) {
              deliverToPrimary(w)
              deliverToWorker(w)
            }
          check()
        }
        drain()
        // quiet now: bound sessions until one is refused for maxClients; the node is then full, not less
        lastRefusal = undefined
        for (let i = 0; i <= MAX && lastRefusal === undefined; i++) {
          connect(1 + (i % 2), true, "10.0.0.9")
          drain()
        }
        expect(lastRefusal).toBe("clients")
        expect([...workers.values()].reduce((sum, w) => sum + w.open.size, 0)).toBe(MAX)
      }),
      { numRuns: 300 }
    )
  })
})
