import { Effect, Exit, Option, Scope } from "effect"
import type { Readable } from "node:stream"
import type { Downstream as DownstreamConfig } from "../domain/Tenant.js"
import { DownstreamRefused, PipelineFailed, type RelayError } from "./RelayError.js"
import { connect, type MailParams, type SmtpClient } from "./smtp/SmtpClient.js"
import type { SmtpReply } from "./smtp/SmtpReply.js"

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

interface Link {
  readonly client: SmtpClient
  readonly scope: Scope.CloseableScope
  /** a MAIL was sent and its transaction has not ended with DATA or RSET */
  open: boolean
}

export type { MailParams }

const isPositive = (r: SmtpReply) => r.code >= 200 && r.code < 300

export class DownstreamLink {
  private link: Link | undefined

  constructor(
    private readonly clientName: string,
    private readonly timeouts: DownstreamTimeoutsMs
  ) {}

  private readonly drop = Effect.suspend(() => {
    const link = this.link
    this.link = undefined
    return link ? Scope.close(link.scope, Exit.void) : Effect.void
  })

  /** A connected link ready for MAIL: reused when idle, RSET when a transaction was left open. */
  private ensure(target: DownstreamConfig): Effect.Effect<Link, RelayError> {
    return Effect.gen(this, function* () {
      if (this.link?.open) {
        const reset = yield* this.link.client.rset().pipe(Effect.option)
        if (Option.isSome(reset) && isPositive(reset.value)) this.link.open = false
        else yield* this.drop
      }
      if (this.link) return this.link
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
      }).pipe(Scope.extend(scope), Effect.tapError(() => Scope.close(scope, Exit.void)))
      this.link = { client, scope, open: false }
      return this.link
    })
  }

  /** Mirror MAIL FROM; a non-2xx reply comes back as DownstreamRefused. */
  mail(target: DownstreamConfig, from: string, params: MailParams): Effect.Effect<void, RelayError> {
    return Effect.gen(this, function* () {
      const link = yield* this.ensure(target)
      const reply = yield* link.client.mail(from, params).pipe(Effect.tapError(() => this.drop))
      if (!isPositive(reply)) return yield* new DownstreamRefused({ reply, phase: "mail" })
      link.open = true
    })
  }

  rcpt(to: string): Effect.Effect<void, RelayError> {
    return Effect.gen(this, function* () {
      const link = this.link
      if (!link?.open) return yield* new PipelineFailed({ detail: "RCPT without a downstream transaction" })
      const reply = yield* link.client.rcpt(to).pipe(Effect.tapError(() => this.drop))
      if (!isPositive(reply)) return yield* new DownstreamRefused({ reply, phase: "rcpt" })
    })
  }

  /**
   * Sends one message's bytes as this link's DATA. The reply comes back as it
   * came (the caller decides about non-2xx); a failure drops the connection,
   * which aborts the transaction before its terminating dot.
   */
  send(output: Readable): Effect.Effect<SmtpReply, RelayError> {
    return Effect.gen(this, function* () {
      const link = this.link
      if (!link?.open) return yield* new PipelineFailed({ detail: "DATA without a downstream transaction" })
      link.open = false
      return yield* link.client.data(output).pipe(Effect.tapErrorCause(() => this.drop), Effect.onInterrupt(() => this.drop))
    })
  }

  /** MAIL and RCPT for exactly `recipients` (after RSET when a transaction is open): one copy's transaction. */
  transaction(target: DownstreamConfig, from: string, params: MailParams, recipients: ReadonlyArray<string>): Effect.Effect<void, RelayError> {
    return Effect.gen(this, function* () {
      yield* this.mail(target, from, params)
      for (const r of recipients) yield* this.rcpt(r)
    })
  }

  readonly close = this.drop
}

