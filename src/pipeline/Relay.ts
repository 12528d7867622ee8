import { Effect, Exit, Option, Scope } from "effect"
import { Joiner, Splitter } from "mailsplit"
import type { Readable } from "node:stream"
import { finished, pipeline } from "node:stream/promises"
import type { Downstream as DownstreamConfig } from "../domain/Tenant.js"
import { HeaderPrefix } from "./HeaderPrefix.js"
import { LineGuard } from "./LineGuard.js"
import { DownstreamRefused, PipelineFailed, type RelayError, UpstreamGone } from "./RelayError.js"
import { type RootFacts, type RootHeaderPolicy, RootHeaders } from "./RootHeaders.js"
import { connect, type MailParams, type SmtpClient } from "./smtp/SmtpClient.js"
import type { SmtpReply } from "./smtp/SmtpReply.js"

/**
 * One upstream session's link to its downstream, and the transactions on it.
 * MAIL and RCPT are mirrored to the downstream as they arrive; DATA streams
 * through LineGuard → Splitter → RootHeaders → Joiner → HeaderPrefix into the downstream's
 * DATA, and the upstream hears 250 only after the downstream said 250
 * (invariant 1). Any failure before the end aborts the downstream transaction
 * before its terminating dot (invariant 2).
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
   * Stream one message: upstream bytes → pipeline → downstream DATA.
   * Returns the downstream's 2xx reply and what the root headers said.
   */
  data(
    upstream: Readable,
    maxBytes: number,
    policy: RootHeaderPolicy
  ): Effect.Effect<{ reply: SmtpReply; facts: RootFacts | undefined; bytes: number }, RelayError> {
    return Effect.gen(this, function* () {
      const link = this.link
      if (!link?.open) return yield* new PipelineFailed({ detail: "DATA without a downstream transaction" })
      link.open = false
      const guard = new LineGuard(maxBytes)
      const headers = new RootHeaders(policy)
      const joiner = new Joiner()
      const output = new HeaderPrefix(() => headers.rootFacts?.prefix)
      const feeding = feed(upstream, guard)
      const pump = Effect.tryPromise({
        try: () => pipeline(guard, new Splitter(), headers, joiner, output),
        catch: (e) => asRelayError(e)
      })
      const send = link.client.data(output).pipe(
        // a downstream that fails mid-stream stops the pump, so the upstream is drained and answered
        Effect.tapError((e) => Effect.sync(() => guard.destroy(new PipelineFailed({ detail: e._tag })))),
        Effect.onInterrupt(() => Effect.sync(() => guard.destroy()))
      )
      const [pumped, sent] = yield* Effect.all([Effect.either(pump), Effect.either(send)], { concurrency: 2 })
      yield* Effect.promise(() => feeding)
      if (pumped._tag === "Left") {
        yield* this.drop
        return yield* Effect.fail(pumped.left)
      }
      if (sent._tag === "Left") {
        yield* this.drop
        return yield* Effect.fail(sent.left)
      }
      if (!isPositive(sent.right)) return yield* new DownstreamRefused({ reply: sent.right, phase: "data" })
      return { reply: sent.right, facts: headers.rootFacts, bytes: guard.bytes }
    })
  }

  /** The upstream reset or ended its transaction before DATA. */
  readonly reset = Effect.suspend(() => (this.link?.open ? this.ensureReset() : Effect.void))

  private ensureReset() {
    return Effect.gen(this, function* () {
      const link = this.link!
      const r = yield* link.client.rset().pipe(Effect.option)
      if (Option.isSome(r) && isPositive(r.value)) link.open = false
      else yield* this.drop
    })
  }

  readonly close = this.drop
}

const asRelayError = (e: unknown): RelayError => {
  if (typeof e === "object" && e !== null && "_tag" in e) return e as RelayError
  return new PipelineFailed({ detail: e instanceof Error ? e.message : String(e) })
}

/**
 * smtp-server's DATA stream must be read to its end for smtp-server to send a
 * reply, whatever happened to the message. So it is piped into the guard while
 * things go well, and drained (unpiped, resumed) once the guard is gone; if the
 * client disconnects, smtp-server closes it without 'end' and the guard is
 * destroyed, which aborts the downstream transaction.
 */
const feed = (upstream: Readable, guard: LineGuard): Promise<void> => {
  upstream.pipe(guard)
  const drain = () => {
    upstream.unpipe(guard)
    upstream.resume()
  }
  guard.once("close", () => {
    if (!upstream.readableEnded) drain()
  })
  return finished(upstream).then(
    () => undefined,
    (e: unknown) => {
      guard.destroy(new UpstreamGone({ detail: e instanceof Error ? e.message : String(e) }))
    }
  )
}

