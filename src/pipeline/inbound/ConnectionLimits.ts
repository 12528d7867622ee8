import { Effect } from "effect"
import { isIPv6, type Server, type Socket } from "node:net"
import type { TooManyConnections } from "./InboundError.js"

/**
 * Who may hold an upstream session, and for how long (issue 13, item 3). A
 * relay that answers every socket until maxClients lets 2,000 idle sockets
 * lock out the tenants it serves; these limits keep room for them:
 *
 * - **Bound at connect** means the source address matched a tenant's CIDR
 *   connector: the tenant's own mail servers, listed by the operator. They are
 *   counted only against maxClients.
 * - Every other session starts **unbound** (it may still bind by TLS client
 *   certificate or AUTH) and counts against `maxUnboundClients`, a smaller
 *   share, until it binds. Unbound sessions are also limited per client address
 *   (an IPv6 client by its /64): concurrent sessions, and new sessions per
 *   minute (a token bucket).
 * - An unbound session must bind within `bindWithinMs`: a client trickling a
 *   command a byte at a time resets every idle timer, and could otherwise hold
 *   its place in the unbound share for ever.
 * - A session idles at most `idleBeforeMailMs` outside a transaction (before its
 *   first MAIL, and between transactions) and `socketTimeoutMs` inside one.
 * - A session idle inside a transaction (after MAIL or RCPT, before DATA) for
 *   `releaseDownstreamAfterMs` gives its downstream connection back; the
 *   transaction is mirrored again on its next RCPT or at DATA.
 *
 * Refusals are a 421 in place of the greeting (no enhanced status code there,
 * RFC 2034), and smtp-server closes the connection.
 *
 * With `workers: N` the counts are the node's, not the process's: a worker
 * asks the primary (AdmissionPeers), which counts every worker's sessions in
 * one ConnectionLimits of its own (no timers there, plus `maxSessions`, the
 * node-wide maxClients); the worker's own instance keeps its timers, and its
 * counts (a share of the node's) still refuse a known flood early.
 */

export interface ConnectionLimitSettings {
  readonly maxUnboundClients: number
  readonly maxConnectionsPerAddress: number
  /** new unbound sessions per address and minute; 0: no rate limit */
  readonly maxConnectionRatePerAddress: number
  readonly idleBeforeMailMs: number
  readonly socketTimeoutMs: number
  readonly releaseDownstreamAfterMs: number
  /** an unbound session must bind (certificate, AUTH) within this, or it is closed */
  readonly bindWithinMs: number
  /** sessions in all, bound or not (the primary's count for the node: smtp-server enforces maxClients per process) */
  readonly maxSessions?: number
}

/**
 * The node's count, when several relay processes share the limits (the
 * primary of `workers: N`). `admit` resolves with the node's answer; `bound`
 * and `closed` are passed on in order after it.
 */
export interface AdmissionPeers {
  readonly admit: (id: string, address: string, boundAtConnect: boolean) => Promise<Refusal | undefined>
  readonly bound: (id: string) => void
  readonly closed: (id: string) => void
}

export type Refusal = TooManyConnections["reason"]

/** A token bucket per address: `tokens` left at `at` (ms). */
interface Bucket {
  tokens: number
  at: number
}

interface Admitted {
  /** the per-address key, while the session counts against its address */
  address: string | undefined
  unbound: boolean
  releaseTimer: NodeJS.Timeout | undefined
  bindTimer: NodeJS.Timeout | undefined
}

/** Addresses whose bucket is tracked; past this, full buckets are forgotten (they carry no information). */
const MAX_TRACKED_ADDRESSES = 50_000

/** Per-address key: the address itself, an IPv6 address by its /64 (one host has a whole /64). */
export const addressKey = (address: string): string => {
  if (!isIPv6(address) || address.startsWith("::ffff:")) return address.replace(/^::ffff:/, "")
  const [head, tail = ""] = address.split("::")
  const left = head === "" ? [] : head.split(":")
  const right = tail === "" ? [] : tail.split(":")
  const groups = address.includes("::") ? [...left, ...Array(8 - left.length - right.length).fill("0"), ...right] : left
  return `${groups
    .slice(0, 4)
    .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ""))
    .join(":")}::/64`
}

/** The part of a socket the idle limits set (Node's socket.setTimeout without a listener changes the duration only). */
export interface TimedSocket {
  setTimeout(ms: number): unknown
}

export class ConnectionLimits {
  private readonly sessions = new Map<string, Admitted>()
  private readonly perAddress = new Map<string, number>()
  private readonly buckets = new Map<string, Bucket>()
  /** sessions waiting for the node's answer (AdmissionPeers); one closed meanwhile is no longer here */
  private readonly pending = new Set<string>()
  private unbound = 0

  /**
   * `unboundTooLong` closes a session that did not bind within bindWithinMs
   * (absent: no timer, the counting alone, as in the primary); `peers` hold
   * the node's count (workers).
   */
  constructor(
    private readonly settings: ConnectionLimitSettings,
    private readonly unboundTooLong?: (id: string) => void,
    private readonly peers?: AdmissionPeers
  ) {}

  /** `admit`, asking the node first when the limits are shared (AdmissionPeers). */
  admitSession(id: string, address: string, boundAtConnect: boolean): Effect.Effect<Refusal | undefined> {
    const peers = this.peers
    if (peers === undefined) return Effect.sync(() => this.admit(id, address, boundAtConnect, Date.now()))
    return Effect.suspend(() => {
      this.pending.add(id)
      return Effect.promise(() => peers.admit(id, address, boundAtConnect))
    }).pipe(
      Effect.map((refusal) => {
        // closed while the node answered: nothing to count here (closed() told the node)
        if (!this.pending.delete(id)) return undefined
        return refusal ?? this.admit(id, address, boundAtConnect, Date.now())
      })
    )
  }

  /** Sessions admitted now, bound or not. */
  get sessionCount(): number {
    return this.sessions.size
  }

  /** Unbound sessions now (for metrics and specs). */
  get unboundSessions(): number {
    return this.unbound
  }

  /** A new session; a refusal means it is answered 421 and closed (it is not admitted). */
  admit(id: string, address: string, boundAtConnect: boolean, now: number): Refusal | undefined {
    if (this.settings.maxSessions !== undefined && this.sessions.size >= this.settings.maxSessions) return "clients"
    if (boundAtConnect) {
      this.sessions.set(id, { address: undefined, unbound: false, releaseTimer: undefined, bindTimer: undefined })
      return undefined
    }
    const s = this.settings
    const key = addressKey(address)
    if (this.unbound >= s.maxUnboundClients) return "unbound-share"
    if ((this.perAddress.get(key) ?? 0) >= s.maxConnectionsPerAddress) return "address-connections"
    if (s.maxConnectionRatePerAddress > 0 && !this.take(key, now)) return "address-rate"
    this.unbound++
    this.perAddress.set(key, (this.perAddress.get(key) ?? 0) + 1)
    const tooLong = this.unboundTooLong
    const bindTimer = tooLong === undefined ? undefined : setTimeout(() => tooLong(id), s.bindWithinMs).unref()
    this.sessions.set(id, { address: key, unbound: true, releaseTimer: undefined, bindTimer })
    return undefined
  }

  /**
   * The refusal `admit` would give, decided from what is known of the address
   * alone, before any session is built: only for an address seen unbound
   * before (a tenant's CIDR-bound server is never tracked, so never refused
   * here). A flood of refused reconnects then costs an accept and one line,
   * not a session each. Consumes nothing.
   */
  refuseEarly(address: string, now: number): Refusal | undefined {
    const key = addressKey(address)
    const count = this.perAddress.get(key)
    const bucket = this.buckets.get(key)
    if (count === undefined && bucket === undefined) return undefined
    const s = this.settings
    if (this.unbound >= s.maxUnboundClients) return "unbound-share"
    if ((count ?? 0) >= s.maxConnectionsPerAddress) return "address-connections"
    if (bucket !== undefined && s.maxConnectionRatePerAddress > 0 && bucket.tokens + (now - bucket.at) * (s.maxConnectionRatePerAddress / 60_000) < 1)
      return "address-rate"
    return undefined
  }

  /** The session bound to a tenant after connect (certificate, AUTH): it leaves the unbound share. */
  bound(id: string): void {
    const a = this.sessions.get(id)
    if (a === undefined || !a.unbound) return
    this.peers?.bound(id)
    a.unbound = false
    clearTimeout(a.bindTimer)
    this.unbound--
  }

  closed(id: string): void {
    this.pending.delete(id)
    // always: the node may have counted a session this process then refused, or one closed while it answered
    this.peers?.closed(id)
    const a = this.sessions.get(id)
    if (a === undefined) return
    this.sessions.delete(id)
    clearTimeout(a.releaseTimer)
    clearTimeout(a.bindTimer)
    if (a.unbound) this.unbound--
    if (a.address !== undefined) {
      const n = (this.perAddress.get(a.address) ?? 1) - 1
      if (n <= 0) this.perAddress.delete(a.address)
      else this.perAddress.set(a.address, n)
    }
  }

  /** Outside a transaction (after connect, after a transaction's reply): the short idle limit. */
  idle(socket: TimedSocket | undefined): void {
    socket?.setTimeout(this.settings.idleBeforeMailMs)
  }

  /**
   * Inside a transaction (MAIL or RCPT accepted): the longer idle limit, and
   * `release` runs if no DATA follows within releaseDownstreamAfterMs.
   */
  inTransaction(id: string, socket: TimedSocket | undefined, release: () => void): void {
    socket?.setTimeout(this.settings.socketTimeoutMs)
    const a = this.sessions.get(id)
    if (a === undefined) return
    clearTimeout(a.releaseTimer)
    a.releaseTimer = setTimeout(release, this.settings.releaseDownstreamAfterMs).unref()
  }

  /** DATA began, or the transaction ended: no release timer. */
  transactionMoved(id: string): void {
    const a = this.sessions.get(id)
    if (a === undefined) return
    clearTimeout(a.releaseTimer)
    a.releaseTimer = undefined
  }

  private take(key: string, now: number): boolean {
    const rate = this.settings.maxConnectionRatePerAddress
    const perMs = rate / 60_000
    const b = this.buckets.get(key)
    const tokens = b === undefined ? rate : Math.min(rate, b.tokens + (now - b.at) * perMs)
    if (tokens < 1) {
      if (b !== undefined) {
        b.tokens = tokens
        b.at = now
      }
      return false
    }
    if (b === undefined && this.buckets.size >= MAX_TRACKED_ADDRESSES) this.forgetFullBuckets(now)
    this.buckets.set(key, { tokens: tokens - 1, at: now })
    return true
  }

  private forgetFullBuckets(now: number): void {
    const rate = this.settings.maxConnectionRatePerAddress
    const perMs = rate / 60_000
    for (const [key, b] of this.buckets) if (b.tokens + (now - b.at) * perMs >= rate) this.buckets.delete(key)
    // all of them busy: an attacker with that many addresses; start over rather than grow
    if (this.buckets.size >= MAX_TRACKED_ADDRESSES) this.buckets.clear()
  }
}

/** How long an early-refused socket may stay half-closed before it is destroyed. */
const EARLY_REFUSAL_CLOSE_MS = 2_000

/**
 * Puts ConnectionLimits.refuseEarly in front of smtp-server's own 'connection'
 * handler: a socket refused there gets the same 421 line a refused session
 * gets, and smtp-server never sees it. The line comes from the caller
 * (`refusalLine`, made from TooManyConnections by RelayError's toReply, the one
 * place replies are made).
 */
export const refuseBeforeSessions = (
  listener: Server,
  limits: ConnectionLimits,
  refused: (reason: Refusal) => void,
  refusalLine: (reason: Refusal) => string
): void => {
  const handlers = listener.listeners("connection") as Array<(socket: Socket) => void>
  listener.removeAllListeners("connection")
  listener.on("connection", (socket: Socket) => {
    const reason = socket.remoteAddress === undefined ? undefined : limits.refuseEarly(socket.remoteAddress, Date.now())
    if (reason === undefined) {
      for (const handler of handlers) handler.call(listener, socket)
      return
    }
    refused(reason)
    socket.on("error", () => undefined)
    socket.setTimeout(EARLY_REFUSAL_CLOSE_MS, () => socket.destroy())
    socket.end(refusalLine(reason))
  })
}
