/**
 * Failed AUTH attempts, counted per (source address, username) and per source
 * address. After `perUser` failures inside `windowMs` that username is refused
 * AUTH from that address until the window has passed, so a password cannot be
 * guessed at line speed; one tenant's misconfigured server (wrong password,
 * its own username) never locks out another tenant behind the same address.
 * Against spraying many usernames from one address, the address as a whole is
 * refused after `perAddress` failures, a much higher ceiling. A successful
 * login clears its own (address, username) count only. Bounded: at most
 * MAX_TRACKED keys of each kind are remembered (the oldest are forgotten first).
 */
export const MAX_TRACKED = 10_000

interface Entry {
  failures: number
  since: number
}

class Counter {
  private readonly entries = new Map<string, Entry>()

  constructor(private readonly windowMs: number) {}

  failures(key: string, now: number): number {
    const e = this.entries.get(key)
    if (e === undefined) return 0
    if (now - e.since > this.windowMs) {
      this.entries.delete(key)
      return 0
    }
    return e.failures
  }

  add(key: string, now: number): void {
    const e = this.entries.get(key)
    if (e !== undefined && now - e.since <= this.windowMs) {
      e.failures += 1
      return
    }
    this.entries.delete(key)
    this.entries.set(key, { failures: 1, since: now })
    if (this.entries.size > MAX_TRACKED) this.entries.delete(this.entries.keys().next().value!)
  }

  clear(key: string): void {
    this.entries.delete(key)
  }
}

/** One AUTH outcome, as the other relay processes of the node (workers) hear of it. */
export interface AuthEvent {
  readonly failed: boolean
  readonly address: string
  readonly username: string
  /** when it happened (ms since the epoch): a replayed failure counts in its own window */
  readonly at: number
}

/**
 * The node's answer before a password is verified (workers): `refused` means
 * throttled for the node; `id` names the permit the outcome gives back
 * (absent: decided on this process's own counts, no permit held).
 */
export interface AuthPermit {
  readonly refused: boolean
  readonly id?: number
}

/**
 * The throttles of the node's other relay processes (src/workers/), so that a
 * guesser spreading attempts over the workers meets one count. Absent: the
 * throttle is this process's alone.
 */
export interface AuthThrottlePeers {
  /**
   * Asked before a password is verified: the node counts attempts in flight
   * with the failures, so attempts made at the same moment (on any worker)
   * cannot pass the limit together. An attempt that could exceed it only if
   * those in flight fail waits for them (it is not refused).
   */
  readonly permit: (address: string, username: string) => Promise<AuthPermit>
  /**
   * Tells the others (and gives the permit back); resolves once each will
   * have applied it before it takes any later connection.
   */
  readonly publish: (event: AuthEvent, permit?: number) => Promise<void>
  /** the others' events, applied to this process's counts */
  readonly subscribe: (apply: (event: AuthEvent) => void) => void
}

/** NUL cannot occur in an address, and AUTH PLAIN cannot carry it inside a username */
const pairKey = (address: string, username: string) => `${address}\0${username}`

export class AuthThrottle {
  private readonly pairs: Counter
  private readonly addresses: Counter

  constructor(
    private readonly perUser: number,
    private readonly perAddress: number,
    windowMs: number
  ) {
    this.pairs = new Counter(windowMs)
    this.addresses = new Counter(windowMs)
  }

  /**
   * `inFlightPair` / `inFlightAddress`: attempts being verified now that may
   * still fail (the primary of `workers: N` counts them, NodeAuthPermits).
   */
  isThrottled(address: string, username: string, now: number, inFlightPair = 0, inFlightAddress = 0): boolean {
    return (
      this.pairs.failures(pairKey(address, username), now) + inFlightPair >= this.perUser ||
      this.addresses.failures(address, now) + inFlightAddress >= this.perAddress
    )
  }

  failed(address: string, username: string, now: number): void {
    this.pairs.add(pairKey(address, username), now)
    this.addresses.add(address, now)
  }

  succeeded(address: string, username: string): void {
    this.pairs.clear(pairKey(address, username))
  }

  /** An outcome seen by another process. */
  apply(event: AuthEvent): void {
    if (event.failed) this.failed(event.address, event.username, event.at)
    else this.succeeded(event.address, event.username)
  }
}
