import { Cause, Context, Effect, Exit, FiberRef, FiberSet, Metric, Option, Tracer } from "effect"
import type { TLSSocket } from "node:tls"
import { SMTPServer, type SMTPServerAddress, type SMTPServerAuthentication, type SMTPServerSession } from "smtp-server"
import type { ImprintConfig } from "../../config.js"
import { type Tenant, type TenantId } from "../../domain/Tenant.js"
import { ControlPlane } from "../ControlPlane.js"
import { DownstreamPool } from "../DownstreamPool.js"
import { DownstreamLink, type MailParams } from "../Relay.js"
import { NoDownstream, NotBound, type RelayError, SenderNotAllowed, ShuttingDown, toSmtpServerError } from "../RelayError.js"
import { FailSafeMemory } from "../../store/FailSafeMemory.js"
import { TraceSink } from "../../domain/Trace.js"
import { activeSessions } from "../RelayMetrics.js"
import { AuthThrottle } from "./AuthThrottle.js"
import { dataPhase, type MailTransaction } from "./DataPhase.js"

/**
 * The upstream side: smtp-server with Imprint's policy. A session is bound to a
 * tenant by its source address (at connect), its client certificate (after
 * STARTTLS) or SMTP AUTH (TLS only); MAIL is refused until it is (invariant 7).
 * Each session owns a DownstreamLink that mirrors its transactions; its
 * downstream connection goes back to a DownstreamPool when the session ends.
 */

interface SessionState {
  tenant: Option.Option<TenantId>
  /** how `tenant` was bound (the message trace): "address", "certificate", "auth:<username>" */
  boundBy: string
  readonly link: DownstreamLink
  /** what MAIL FROM settled for the transaction in progress */
  mail: MailTransaction | undefined
  inData: boolean
}

/** The parts of smtp-server's connection objects (server.connections) that shutdown uses. */
interface Connection {
  readonly id: string
  send(code: number, text: string, context?: string): void
  close(): void
}

export interface InboundOptions {
  readonly config: ImprintConfig
  readonly tls: { readonly key: string; readonly cert: string }
  readonly stampKey: Buffer
}

export interface Inbound {
  readonly port: number
  readonly activeSessions: () => number
}

const domainOf = (address: string): string => address.slice(address.lastIndexOf("@") + 1).toLowerCase()

export const senderAllowed = (tenant: Tenant, sender: string): boolean => {
  // the null sender (bounces, receipts) carries no domain; the session is bound already
  if (sender === "") return true
  const domain = domainOf(sender)
  return tenant.domains.some((d) => d.toLowerCase() === domain)
}

export const startInbound = Effect.fn("Inbound.start")(function* (options: InboundOptions) {
  const { config, tls, stampKey } = options
  const smtp = config.smtp
  const control = yield* ControlPlane
  const failsafe = yield* FailSafeMemory
  const trace = yield* TraceSink
  // Sessions and messages are not part of this start-up span: under it, every
  // log line of every message would be added to the span's events (Effect's
  // tracer logger) for as long as the server runs.
  const run = yield* FiberSet.makeRuntime<never>().pipe(Effect.locallyWith(FiberRef.currentContext, Context.omit(Tracer.ParentSpan)))
  // made after the FiberSet and before the server, so it closes after the
  // server has let its sessions finish and before session fibers are stopped
  const pool = yield* DownstreamPool.make(config.downstreamPool)
  const sessions = new Map<string, SessionState>()
  const throttle = new AuthThrottle(smtp.authFailuresBeforeThrottle, smtp.authThrottleMs)
  let shuttingDown = false

  /** Runs a relay step for a smtp-server callback; failures become replies here, via toReply. */
  const answer = <A>(effect: Effect.Effect<A, RelayError>, done: (err: Error | null | undefined, value?: A) => void) => {
    run(effect).addObserver((exit) => {
      if (Exit.isSuccess(exit)) return done(null, exit.value)
      const failure = Cause.failureOption(exit.cause)
      if (Option.isSome(failure)) return done(toSmtpServerError(failure.value))
      run(Effect.logError("relay step failed", exit.cause))
      done(Object.assign(new Error("local error, try again later"), { responseCode: 451, enhancedStatusCode: "4.3.0" }))
    })
  }

  const state = (session: SMTPServerSession): SessionState => {
    let s = sessions.get(session.id)
    if (s === undefined) {
      s = { tenant: Option.none(), boundBy: "none", link: new DownstreamLink(smtp.name, config.downstreamTimeouts, pool), mail: undefined, inData: false }
      sessions.set(session.id, s)
      run(Metric.set(activeSessions, sessions.size))
    }
    return s
  }

  const boundTenant = (s: SessionState) =>
    Effect.gen(function* () {
      if (shuttingDown) return yield* new ShuttingDown()
      if (Option.isNone(s.tenant)) return yield* new NotBound()
      const tenant = yield* control.relayState(s.tenant.value)
      if (Option.isNone(tenant)) return yield* new NotBound()
      return tenant.value
    })

  const server = new SMTPServer({
    name: smtp.name,
    banner: "Imprint ESMTP relay",
    key: tls.key,
    cert: tls.cert,
    // ask for a client certificate (certificate connectors) without requiring one
    requestCert: true,
    rejectUnauthorized: false,
    size: smtp.maxMessageSize,
    maxClients: smtp.maxClients,
    socketTimeout: smtp.socketTimeoutMs,
    closeTimeout: smtp.shutdownGraceMs,
    disableReverseLookup: true,
    earlyTalkerDelayMs: smtp.earlyTalkerDelayMs,
    hideENHANCEDSTATUSCODES: false,
    hide8BITMIME: false,
    hideSMTPUTF8: false,
    hidePIPELINING: false,
    authOptional: true,
    allowInsecureAuth: false,
    authMethods: ["PLAIN", "LOGIN"],
    logger: false,
    onConnect(session, done) {
      const s = state(session)
      answer(
        Effect.map(control.bindBySourceAddress(session.remoteAddress), (t) => {
          s.tenant = t
          if (Option.isSome(t)) s.boundBy = "address"
        }),
        done
      )
    },
    onSecure(socket, session, done) {
      const s = state(session)
      const cert = (socket as TLSSocket).getPeerCertificate?.()
      const fingerprint = cert && "fingerprint256" in cert ? cert.fingerprint256 : undefined
      if (!fingerprint) return done()
      answer(
        Effect.map(control.bindByCertificate(fingerprint), (t) => {
          if (Option.isSome(t)) {
            s.tenant = t
            s.boundBy = "certificate"
          }
        }),
        done
      )
    },
    onAuth(auth: SMTPServerAuthentication, session, done) {
      const s = state(session)
      const address = session.remoteAddress
      if (throttle.isThrottled(address, Date.now())) {
        return done(Object.assign(new Error("too many failed authentications, try again later"), { responseCode: 454 }))
      }
      answer(control.bindByCredentials(auth.username ?? "", auth.password ?? ""), (err, tenant) => {
        if (err || tenant === undefined || Option.isNone(tenant)) {
          throttle.failed(address, Date.now())
          // one answer for an unknown user and a wrong password
          return done(Object.assign(new Error("authentication failed"), { responseCode: 535 }))
        }
        throttle.succeeded(address)
        s.tenant = tenant
        s.boundBy = `auth:${auth.username ?? ""}`
        done(null, { user: auth.username })
      })
    },
    onMailFrom(address: SMTPServerAddress, session, done) {
      const s = state(session)
      const params = mailParams(address)
      answer(
        Effect.gen(function* () {
          const tenant = yield* boundTenant(s)
          if (!senderAllowed(tenant, address.address)) return yield* new SenderNotAllowed({ sender: address.address })
          const target = tenant.downstream ?? config.downstream
          if (target === undefined) return yield* new NoDownstream({ tenant: tenant.id })
          s.mail = undefined
          yield* s.link.mail(target, address.address, params)
          s.mail = { tenant: tenant.id, target, from: address.address, params, connector: s.boundBy }
        }),
        done
      )
    },
    onRcptTo(address, session, done) {
      answer(state(session).link.rcpt(address.address), done)
    },
    onData(stream, session, done) {
      const s = state(session)
      s.inData = true
      const transaction = dataPhase({ config, stampKey, control, failsafe, pool, trace }, session, s.link, s.mail, stream).pipe(
        Effect.ensuring(Effect.sync(() => (s.inData = false)))
      )
      answer(transaction, (err, text) => {
        done(err, text)
        // during shutdown a session that finished its transaction is closed right after the reply
        if (shuttingDown) connectionOf(session.id)?.close()
      })
    },
    onClose(session) {
      const s = sessions.get(session.id)
      sessions.delete(session.id)
      run(Metric.set(activeSessions, sessions.size))
      if (s) run(s.link.release)
    }
  } as ConstructorParameters<typeof SMTPServer>[0])

  server.on("error", (e) => run(Effect.logError("smtp server error", e)))

  const connections = (server as unknown as { connections: Set<Connection> }).connections
  const connectionOf = (id: string): Connection | undefined => {
    for (const c of connections) if (c.id === id) return c
    return undefined
  }

  yield* Effect.async<void, Error>((resume) => {
    const onError = (e: Error) => resume(Effect.fail(e))
    server.server.once("error", onError)
    server.listen(smtp.port, smtp.host, () => {
      server.server.off("error", onError)
      resume(Effect.void)
    })
  }).pipe(Effect.orDie)

  // Graceful stop: refuse new sessions, close idle ones now, let transactions in
  // flight finish (bounded by shutdownGraceMs inside smtp-server.close).
  yield* Effect.addFinalizer(() =>
    Effect.async<void>((resume) => {
      shuttingDown = true
      for (const c of connections) {
        if (!sessions.get(c.id)?.inData) {
          c.send(421, "shutting down, try again later", "4.3.2")
          c.close()
        }
      }
      server.close(() => resume(Effect.void))
    }).pipe(
      // smtp-server reports a closed session a tick after its socket closed: links
      // whose session ended just now are released here, before the pool closes
      Effect.zipRight(Effect.suspend(() => {
        const ended = [...sessions.values()]
        sessions.clear()
        return Effect.forEach(ended, (s) => s.link.release, { discard: true })
      }))
    )
  )

  const address = server.server.address()
  const port = typeof address === "object" && address !== null ? address.port : smtp.port
  return { port, activeSessions: () => sessions.size } satisfies Inbound
})

const mailParams = (address: SMTPServerAddress): MailParams => {
  const args = (address.args || {}) as Record<string, string | boolean | undefined>
  const size = typeof args.SIZE === "string" ? Number(args.SIZE) : undefined
  const body = typeof args.BODY === "string" ? args.BODY.toUpperCase() : undefined
  return {
    size: size !== undefined && Number.isSafeInteger(size) ? size : undefined,
    body: body === "8BITMIME" || body === "7BIT" ? body : undefined,
    smtputf8: args.SMTPUTF8 === true || undefined
  }
}
