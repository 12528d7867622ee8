import type { ImprintConfig } from "../config.js"
import { ConnectionLimits, type Refusal } from "../pipeline/inbound/ConnectionLimits.js"
import { LEASE_SHARE, LEASE_SLOTS, REVOKE_TIMEOUT_MS } from "./AdmissionLease.js"

/**
 * The node's connection limits with `workers: N`, kept in the primary:
 * `smtp.maxClients`, the unbound share, and the per-address connections and
 * rate count every worker's sessions together, so the node accepts what one
 * process would (not N times it). Chosen over splitting each limit by N: the
 * primary hands connections out in turn, not by address, so with a split one
 * address's sessions can all land on one worker (two clients connecting
 * alternately, two workers) and be refused at half its limit. Cost: one round
 * trip over the cluster channel per new session (and a message when it binds
 * and when it closes), except for sessions bound at connect admitted on a
 * slot leased to their worker (AdmissionLease.ts: why the sum stays within
 * maxClients). The worker's own ConnectionLimits still runs its timers, and
 * its counts (a share of the node's) refuse a known flood early.
 */

/** the answer to an admission: refused, or admitted with `lease` more slots for the worker (0: none) */
export type AdmitAnswer = (refusal: Refusal | undefined, lease: number) => void

interface Request {
  readonly slot: number
  readonly id: string
  readonly address: string
  readonly bound: boolean
  readonly answer: AdmitAnswer
}

interface Lease {
  /** slots granted and not yet back (free or in use on the worker) */
  leased: number
  /** granted since the last revoke: some of them may be free */
  reuse: boolean
}

export class NodeAdmission {
  private readonly limits: ConnectionLimits
  private readonly maxClients: number
  /** the sessions each worker holds, to forget them when it exits */
  private readonly bySlot = new Map<number, Set<string>>()
  private readonly leases = new Map<number, Lease>()
  private leased = 0
  /** workers asked for their free slots and not answered yet */
  private revoking: { readonly slots: Set<number>; readonly timer: ReturnType<typeof setTimeout> } | undefined
  /** admissions held while revoking, in order */
  private waiting: Array<Request> = []

  /** `revoke` asks a worker for its free slots (answered through `revoked`) */
  constructor(
    config: ImprintConfig,
    private readonly revoke: (slot: number) => void = () => undefined
  ) {
    // no unboundTooLong: the workers close sessions that do not bind in time, and tell
    this.limits = new ConnectionLimits({ ...config.smtp, maxSessions: config.smtp.maxClients })
    this.maxClients = config.smtp.maxClients
  }

  /** The node's answer on its counts now (leased slots count as taken). */
  admit(slot: number, id: string, address: string, bound: boolean, now: number): Refusal | undefined {
    if (this.limits.sessionCount + this.leased >= this.maxClients) return "clients"
    const key = `${slot}\0${id}`
    const refusal = this.limits.admit(key, address, bound, now)
    if (refusal === undefined) {
      let ids = this.bySlot.get(slot)
      if (ids === undefined) this.bySlot.set(slot, (ids = new Set()))
      ids.add(key)
    }
    return refusal
  }

  /**
   * A worker's admission request: answered now, or, when only leased slots
   * that may be free stand between it and maxClients, once the workers have
   * given their free slots back. A session bound at connect that is admitted
   * may bring its worker a lease.
   */
  request(slot: number, id: string, address: string, bound: boolean, now: number, answer: AdmitAnswer): void {
    const r: Request = { slot, id, address, bound, answer }
    if (this.revoking !== undefined) this.waiting.push(r)
    else this.decide(r, now)
  }

  /** a worker's answer to a revoke: `free` slots came back */
  revoked(slot: number, free: number, now: number): void {
    this.returned(slot, free)
    if (this.revoking === undefined || !this.revoking.slots.delete(slot)) return
    if (this.revoking.slots.size === 0) this.revokeDone(now)
  }

  /** slots a worker sent back (a session on a slot closed after a revoke) */
  returned(slot: number, slots: number): void {
    const lease = this.leases.get(slot)
    if (lease === undefined) return
    const n = Math.min(slots, lease.leased)
    lease.leased -= n
    this.leased -= n
  }

  bound(slot: number, id: string): void {
    this.limits.bound(`${slot}\0${id}`)
  }

  closed(slot: number, id: string): void {
    // closed while held: the worker stopped waiting, nothing to admit
    if (this.waiting.length > 0) this.waiting = this.waiting.filter((r) => r.slot !== slot || r.id !== id)
    const key = `${slot}\0${id}`
    this.bySlot.get(slot)?.delete(key)
    this.limits.closed(key)
  }

  /** a worker exited: its sessions and its slots went with it */
  workerExited(slot: number, now: number = Date.now()): void {
    for (const key of this.bySlot.get(slot) ?? []) this.limits.closed(key)
    this.bySlot.delete(slot)
    this.returned(slot, Infinity)
    this.leases.delete(slot)
    this.waiting = this.waiting.filter((r) => r.slot !== slot)
    this.revoked(slot, 0, now)
  }

  /** the node's unbound sessions now (specs) */
  get unboundSessions(): number {
    return this.limits.unboundSessions
  }

  /** slots leased to workers now (specs) */
  get leasedSlots(): number {
    return this.leased
  }

  private decide(r: Request, now: number): void {
    const refusal = this.admit(r.slot, r.id, r.address, r.bound, now)
    if (refusal === "clients") {
      const mayBeFree = [...this.leases].filter(([, lease]) => lease.reuse && lease.leased > 0).map(([slot]) => slot)
      if (mayBeFree.length > 0) {
        this.waiting.push(r)
        return this.startRevoke(mayBeFree)
      }
    }
    r.answer(refusal, refusal === undefined && r.bound ? this.grant(r.slot) : 0)
  }

  /** a worker that asked for a session bound at connect has no free slot: more, while the node is far from maxClients */
  private grant(slot: number): number {
    if (this.limits.sessionCount + this.leased + LEASE_SLOTS > this.maxClients * LEASE_SHARE) return 0
    let lease = this.leases.get(slot)
    if (lease === undefined) this.leases.set(slot, (lease = { leased: 0, reuse: true }))
    lease.leased += LEASE_SLOTS
    lease.reuse = true
    this.leased += LEASE_SLOTS
    return LEASE_SLOTS
  }

  private startRevoke(slots: ReadonlyArray<number>): void {
    for (const slot of slots) this.leases.get(slot)!.reuse = false
    this.revoking = { slots: new Set(slots), timer: setTimeout(() => this.revokeDone(Date.now()), REVOKE_TIMEOUT_MS) }
    for (const slot of slots) this.revoke(slot)
  }

  /** every worker answered (or the wait ended): the held admissions in order, on the counts now */
  private revokeDone(now: number): void {
    if (this.revoking === undefined) return
    clearTimeout(this.revoking.timer)
    this.revoking = undefined
    const queue = this.waiting
    this.waiting = []
    while (queue.length > 0) {
      // a held admission may grant a lease and a later one revoke it again: the rest wait again, in order
      if (this.revoking !== undefined) return void this.waiting.push(...queue)
      this.decide(queue.shift()!, now)
    }
  }
}
