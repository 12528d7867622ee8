import { Clock, Duration, Effect, Exit, Scope } from "effect"
import type { Downstream as DownstreamConfig } from "../../domain/Tenant.js"
import type { SmtpClient } from "./SmtpClient.js"

/**
 * Idle downstream sessions kept for the next upstream session, as Postfix's
 * SMTP connection cache does. Without it every upstream connection pays for a
 * downstream connect, greeting, EHLO (and STARTTLS, AUTH) and QUIT: about as
 * much relay CPU as a whole 10 KB message, and two or more round trips of
 * latency.
 *
 * A session enters the pool only between transactions (DownstreamLink never
 * offers one with a transaction open) and only while its client reports it
 * reusable: connected, no reply awaited, nothing unread. Sessions are keyed by
 * everything that shapes them (host, port, TLS policy, certificate check,
 * credentials), so a tenant's authenticated session never carries another
 * tenant's mail. A pooled session that the downstream closed or answers 421 to
 * is replaced by a fresh one before anything is mirrored upstream (DownstreamLink).
 */

export interface PoolLimits {
  /** idle sessions kept per downstream; 0 turns pooling off */
  readonly maxIdlePerTarget: number
  /** an idle session older than this is closed (QUIT) */
  readonly idleMs: number
  /** a session is not reused once it is this old, so long-lived sessions are recycled */
  readonly maxAgeMs: number
}

export interface PooledSession {
  readonly client: SmtpClient
  /** closing it sends QUIT and drops the connection */
  readonly scope: Scope.CloseableScope
  /** Clock millis at connect */
  readonly openedAt: number
}

interface Idle {
  readonly session: PooledSession
  readonly since: number
}

/** The sweeper never sleeps longer than this, so an idle session outlives idleMs by at most about this much. */
const MAX_SWEEP_INTERVAL_MS = 1_000

/** keys by configuration object: a tenant's downstream is one object until the tenant is reloaded */
const keys = new WeakMap<DownstreamConfig, string>()

/** Everything that makes two downstream sessions interchangeable (asked on every MAIL, so remembered per object). */
export const poolKey = (target: DownstreamConfig): string => {
  let key = keys.get(target)
  if (key === undefined) {
    key = JSON.stringify([target.host, target.port, target.tls, target.rejectUnauthorized, target.auth?.user ?? null, target.auth?.pass ?? null])
    keys.set(target, key)
  }
  return key
}

const close = (session: PooledSession) => Scope.close(session.scope, Exit.void)

export class DownstreamPool {
  private readonly idle = new Map<string, Array<Idle>>()
  /** unusable sessions take() met: closed by the next sweep, so a MAIL never waits for their QUIT */
  private retired: Array<PooledSession> = []
  private closed = false

  private constructor(
    private readonly limits: PoolLimits,
    private readonly clock: Clock.Clock
  ) {}

  /** A pool that closes its idle sessions when they expire and all of them when the scope closes. */
  static readonly make = (limits: PoolLimits): Effect.Effect<DownstreamPool, never, Scope.Scope> =>
    Effect.gen(function* () {
      const pool = new DownstreamPool(limits, yield* Effect.clock)
      yield* Effect.addFinalizer(() => pool.shutdown)
      if (limits.maxIdlePerTarget > 0) {
        const interval = Duration.millis(Math.max(1, Math.min(limits.idleMs, MAX_SWEEP_INTERVAL_MS)))
        yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep(interval), pool.sweep)))
      }
      return pool
    })

  /** Keeps nothing: every session given back is closed (dry runs, which never connect). */
  static readonly none = (): DownstreamPool => new DownstreamPool({ maxIdlePerTarget: 0, idleMs: 1, maxAgeMs: 1 }, Clock.make())

  /** Idle sessions held now, over all downstreams. */
  get size(): number {
    let n = 0
    for (const list of this.idle.values()) n += list.length
    return n
  }

  /** The most recently used idle session for `key` that is still usable; unusable ones met on the way are retired. */
  take(key: string): Effect.Effect<PooledSession | undefined> {
    return Effect.sync(() => {
      const list = this.idle.get(key)
      if (list === undefined) return undefined
      const now = this.clock.unsafeCurrentTimeMillis()
      let found: PooledSession | undefined
      while (found === undefined && list.length > 0) {
        const entry = list.pop()!
        if (this.usable(entry, now)) found = entry.session
        else this.retired.push(entry.session)
      }
      if (list.length === 0) this.idle.delete(key)
      return found
    })
  }

  /** Keeps a session between transactions for the next taker, or closes it (pool full, closed, too old, not reusable). */
  give(key: string, session: PooledSession): Effect.Effect<void> {
    return Effect.suspend(() => {
      const now = this.clock.unsafeCurrentTimeMillis()
      const list = this.idle.get(key) ?? []
      if (this.closed || list.length >= this.limits.maxIdlePerTarget || !this.usable({ session, since: now }, now)) return close(session)
      list.push({ session, since: now })
      this.idle.set(key, list)
      return Effect.void
    })
  }

  private usable(entry: Idle, now: number): boolean {
    return now - entry.since < this.limits.idleMs && now - entry.session.openedAt < this.limits.maxAgeMs && entry.session.client.reusable()
  }

  /** Closes idle sessions past their time, those the downstream closed, and those take() retired. */
  readonly sweep: Effect.Effect<void> = Effect.suspend(() => {
    const now = this.clock.unsafeCurrentTimeMillis()
    const expired = this.retired
    this.retired = []
    for (const [key, list] of this.idle) {
      const keep: Array<Idle> = []
      for (const entry of list) {
        if (this.usable(entry, now)) keep.push(entry)
        else expired.push(entry.session)
      }
      if (keep.length === 0) this.idle.delete(key)
      else if (keep.length !== list.length) this.idle.set(key, keep)
    }
    return Effect.forEach(expired, close, { discard: true, concurrency: "unbounded" })
  })

  private readonly shutdown: Effect.Effect<void> = Effect.suspend(() => {
    this.closed = true
    const all = [...this.idle.values()]
      .flat()
      .map((entry) => entry.session)
      .concat(this.retired)
    this.idle.clear()
    this.retired = []
    return Effect.forEach(all, close, { discard: true, concurrency: "unbounded" })
  })
}
