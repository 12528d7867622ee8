import { Clock, Effect, Either, Exit, Metric, Option, Scope } from "effect"
import type { Readable } from "node:stream"
import type { Downstream as DownstreamConfig } from "../domain/Tenant.js"
import { DownstreamRefused, PipelineFailed, type RelayError } from "./RelayError.js"
import { DownstreamPool, poolKey, type PooledSession } from "./downstream/DownstreamPool.js"
import { downstreamSessionBy } from "./RelayMetrics.js"
import { connect, type DownstreamError, type MailParams } from "./downstream/SmtpClient.js"
import type { SmtpReply } from "./downstream/SmtpReply.js"

/**
 * One connection to a downstream and the transactions on it. An upstream
 * session's primary link mirrors MAIL and RCPT as they arrive; DATA is driven
 * by Transaction, which may open more links for per-recipient copies. A
 * failure drops the connection, so the downstream never completes a
 * transaction Imprint did not finish (invariant 2).
 */

export interface DownstreamTimeoutsMs {
  readonly connectMs: number
  readonly commandMs: number
  readonly dataMs: number
}

interface Link extends PooledSession {
  /** poolKey of the downstream it is connected to */
  readonly key: string
  /** taken from the pool: it may have died while idle, so a first failure is retried on a fresh session */
  reused: boolean
  /** a MAIL was sent and its transaction has not ended (DATA answered, or RSET): never pooled */
  open: boolean
}

export type { MailParams }

const isPositive = (r: SmtpReply) => r.code >= 200 && r.code < 300

/** How a pooled session that went stale while idle answers its first command. */
const staleAnswer = (result: Either.Either<SmtpReply, DownstreamError>): boolean =>
  Either.isLeft(result) ? result.left._tag === "DownstreamUnavailable" : result.right.code === 421

/** What MAIL settled on a link, kept so a parked transaction can be mirrored again. */
interface Envelope {
  readonly target: DownstreamConfig
  readonly from: string
  readonly params: MailParams
}

export class DownstreamLink {
  private link: Link | undefined
  /** the open transaction's envelope */
  private current: Envelope | undefined
  /** set by park(): the transaction's connection was given back; resume() mirrors it again */
  private parkedTx: Envelope | undefined

  constructor(
    private readonly clientName: string,
    private readonly timeouts: DownstreamTimeoutsMs,
    private readonly pool: DownstreamPool
  ) {}

  private readonly drop = Effect.suspend(() => {
    const link = this.link
    this.link = undefined
    return link ? Scope.close(link.scope, Exit.void) : Effect.void
  })

  /**
   * A connected link to `target` ready for MAIL: the session's own when idle
   * (after RSET when a transaction was left open), else an idle pooled one,
   * else a new connection.
   */
  private ensure(target: DownstreamConfig): Effect.Effect<Link, RelayError> {
    return Effect.gen(this, function* () {
      const key = poolKey(target)
      // the tenant's downstream changed since this session connected
      if (this.link !== undefined && this.link.key !== key) yield* this.release
      if (this.link?.open) {
        const reset = yield* this.link.client.rset().pipe(Effect.option)
        if (Option.isSome(reset) && isPositive(reset.value)) this.link.open = false
        else yield* this.drop
      }
      if (this.link) return this.link
      const pooled = yield* this.pool.take(key)
      this.link = pooled ? { ...pooled, key, reused: true, open: false } : yield* this.connect(target, key)
      yield* Metric.increment(pooled ? downstreamSessionBy.pooled : downstreamSessionBy.new)
      return this.link
    })
  }

  private connect(target: DownstreamConfig, key: string): Effect.Effect<Link, RelayError> {
    return Effect.gen(this, function* () {
      const scope = yield* Scope.make()
      const client = yield* connect({
        host: target.host,
        port: target.port,
        tls: target.tls,
        rejectUnauthorized: target.rejectUnauthorized,
        auth: target.auth,
        clientName: this.clientName,
        connectTimeoutMs: this.timeouts.connectMs,
        commandTimeoutMs: this.timeouts.commandMs,
        dataTimeoutMs: this.timeouts.dataMs
      }).pipe(
        Scope.extend(scope),
        Effect.tapError(() => Scope.close(scope, Exit.void))
      )
      return { client, scope, openedAt: yield* Clock.currentTimeMillis, key, reused: false, open: false }
    })
  }

  /**
   * Mirror MAIL FROM; a non-2xx reply comes back as DownstreamRefused. A pooled
   * session that turns out dead (connection gone, or 421: the downstream ended
   * it while idle) is dropped and MAIL is sent once more on a fresh connection,
   * so the upstream hears the downstream's real answer.
   */
  mail(target: DownstreamConfig, from: string, params: MailParams): Effect.Effect<void, RelayError> {
    return Effect.suspend(() => {
      this.parkedTx = undefined
      this.current = undefined
      const link = this.link
      // the usual case, the session's own idle link to the same downstream (ensure() would return it as it
      // is), not taken from the pool (no stale retry): a flatMap chain, what the general path does for it
      if (link === undefined || link.open || link.reused || link.key !== poolKey(target)) return this.mailAnyLink(target, from, params)
      return Effect.matchEffect(link.client.mail(from, params), {
        onFailure: (e) => Effect.zipRight(this.drop, Effect.fail(e)),
        onSuccess: (reply) => this.opened(link, reply, { target, from, params })
      })
    })
  }

  private mailAnyLink(target: DownstreamConfig, from: string, params: MailParams): Effect.Effect<void, RelayError> {
    return Effect.gen(this, function* () {
      // the session's own idle link to the same downstream: ensure() would return it as it is
      const ready = this.link !== undefined && !this.link.open && this.link.key === poolKey(target) ? this.link : undefined
      let link = ready ?? (yield* this.ensure(target))
      let result = yield* Effect.either(link.client.mail(from, params))
      if (link.reused && staleAnswer(result)) {
        yield* Metric.increment(downstreamSessionBy.stale)
        yield* this.drop
        link = yield* this.ensure(target)
        result = yield* Effect.either(link.client.mail(from, params))
      }
      link.reused = false
      if (Either.isLeft(result)) {
        yield* this.drop
        return yield* result.left
      }
      return yield* this.opened(link, result.right, { target, from, params })
    })
  }

  /** the downstream's answer to MAIL: refused, or the link's transaction open (mirrored by `current`) */
  private opened(link: Link, reply: SmtpReply, current: Envelope): Effect.Effect<void, RelayError> {
    if (!isPositive(reply)) return Effect.fail(new DownstreamRefused({ reply, phase: "mail" }))
    link.open = true
    this.current = current
    return Effect.void
  }

  /** A transaction was parked (its connection released while the upstream idled) and is not mirrored again yet. */
  get parked(): boolean {
    return this.parkedTx !== undefined
  }

  /**
   * Gives the connection of an open transaction back while the upstream idles
   * (ConnectionLimits): RSET, then to the pool (dropped if RSET fails). The
   * link is free at once, so a command racing this one starts afresh.
   */
  readonly park: Effect.Effect<void> = Effect.suspend(() => {
    const link = this.link
    if (link === undefined || !link.open || this.current === undefined) return Effect.void
    this.link = undefined
    this.parkedTx = this.current
    return link.client.rset().pipe(
      Effect.option,
      Effect.flatMap((reset) => {
        if (Option.isNone(reset) || !isPositive(reset.value)) return Scope.close(link.scope, Exit.void)
        link.open = false
        return this.pool.give(link.key, link)
      })
    )
  })

  /**
   * Mirrors a parked transaction again with every recipient the upstream has
   * been told is accepted. All or nothing: on any failure the connection is
   * dropped and the transaction stays parked, so DATA can never go to a
   * recipient set smaller than the upstream's.
   */
  resume(recipients: ReadonlyArray<string>): Effect.Effect<void, RelayError> {
    return Effect.suspend(() => {
      const tx = this.parkedTx
      if (tx === undefined) return Effect.void
      return this.transaction(tx.target, tx.from, tx.params, recipients).pipe(
        Effect.tapError(() =>
          Effect.zipRight(
            this.drop,
            Effect.sync(() => (this.parkedTx = tx))
          )
        )
      )
    })
  }

  /**
   * Mirror RCPT TO. `dataFollows`: the upstream's DATA is already read after this RCPT, so
   * a downstream that pipelines gets DATA in the same write (its reply kept for `send`;
   * SmtpClient.rcptThenData).
   */
  rcpt(to: string, dataFollows = false): Effect.Effect<void, RelayError> {
    return Effect.suspend((): Effect.Effect<void, RelayError> => {
      const link = this.link
      if (!link?.open) return Effect.fail(new PipelineFailed({ detail: "RCPT without a downstream transaction" }))
      return Effect.matchEffect(dataFollows ? link.client.rcptThenData(to) : link.client.rcpt(to), {
        onFailure: (e) => Effect.zipRight(this.drop, Effect.fail(e)),
        onSuccess: (reply) => (isPositive(reply) ? Effect.void : Effect.fail(new DownstreamRefused({ reply, phase: "rcpt" })))
      })
    })
  }

  /**
   * Sends one message's bytes as this link's DATA. The reply comes back as it
   * came (the caller decides about non-2xx); a failure drops the connection,
   * which aborts the transaction before its terminating dot.
   */
  send(output: Readable): Effect.Effect<SmtpReply, RelayError> {
    return Effect.suspend((): Effect.Effect<SmtpReply, RelayError> => {
      const link = this.link
      if (!link?.open) return Effect.fail(new PipelineFailed({ detail: "DATA without a downstream transaction" }))
      return Effect.map(
        // any failure or an interruption drops the link (one region for both)
        Effect.onError(link.client.data(output), () => this.drop),
        (reply) => {
          // open until here: a session that ends while the body streams must not pool the connection.
          // A refusal may be the DATA command's (instead of 354), which leaves the downstream's
          // transaction open: the next MAIL sends RSET first, and the link is not pooled as it is.
          link.open = !isPositive(reply)
          return reply
        }
      )
    })
  }

  /** MAIL and RCPT for exactly `recipients` (after RSET when a transaction is open): one copy's transaction. */
  transaction(target: DownstreamConfig, from: string, params: MailParams, recipients: ReadonlyArray<string>): Effect.Effect<void, RelayError> {
    return Effect.gen(this, function* () {
      yield* this.mail(target, from, params)
      for (const r of recipients) yield* this.rcpt(r)
    })
  }

  /**
   * Ends this upstream session's use of the link: back to the pool when no
   * transaction is open (the pool closes it if it cannot keep it), else dropped.
   */
  readonly release: Effect.Effect<void> = Effect.suspend(() => {
    this.parkedTx = undefined
    this.current = undefined
    const link = this.link
    if (link === undefined || link.open) return this.drop
    this.link = undefined
    return this.pool.give(link.key, link)
  })
}
