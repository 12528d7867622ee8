import type { ImprintConfig } from "../config.js"
import { type AuthEvent, type AuthPermit, AuthThrottle, type AuthThrottlePeers } from "../pipeline/inbound/AuthThrottle.js"

/**
 * The node's AUTH throttle with `workers: N`, kept in the primary: before a
 * worker verifies a password it asks for a permit, and the primary counts the
 * attempts in flight together with the failures of the window, per (address,
 * username) and per address. Counted only once they fail, attempts made at the
 * same moment (on any worker, or on one) were all checked against counts that
 * did not yet hold each other's failures: k parallel sessions got k verified
 * guesses past the limit.
 *
 * An attempt is
 * - **granted** when it cannot exceed a limit even if every attempt in flight
 *   fails (failures + in flight + 1 ≤ limit): counted in flight until its
 *   outcome comes back;
 * - **refused** when the failures alone have reached a limit (454, as before);
 * - **queued** otherwise: it could exceed a limit only if attempts in flight
 *   fail, so it waits for them (each outcome looks at the queue again), at most
 *   QUEUE_WAIT_MS, then is refused. A tenant's server opening many sessions at
 *   once with the right password is slowed (a few verifications at a time), not
 *   throttled: each success clears its (address, username) count.
 *
 * Hence the limits are exact for the node: every verification was granted
 * while failures + in flight stayed within the limit, and an attempt stops
 * being in flight only when its failure (if it failed) is counted. A worker
 * whose primary does not answer decides on its own counts (WorkerChannel);
 * a worker that exits gives its permits back.
 */

/** a queued attempt is refused (454) after waiting this long for the attempts in flight before it */
export const QUEUE_WAIT_MS = 5_000
/** attempts waiting at most, node-wide (beyond: refused at once) */
export const MAX_QUEUED = 10_000

export type PermitAnswer = "granted" | "refused" | "queued"

interface Held {
  readonly address: string
  readonly username: string
}

interface Waiting extends Held {
  readonly key: string
  readonly timer: ReturnType<typeof setTimeout>
  /** the final answer of a queued attempt */
  readonly answer: (granted: boolean) => void
}

const pairKey = (address: string, username: string) => `${address}\0${username}`

const bump = (m: Map<string, number>, key: string, by: number) => {
  const n = (m.get(key) ?? 0) + by
  if (n <= 0) m.delete(key)
  else m.set(key, n)
}

export class NodeAuthPermits {
  private readonly throttle: AuthThrottle
  private readonly inFlightPairs = new Map<string, number>()
  private readonly inFlightAddresses = new Map<string, number>()
  /** granted and not yet given back, by `slot\0id` */
  private readonly held = new Map<string, Held>()
  /** queued attempts by address, first come first served */
  private readonly queues = new Map<string, Map<string, Waiting>>()
  private queued = 0

  constructor(config: ImprintConfig) {
    this.throttle = new AuthThrottle(config.smtp.authFailuresBeforeThrottle, config.smtp.authFailuresPerAddress, config.smtp.authThrottleMs)
  }

  /** A worker asks before verifying; `later` gets the final answer of a queued attempt. */
  request(slot: number, id: number, address: string, username: string, now: number, later: (granted: boolean) => void): PermitAnswer {
    const key = `${slot}\0${id}`
    const answer = this.decide(key, address, username, now)
    if (answer !== "queued") return answer
    if (this.queued >= MAX_QUEUED) return "refused"
    const timer = setTimeout(() => {
      if (this.dequeue(address, key)) later(false)
    }, QUEUE_WAIT_MS)
    let queue = this.queues.get(address)
    if (queue === undefined) this.queues.set(address, (queue = new Map()))
    queue.set(key, { key, address, username, timer, answer: later })
    this.queued++
    return "queued"
  }

  /**
   * An attempt's outcome (every worker's, with or without a permit): counted;
   * its permit, if any, is given back, and the queue looked at again.
   */
  outcome(slot: number, event: AuthEvent, permit: number | undefined, now: number): void {
    this.throttle.apply(event)
    if (permit !== undefined) this.giveBack(`${slot}\0${permit}`)
    this.wake(event.address, now)
  }

  /** a permit the worker did not use (it had stopped waiting) */
  release(slot: number, permit: number, now: number): void {
    const held = this.held.get(`${slot}\0${permit}`)
    this.giveBack(`${slot}\0${permit}`)
    if (held !== undefined) this.wake(held.address, now)
  }

  /** a worker exited: its permits come back, its queued attempts are gone */
  workerExited(slot: number, now: number): void {
    const prefix = `${slot}\0`
    const addresses = new Set<string>()
    for (const [key, held] of this.held) {
      if (!key.startsWith(prefix)) continue
      this.giveBack(key)
      addresses.add(held.address)
    }
    for (const queue of [...this.queues.values()]) {
      for (const waiting of queue.values()) {
        if (!waiting.key.startsWith(prefix)) continue
        clearTimeout(waiting.timer)
        this.dequeue(waiting.address, waiting.key)
      }
    }
    for (const address of addresses) this.wake(address, now)
  }

  /** attempts in flight now (specs) */
  get inFlight(): number {
    return this.held.size
  }

  /** attempts waiting now (specs) */
  get waiting(): number {
    return this.queued
  }

  private decide(key: string, address: string, username: string, now: number): PermitAnswer {
    if (this.throttle.isThrottled(address, username, now)) return "refused"
    const pair = pairKey(address, username)
    if (this.throttle.isThrottled(address, username, now, this.inFlightPairs.get(pair) ?? 0, this.inFlightAddresses.get(address) ?? 0)) return "queued"
    bump(this.inFlightPairs, pair, 1)
    bump(this.inFlightAddresses, address, 1)
    this.held.set(key, { address, username })
    return "granted"
  }

  private giveBack(key: string): void {
    const held = this.held.get(key)
    if (held === undefined) return
    this.held.delete(key)
    bump(this.inFlightPairs, pairKey(held.address, held.username), -1)
    bump(this.inFlightAddresses, held.address, -1)
  }

  private dequeue(address: string, key: string): boolean {
    const queue = this.queues.get(address)
    if (queue === undefined || !queue.delete(key)) return false
    if (queue.size === 0) this.queues.delete(address)
    this.queued--
    return true
  }

  /** the queued attempts from `address`, in order: each granted or refused now, or left waiting */
  private wake(address: string, now: number): void {
    const queue = this.queues.get(address)
    if (queue === undefined) return
    for (const waiting of queue.values()) {
      const answer = this.decide(waiting.key, waiting.address, waiting.username, now)
      if (answer === "queued") continue
      clearTimeout(waiting.timer)
      this.dequeue(address, waiting.key)
      waiting.answer(answer === "granted")
    }
  }
}

/**
 * One process (no `workers`): the same permits, asked in-process. Without them
 * the sessions of one process had the same gap as workers: attempts sent at the
 * same moment on k sessions were all checked before any had failed, k verified
 * guesses past the limit (spec/e2e/AuthParallel.test.ts). There are no other
 * processes to tell, so `subscribe` has nothing to apply.
 */
export const localAuthPeers = (config: ImprintConfig): AuthThrottlePeers => {
  const permits = new NodeAuthPermits(config)
  let next = 0
  return {
    permit: (address, username) =>
      new Promise<AuthPermit>((resolve) => {
        const id = ++next
        const settle = (granted: boolean) => resolve(granted ? { refused: false, id } : { refused: true })
        const answer = permits.request(0, id, address, username, Date.now(), settle)
        if (answer !== "queued") settle(answer === "granted")
      }),
    publish: (event, permit) => {
      permits.outcome(0, event, permit, Date.now())
      return Promise.resolve()
    },
    subscribe: () => undefined
  }
}
