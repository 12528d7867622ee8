import { Cause, Context, Effect, Exit, FiberRef, FiberSet, Layer, Metric, Option, Tracer } from "effect"
import type { TLSSocket } from "node:tls"
import { SMTPServer, type SMTPServerAddress, type SMTPServerAuthentication, type SMTPServerSession } from "smtp-server"
import type { ImprintConfig } from "../config.js"
import type { SessionBinding } from "../domain/Binding.js"
import { ControlPlane } from "../domain/ControlPlane.js"
import { DownstreamPool } from "./downstream/DownstreamPool.js"
import { DownstreamLink, type MailParams } from "./Relay.js"
import { closesSession, NoDownstream, TooManyConnections, type RelayError, ShuttingDown, toReply, toSmtpServerError } from "./RelayError.js"
import { FailSafeMemory } from "../store/FailSafeMemory.js"
import { TraceSink, UNBOUND_TENANT } from "../domain/Trace.js"
import { activeSessions, recordRefusedConnection, untracedUnboundRefusals } from "./RelayMetrics.js"
import { AuthThrottle, type AuthThrottlePeers } from "./inbound/AuthThrottle.js"
import { type AdmissionPeers, ConnectionLimits, refuseBeforeSessions, type TimedSocket } from "./inbound/ConnectionLimits.js"
import { DataDeadlines } from "./inbound/DataDeadline.js"
import { dataPhase, type MailTransaction } from "./DataPhase.js"
import { dnsDkimKeys } from "./inbound/DkimKeys.js"
import { Microsoft365Gate } from "./inbound/Microsoft365Gate.js"
import { MinuteBudget } from "./inbound/MinuteBudget.js"
import { SessionBinder } from "./inbound/SessionBinder.js"
import { CommandFiber } from "./inbound/CommandFiber.js"
import { type Connection, Shutdown, SHUTDOWN_ENHANCED, SHUTDOWN_TEXT } from "./inbound/Shutdown.js"
import { refusalEntry } from "./TraceEntry.js"
import { logFailure, logOutcome, MAX_REFUSAL_LINES_PER_SESSION } from "./TransactionLog.js"

export { senderAllowed } from "./inbound/SessionBinder.js"

/**
 * Refusals of sessions bound to no tenant traced per node and minute at most:
 * anyone can open sessions, and the trace's storage bound deletes the oldest
 * records of every tenant first, so strangers must not be able to push
 * tenants' records out. Beyond it they are counted (and still logged).
 */
export const UNBOUND_REFUSALS_TRACED_PER_MINUTE = 600

/**
 * The upstream side: smtp-server with Imprint's policy. A session is bound to a
 * tenant by its source address (at connect), its client certificate (after
 * STARTTLS) or SMTP AUTH (TLS only); MAIL is refused until it is (invariant 7).
 * Each session owns a DownstreamLink that mirrors its transactions; its
 * downstream connection goes back to a DownstreamPool when the session ends.
 */

/** smtp-server's session as patched (`pipelined-replies`): the next command already read, with holdPipelinedReplies */
interface PipelinedSession extends SMTPServerSession {
  /** the name of the complete command that follows the one being handled in the input already read (upper-case), if any */
  readonly pipelinedNext?: string
}

interface SessionState {
  readonly session: SMTPServerSession
  readonly binder: SessionBinder
  readonly link: DownstreamLink
  /** runs the session's MAIL, RCPT and DATA, one after the other */
  readonly commands: CommandFiber
  /** what MAIL FROM settled for the transaction in progress */
  mail: MailTransaction | undefined
  inData: boolean
  /** refusal lines written for this session (TransactionLog bounds them) */
  refusals: number
}

export interface InboundOptions {
  readonly config: ImprintConfig
  readonly tls: { readonly key: string; readonly cert: string }
  readonly stampKey: Buffer
  /** the node's other relay processes (workers), which share the AUTH throttle */
  readonly authPeers?: AuthThrottlePeers
  /** the node's count of sessions (workers), which makes the connection limits the node's */
  readonly admissionPeers?: AdmissionPeers
}

export interface Inbound {
  readonly port: number
  readonly activeSessions: () => number
}

/**
 * The SMTP listener, bound: the port it listens on (the configured one, or the one the system
 * chose for port 0) and its open sessions. `InboundListener.layer` is the listener as a scoped
 * Layer, which the composition root (Server.ts) builds: building it binds the port, and closing
 * its scope stops the listener gracefully (Shutdown: no new sessions, 421 to idle ones,
 * transactions in flight finish within shutdownGraceMs).
 */
export class InboundListener extends Context.Tag("imprint/InboundListener")<InboundListener, Inbound>() {
  static readonly layer = (options: InboundOptions) => Layer.scoped(InboundListener, listen(options))
}

/** the one tenant a binding names, if it names one (for log lines before MAIL) */
const boundTenantId = (b: SessionBinding) => (b._tag === "Tenant" ? b.tenantId : undefined)

/** A binding that already says which connector the session came through: only maxClients limits it (ConnectionLimits). */
const isBound = (b: SessionBinding) => b._tag !== "Unbound"

const listen = Effect.fn("Inbound.start")(function* (options: InboundOptions) {
  const { config, tls, stampKey, authPeers, admissionPeers } = options
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
  const throttle = new AuthThrottle(smtp.authFailuresBeforeThrottle, smtp.authFailuresPerAddress, smtp.authThrottleMs)
  authPeers?.subscribe((event) => throttle.apply(event))
  const gate = new Microsoft365Gate(config.microsoft365)
  const dkimKeys = dnsDkimKeys(config.microsoft365.dnsServers)
  const deadlines = new DataDeadlines(smtp)
  const unboundTraceBudget = new MinuteBudget(UNBOUND_REFUSALS_TRACED_PER_MINUTE)
  const limits = new ConnectionLimits(smtp, (id) => connectionOf(id)?.send(421, "not authenticated in time, closing connection", "4.7.0"), admissionPeers)
  yield* Effect.addFinalizer(() => Effect.sync(() => deadlines.close()))

  /** A relay step's end as a smtp-server callback's answer; failures become replies here, via toReply. */
  const settle =
    <A>(done: (err: Error | null | undefined, value?: A) => void) =>
    (exit: Exit.Exit<A, RelayError>) => {
      if (Exit.isSuccess(exit)) return done(null, exit.value)
      const failure = Cause.failureOption(exit.cause)
      if (Option.isSome(failure)) return done(toSmtpServerError(failure.value))
      run(Effect.logError("relay step failed", exit.cause))
      done(Object.assign(new Error("local error, try again later"), { responseCode: 451, enhancedStatusCode: "4.3.0" }))
    }

  /** Runs a relay step for a smtp-server callback in a fiber of its own (the session's steps: connect, TLS, AUTH). */
  const answer = <A>(effect: Effect.Effect<A, RelayError>, done: (err: Error | null | undefined, value?: A) => void) => {
    run(effect).addObserver(settle(done))
  }

  /** Runs a transaction's command (MAIL, RCPT, DATA) in the session's command fiber. */
  const command = <A>(s: SessionState, effect: Effect.Effect<A, RelayError>, done: (err: Error | null | undefined, value?: A) => void) =>
    s.commands.submit(effect, settle(done))

  /** the gauge of open sessions, set with a plain call (no metric labels are in use): a fiber each did it twice per session */
  const sessionsChanged = () => activeSessions.unsafeUpdate(sessions.size, [])

  const state = (session: SMTPServerSession): SessionState => {
    let s = sessions.get(session.id)
    if (s === undefined) {
      s = {
        session,
        binder: new SessionBinder(control, gate),
        link: new DownstreamLink(smtp.name, config.downstreamTimeouts, pool),
        commands: new CommandFiber(run),
        mail: undefined,
        inData: false,
        refusals: 0
      }
      sessions.set(session.id, s)
      sessionsChanged()
    }
    return s
  }

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
    // the idle limit outside a transaction; ConnectionLimits lengthens it inside one
    socketTimeout: smtp.idleBeforeMailMs,
    closeTimeout: smtp.shutdownGraceMs,
    disableReverseLookup: true,
    earlyTalkerDelayMs: smtp.earlyTalkerDelayMs,
    // a pipelined group's replies (MAIL, RCPT, DATA) leave in one write, as RFC 2920 allows (patches/README.md)
    holdPipelinedReplies: true,
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
        Effect.flatMap(s.binder.connected(session.remoteAddress), () => limits.admitSession(session.id, session.remoteAddress, isBound(s.binder.binding))).pipe(
          Effect.flatMap((refused) =>
            refused === undefined ? Effect.void : Effect.zipRight(recordRefusedConnection(refused), new TooManyConnections({ reason: refused }))
          )
        ),
        done
      )
    },
    onSecure(socket, session, done) {
      const s = state(session)
      answer(
        Effect.map(s.binder.secured(socket as TLSSocket), () => {
          if (isBound(s.binder.binding)) limits.bound(session.id)
        }),
        done
      )
    },
    onAuth(auth: SMTPServerAuthentication, session, done) {
      const s = state(session)
      const address = session.remoteAddress
      const username = auth.username ?? ""
      const throttled = () => done(Object.assign(new Error("too many failed authentications, try again later"), { responseCode: 454 }))
      if (throttle.isThrottled(address, username, Date.now())) return throttled()
      const verify = (permit: number | undefined) =>
        answer(control.bindByCredentials(username, auth.password ?? ""), (err, tenant) => {
          if (err || tenant === undefined || Option.isNone(tenant)) {
            const at = Date.now()
            throttle.failed(address, username, at)
            // one answer for an unknown user and a wrong password
            const refuse = () => done(Object.assign(new Error("authentication failed"), { responseCode: 535 }))
            // the other workers count it before the client can try again on a new connection
            if (authPeers === undefined) return refuse()
            return void authPeers.publish({ failed: true, address, username, at }, permit).then(refuse, refuse)
          }
          throttle.succeeded(address, username)
          authPeers?.publish({ failed: false, address, username, at: Date.now() }, permit).catch(() => undefined)
          s.binder.authenticated(tenant.value, username)
          limits.bound(session.id)
          done(null, { user: auth.username })
        })
      if (authPeers === undefined) return verify(undefined)
      // the node counts this attempt while it is verified, so attempts at the same moment cannot pass the limit together
      authPeers.permit(address, username).then(
        (permit) => (permit.refused ? throttled() : verify(permit.id)),
        () => verify(undefined)
      )
    },
    onMailFrom(address: SMTPServerAddress, session, done) {
      const s = state(session)
      const params = mailParams(address)
      const started = Date.now()
      // combinators, not Effect.gen: a generator function made per message costs V8 a prototype and an initial map (SessionBinder.select)
      const mail = Effect.flatMap(
        Effect.suspend(() => (shutdown.active ? Effect.fail(new ShuttingDown()) : s.binder.select(address.address))),
        ({ tenant, microsoft365 }) => {
          const target = tenant.downstream ?? config.downstream
          if (target === undefined) return Effect.fail(new NoDownstream({ tenant: tenant.id }))
          s.mail = undefined
          return Effect.map(s.link.mail(target, address.address, params), () => {
            s.mail = { tenant: tenant.id, target, from: address.address, params, microsoft365, connector: s.binder.boundBy }
            inTransaction(session.id, s)
          })
        }
      )
      command(s, mail.pipe(Effect.tapError((e) => refused(session, s, "mail", e, address.address, [], started))), done)
    },
    onRcptTo(address, session, done) {
      const s = state(session)
      // a transaction whose connection was released while idle is mirrored again first
      const accepted = session.envelope.rcptTo.map((r) => r.address)
      const started = Date.now()
      // the upstream's DATA already read after the first recipient (a pipelined group): the downstream gets
      // RCPT and DATA in one write. One recipient only: a message that may split into copies (per-recipient
      // signatures) needs the session's link ready for another transaction, which a DATA sent ahead rules out.
      const dataFollows = accepted.length === 0 && (session as PipelinedSession).pipelinedNext === "DATA"
      const rcpt = Effect.suspend(() =>
        s.link.parked ? Effect.zipRight(s.link.resume(accepted), s.link.rcpt(address.address)) : s.link.rcpt(address.address, dataFollows)
      )
      command(
        s,
        Effect.matchEffect(rcpt, {
          onFailure: (e) => Effect.zipRight(refused(session, s, "rcpt", e, s.mail?.from, [address.address], started), Effect.fail(e)),
          onSuccess: () => Effect.sync(() => inTransaction(session.id, s))
        }),
        done
      )
    },
    onData(stream, session, done) {
      const s = state(session)
      s.inData = true
      limits.transactionMoved(session.id)
      const transaction = dataPhase({ config, stampKey, control, failsafe, pool, dkimKeys, deadlines, trace }, session, s.link, s.mail, stream)
      command(s, transaction, (err, text) => {
        // here rather than in an Effect.ensuring: the fiber's observer runs as it ends, whatever its end
        s.inData = false
        s.mail = undefined
        // smtp-server answers DATA only after the dot; a 421 (a sender too slow to send it) is sent now, and closes
        if (err && closesSession(err)) connectionOf(session.id)?.send(err.responseCode, err.message, err.enhancedStatusCode)
        done(err, text)
        limits.idle(connectionOf(session.id)?._socket)
        shutdown.transactionDone(session.id, stream)
      })
    },
    onClose(session) {
      const s = sessions.get(session.id)
      sessions.delete(session.id)
      sessionsChanged()
      if (s) {
        s.commands.close()
        run(Effect.zipRight(abandoned(s), s.link.release))
      }
      limits.closed(session.id)
      shutdown.sessionClosed()
    }
  } as ConstructorParameters<typeof SMTPServer>[0])

  server.on("error", (e) => run(Effect.logError("smtp server error", e)))

  const connections = (server as unknown as { connections: Set<Connection> }).connections
  const shutdown = new Shutdown(connections, server.server, smtp.shutdownGraceMs)
  refuseBeforeSessions(
    server.server,
    limits,
    (reason) => run(recordRefusedConnection(reason)),
    (reason) => `421 ${toReply(new TooManyConnections({ reason })).text}\r\n`
  )
  const connectionOf = (id: string): (Connection & { readonly _socket?: TimedSocket }) | undefined => {
    for (const c of connections) if (c.id === id) return c
    return undefined
  }

  /**
   * A refused MAIL or RCPT, logged and handed to the message trace (a
   * non-blocking offer, like DATA's): at most MAX_REFUSAL_LINES_PER_SESSION
   * per session, so a client repeating a refused command floods neither.
   */
  const refused = (
    session: SMTPServerSession,
    s: SessionState,
    phase: "mail" | "rcpt",
    e: RelayError,
    from: string | undefined,
    to: ReadonlyArray<string>,
    started: number
  ) => {
    if (s.refusals++ >= MAX_REFUSAL_LINES_PER_SESSION) return Effect.void
    const tenant = s.mail?.tenant ?? boundTenantId(s.binder.binding)
    const facts = {
      phase,
      tenant: tenant ?? UNBOUND_TENANT,
      connector: s.binder.boundBy,
      client: session.remoteAddress,
      sender: from ?? "",
      recipients: to,
      started
    }
    const now = Date.now()
    const record = tenant !== undefined || unboundTraceBudget.take(now) ? trace.record(refusalEntry(facts, e, now)) : Metric.increment(untracedUnboundRefusals)
    return Effect.zipRight(logFailure(e, { phase, tenant, client: session.remoteAddress, from, to }), record)
  }

  /** A session that ends with a transaction open (MAIL accepted, no DATA answered, not reset): one line for it. */
  const abandoned = (s: SessionState) =>
    s.session.envelope.mailFrom && s.mail !== undefined && !s.inData
      ? logOutcome({
          phase: "session",
          tenant: s.mail.tenant,
          client: s.session.remoteAddress,
          from: s.mail.from,
          to: s.session.envelope.rcptTo.map((r) => r.address),
          reply: shutdown.active ? `421 ${SHUTDOWN_ENHANCED} ${SHUTDOWN_TEXT}` : "-",
          reason: shutdown.active ? "shutdown" : "session-ended",
          outcome: "abandoned"
        })
      : Effect.void

  /** MAIL or RCPT accepted: the longer idle limit, and the downstream connection is given back if DATA does not follow soon */
  const inTransaction = (id: string, s: SessionState) =>
    limits.inTransaction(id, connectionOf(id)?._socket, () => {
      if (!s.inData && s.mail !== undefined) run(s.link.park)
    })

  yield* Effect.async<void, Error>((resume) => {
    const onError = (e: Error) => resume(Effect.fail(e))
    server.server.once("error", onError)
    server.listen(smtp.port, smtp.host, () => {
      server.server.off("error", onError)
      resume(Effect.void)
    })
  }).pipe(Effect.orDie)

  // Graceful stop (Shutdown): refuse new sessions, 421 4.3.2 to idle ones now, let
  // transactions in flight finish (bounded by shutdownGraceMs), then close the server.
  yield* Effect.addFinalizer(() =>
    Effect.promise(() => shutdown.begin((id) => sessions.get(id)?.inData === true)).pipe(
      Effect.flatMap((summary) => Effect.logInfo("smtp shutdown").pipe(Effect.annotateLogs({ ...summary }))),
      Effect.zipRight(Effect.async<void>((resume) => server.close(() => resume(Effect.void)))),
      // smtp-server reports a closed session a tick after its socket closed: links
      // whose session ended just now are released here, before the pool closes
      Effect.zipRight(
        Effect.suspend(() => {
          const ended = [...sessions.values()]
          sessions.clear()
          for (const s of ended) s.commands.close()
          return Effect.forEach(ended, (s) => Effect.zipRight(abandoned(s), s.link.release), { discard: true })
        })
      )
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
