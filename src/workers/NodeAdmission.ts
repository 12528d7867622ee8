import type { ImprintConfig } from "../config.js"
import { ConnectionLimits, type Refusal } from "../pipeline/inbound/ConnectionLimits.js"

/**
 * The node's connection limits with `workers: N`, kept in the primary:
 * `smtp.maxClients`, the unbound share, and the per-address connections and
 * rate count every worker's sessions together, so the node accepts what one
 * process would (not N times it). Chosen over splitting each limit by N: the
 * primary hands connections out in turn, not by address, so with a split one
 * address's sessions can all land on one worker (two clients connecting
 * alternately, two workers) and be refused at half its limit. Cost: one round
 * trip over the cluster channel per new session (and a message when it binds
 * and when it closes). The worker's own ConnectionLimits still runs its
 * timers, and its counts (a share of the node's) refuse a known flood early.
 */
export class NodeAdmission {
  private readonly limits: ConnectionLimits
  /** the sessions each worker holds, to forget them when it exits */
  private readonly bySlot = new Map<number, Set<string>>()

  constructor(config: ImprintConfig) {
    // no unboundTooLong: the workers close sessions that do not bind in time, and tell
    this.limits = new ConnectionLimits({ ...config.smtp, maxSessions: config.smtp.maxClients })
  }

  admit(slot: number, id: string, address: string, bound: boolean, now: number): Refusal | undefined {
    const key = `${slot}\0${id}`
    const refusal = this.limits.admit(key, address, bound, now)
    if (refusal === undefined) {
      let ids = this.bySlot.get(slot)
      if (ids === undefined) this.bySlot.set(slot, (ids = new Set()))
      ids.add(key)
    }
    return refusal
  }

  bound(slot: number, id: string): void {
    this.limits.bound(`${slot}\0${id}`)
  }

  closed(slot: number, id: string): void {
    const key = `${slot}\0${id}`
    this.bySlot.get(slot)?.delete(key)
    this.limits.closed(key)
  }

  /** a worker exited: its sessions went with it */
  workerExited(slot: number): void {
    for (const key of this.bySlot.get(slot) ?? []) this.limits.closed(key)
    this.bySlot.delete(slot)
  }

  /** the node's unbound sessions now (specs) */
  get unboundSessions(): number {
    return this.limits.unboundSessions
  }
}
