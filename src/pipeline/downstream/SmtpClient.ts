/**
 * A command-level SMTP client for the downstream MTA (RFC 5321, STARTTLS 3207,
 * AUTH 4954, SIZE 1870, 8BITMIME 6152, SMTPUTF8 6531; PIPELINING 2920 only for
 * a last RCPT and DATA, `rcptThenData`).
 *
 * Imprint mirrors each upstream MAIL and RCPT as it happens and streams DATA
 * through, so the client exposes one Effect per command instead of a bundled
 * send(). Replies to MAIL, RCPT, DATA and RSET are values, whatever their code:
 * the caller mirrors them upstream. Errors are only the cases without a usable
 * reply. One session serves one caller at a time (commands are serialized).
 */
import { isIP } from "node:net"
import type { Readable } from "node:stream"
import type { ConnectionOptions } from "node:tls"
import { Cause, Effect } from "effect"
import { sendBody } from "./DataTransfer.js"
import { DownstreamProtocolError, DownstreamTlsError } from "./DownstreamError.js"
import type { DataSourceError, DownstreamError } from "./DownstreamError.js"
import { isReply, type SmtpReply } from "./SmtpReply.js"
import { SmtpWire } from "./SmtpWire.js"

export type { SmtpReply } from "./SmtpReply.js"
export * from "./DownstreamError.js"

export interface SmtpClientOptions {
  readonly host: string
  readonly port: number
  /** "required": fail without STARTTLS; "opportunistic": use it when offered; "none": never. */
  readonly tls: "required" | "opportunistic" | "none"
  readonly rejectUnauthorized: boolean
  /** PEM trust anchors for the downstream's certificate (instead of the system store). */
  readonly ca?: string
  readonly auth?: { readonly user: string; readonly pass: string }
  /** The name sent with EHLO/HELO. */
  readonly clientName: string
  readonly connectTimeoutMs: number
  /** Greeting, EHLO, STARTTLS, AUTH, MAIL, RCPT, RSET, DATA (up to 354), QUIT. */
  readonly commandTimeoutMs: number
  /** The final reply after the dot, and a downstream that stops reading mid-DATA. */
  readonly dataTimeoutMs: number
}

export interface MailParams {
  readonly size?: number
  readonly body?: "7BIT" | "8BITMIME"
  readonly smtputf8?: boolean
}

export interface SmtpClient {
  /** EHLO keywords, upper-case (e.g. "SIZE", "8BITMIME", "SMTPUTF8", "STARTTLS"); empty after HELO. */
  readonly features: ReadonlySet<string>
  /** The downstream's SIZE limit in bytes, if it announced one. */
  readonly sizeLimit: number | undefined
  /** The session runs over TLS. */
  readonly secure: boolean
  /** MAIL FROM; parameters are only sent when the server advertised their extension. */
  readonly mail: (from: string, params?: MailParams) => Effect.Effect<SmtpReply, DownstreamError>
  readonly rcpt: (to: string) => Effect.Effect<SmtpReply, DownstreamError>
  /**
   * RCPT and DATA in one write (RFC 2920: DATA ends a group), for an upstream whose DATA
   * is already read; a plain `rcpt` when the server did not advertise PIPELINING. Returns
   * the RCPT's reply; the DATA's is kept for `data`, which then sends no DATA of its own.
   * While the downstream awaits a body (it answered 354), no command is written: one
   * asked for fails and drops the connection, as does `data` never coming (QUIT is
   * not sent then either), so the downstream can only ever see a body end in the
   * dot that `data` writes.
   */
  readonly rcptThenData: (to: string) => Effect.Effect<SmtpReply, DownstreamError>
  /**
   * DATA, then the source streamed with dot-stuffing and backpressure, then the
   * final reply. A reply other than 354 is returned without reading the source.
   * A failing source or an interruption drops the connection before the dot.
   * After `rcptThenData`, its DATA's reply is used and no DATA is written.
   */
  readonly data: (source: Readable) => Effect.Effect<SmtpReply, DownstreamError | DataSourceError>
  readonly rset: () => Effect.Effect<SmtpReply, DownstreamError>
  /** Connected, no reply awaited, nothing unread. The caller knows whether a transaction is open (DownstreamLink). */
  readonly reusable: () => boolean
}

/** How long a polite QUIT may take when the session's scope closes. */
const QUIT_WAIT_MS = 1_000

/** Characters that would let an address break out of its command line. */
const UNSAFE_ADDRESS = /[\x00-\x1f\x7f<>]/

interface Hello {
  readonly features: ReadonlySet<string>
  readonly params: ReadonlyMap<string, string>
  readonly authMechanisms: ReadonlySet<string>
}

const parseEhlo = (reply: SmtpReply): Hello => {
  const features = new Set<string>()
  const params = new Map<string, string>()
  const authMechanisms = new Set<string>()
  for (const line of reply.lines.slice(1)) {
    const match = /^([A-Za-z0-9][A-Za-z0-9-]*)(?:[ =](.*))?$/.exec(line.trim())
    if (match === null) continue
    const keyword = match[1].toUpperCase()
    const rest = (match[2] ?? "").trim()
    features.add(keyword)
    params.set(keyword, rest)
    // Old servers announce "AUTH=LOGIN" besides or instead of "AUTH LOGIN"
    if (keyword === "AUTH") for (const m of rest.split(/\s+/)) if (m !== "") authMechanisms.add(m.toUpperCase())
  }
  return { features, params, authMechanisms }
}

const noExtensions: Hello = { features: new Set(), params: new Map(), authMechanisms: new Set() }

const hello = (wire: SmtpWire, opts: SmtpClientOptions) =>
  Effect.gen(function* () {
    const ehlo = yield* wire.command(`EHLO ${opts.clientName}`, opts.commandTimeoutMs)
    if (ehlo.code === 250) return parseEhlo(ehlo)
    // RFC 5321 §3.2: a server that does not know EHLO answers 5xx; fall back to HELO
    if (ehlo.code >= 500) {
      const helo = yield* wire.command(`HELO ${opts.clientName}`, opts.commandTimeoutMs)
      if (helo.code === 250) return noExtensions
      return yield* new DownstreamProtocolError({ reply: helo, detail: "HELO refused" })
    }
    return yield* new DownstreamProtocolError({ reply: ehlo, detail: "EHLO refused" })
  })

const tlsOptions = (opts: SmtpClientOptions): ConnectionOptions => ({
  host: opts.host,
  // SNI carries host names only; an IP literal is checked against the IP SANs via `host`
  ...(isIP(opts.host) === 0 ? { servername: opts.host } : {}),
  rejectUnauthorized: opts.rejectUnauthorized,
  ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
  minVersion: "TLSv1.2"
})

/** STARTTLS per policy; returns the EHLO answer valid for the rest of the session. */
const secure = (wire: SmtpWire, opts: SmtpClientOptions, plain: Hello) =>
  Effect.gen(function* () {
    if (opts.tls === "none") return plain
    if (!plain.features.has("STARTTLS")) {
      if (opts.tls === "required") return yield* new DownstreamTlsError({ reason: "STARTTLS not offered" })
      return plain
    }
    const reply = yield* wire.command("STARTTLS", opts.commandTimeoutMs)
    if (reply.code !== 220) {
      // RFC 3207 §4: after a refusal the session goes on in clear, if policy allows
      if (opts.tls === "required") {
        return yield* new DownstreamTlsError({ reason: `STARTTLS refused: ${reply.code} ${reply.text}` })
      }
      return plain
    }
    yield* wire.upgrade(tlsOptions(opts), opts.commandTimeoutMs)
    // RFC 3207 §4.2: everything learned before TLS is discarded
    return yield* hello(wire, opts)
  })

const authenticate = (wire: SmtpWire, opts: SmtpClientOptions, hello: Hello) =>
  Effect.gen(function* () {
    const auth = opts.auth
    if (auth === undefined) return
    const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64")
    const refused = (reply: SmtpReply) => new DownstreamProtocolError({ reply, detail: "authentication failed" })
    if (hello.authMechanisms.has("PLAIN")) {
      const reply = yield* wire.command(`AUTH PLAIN ${b64(`\0${auth.user}\0${auth.pass}`)}`, opts.commandTimeoutMs)
      if (reply.code !== 235) return yield* refused(reply)
      return
    }
    if (hello.authMechanisms.has("LOGIN")) {
      for (const line of ["AUTH LOGIN", b64(auth.user)]) {
        const reply = yield* wire.command(line, opts.commandTimeoutMs)
        if (reply.code !== 334) return yield* refused(reply)
      }
      const reply = yield* wire.command(b64(auth.pass), opts.commandTimeoutMs)
      if (reply.code !== 235) return yield* refused(reply)
      return
    }
    return yield* new DownstreamProtocolError({ detail: "credentials configured but no AUTH PLAIN or LOGIN offered" })
  })

const unsafeAddress = (address: string) => UNSAFE_ADDRESS.test(address)
const addressRefused = () => Effect.dieMessage("SmtpClient: address with control or angle characters reached the downstream client")

/**
 * One command at a time on a session. An Effect Semaphore with an onInterrupt inside costs three
 * uninterruptible regions per command (its permit, its ensuring, the onInterrupt); this lock
 * costs one (`exchange`). A caller finding it busy waits for a release, then tries again.
 */
class CommandLock {
  private busy = false
  private waiting: Array<() => void> = []

  /** takes the lock if free (the polite QUIT, which never waits) */
  tryAcquire(): boolean {
    if (this.busy) return false
    this.busy = true
    return true
  }

  private readonly released = Effect.async<void>((resume) => {
    const wake = () => resume(Effect.void)
    this.waiting.push(wake)
    return Effect.sync(() => {
      const i = this.waiting.indexOf(wake)
      if (i >= 0) this.waiting.splice(i, 1)
    })
  })

  readonly acquire: Effect.Effect<void> = Effect.suspend(() => (this.tryAcquire() ? Effect.void : Effect.zipRight(this.released, this.acquire)))

  /** every waiter is woken and tries again: one that was interrupted meanwhile cannot keep the lock */
  release(): void {
    this.busy = false
    const waiting = this.waiting
    if (waiting.length === 0) return
    this.waiting = []
    for (const wake of waiting) wake()
  }
}

const mailParameters = (hello: Hello, params: MailParams | undefined): string => {
  const out: Array<string> = []
  if (params?.size !== undefined && hello.features.has("SIZE")) out.push(`SIZE=${Math.max(0, Math.floor(params.size))}`)
  if (params?.body !== undefined && hello.features.has("8BITMIME")) out.push(`BODY=${params.body}`)
  if (params?.smtputf8 === true && hello.features.has("SMTPUTF8")) out.push("SMTPUTF8")
  return out.length === 0 ? "" : ` ${out.join(" ")}`
}

const quit = (wire: SmtpWire, awaitingBody: () => boolean) =>
  // a downstream awaiting a body would take QUIT as a line of it: dropped without a word instead
  Effect.suspend(() => (wire.failed === undefined && !awaitingBody() ? Effect.asVoid(wire.command("QUIT", QUIT_WAIT_MS)) : Effect.void)).pipe(
    Effect.ignore,
    Effect.ensuring(Effect.sync(() => wire.destroy()))
  )

/**
 * Connects and prepares a session: greeting, EHLO (HELO fallback), STARTTLS per
 * policy, AUTH when credentials are given. Closing the scope sends QUIT if the
 * session is idle and drops the connection.
 */
export const connect = Effect.fn("SmtpClient.connect")(function* (opts: SmtpClientOptions) {
  const lock = new CommandLock()
  /** the reply to a DATA that `rcptThenData` sent, until `data` or the next command takes it */
  let dataReply: SmtpReply | undefined
  const awaitingBody = () => dataReply?.code === 354
  const wire = yield* Effect.acquireRelease(SmtpWire.connect(opts.host, opts.port, opts.connectTimeoutMs), (wire) =>
    // A command still running in another fiber means the session is not idle: no QUIT
    Effect.suspend(() =>
      lock.tryAcquire()
        ? Effect.ensuring(
            quit(wire, awaitingBody),
            Effect.sync(() => lock.release())
          )
        : Effect.void
    ).pipe(Effect.ensuring(Effect.sync(() => wire.destroy())))
  )
  const session = yield* Effect.gen(function* () {
    const greeting = yield* wire.readReply(opts.commandTimeoutMs, "greeting")
    if (greeting.code !== 220) return yield* new DownstreamProtocolError({ reply: greeting, detail: "greeting refused" })
    const plain = yield* hello(wire, opts)
    const hello2 = yield* secure(wire, opts, plain)
    yield* authenticate(wire, opts, hello2)
    return hello2
  }).pipe(Effect.tapError(() => Effect.sync(() => wire.destroy())))

  /**
   * One command exchange, serialized, and an interrupted one drops the connection: its reply would
   * desync the next one. The lock, the command line, the reply (DATA: 354, the body, the final
   * reply) and the release run as plain callbacks in one Effect.async, so the interpreter is not
   * entered between them. The lock is taken inside the mask (a free one, the usual case: one caller
   * per session, without a wait; a busy one, a park's RSET racing, after an interruptible wait) and
   * released before the caller resumes. An interruption drops the connection (and abandons a body
   * in flight before its dot); it is caught by a failure-only frame, which a success passes without
   * a step. An interruption already pending when the lock is taken drops the connection unused:
   * dropping is always safe; keeping a desynced session is not.
   */
  const exchange = <E extends { readonly _tag: string }>(
    start: (done: (result: SmtpReply | E) => void) => (() => void) | undefined
  ): Effect.Effect<SmtpReply, E> =>
    Effect.uninterruptibleMask((restore) => {
      // a function, not an Effect.suspend: the free-lock case (nearly every command) runs it without a step
      const run = () => {
        let held = true
        let cancel: (() => void) | undefined
        const release = () => {
          if (!held) return
          held = false
          lock.release()
        }
        return Effect.catchAllCause(
          restore(
            Effect.async<SmtpReply, E>((resume) => {
              cancel = start((result) => {
                release()
                resume(isReply(result) ? Effect.succeed(result) : Effect.fail(result))
              })
            })
          ),
          (cause) => {
            if (Cause.isInterruptedOnly(cause)) {
              cancel?.()
              wire.destroy()
            }
            release()
            return Effect.failCause(cause)
          }
        )
      }
      return lock.tryAcquire() ? run() : Effect.zipRight(restore(lock.acquire), Effect.suspend(run))
    })

  /** a command may be written: not while the downstream awaits a body (then the connection is dropped) */
  const mayCommand = (done: (result: DownstreamError) => void): boolean => {
    const awaiting = awaitingBody()
    // either way the kept reply is spent: a DATA refused after rcptThenData left the transaction open, and a later command goes on as usual
    dataReply = undefined
    if (!awaiting) return true
    wire.destroy()
    done(new DownstreamProtocolError({ detail: "a command while the downstream awaits a message body (the connection is dropped)" }))
    return false
  }

  const command = (line: string) =>
    exchange<DownstreamError>((done) => {
      if (mayCommand(done)) wire.request(line, opts.commandTimeoutMs, "command", done)
      return undefined
    })

  const rcpt = (to: string) => (unsafeAddress(to) ? addressRefused() : command(`RCPT TO:<${to}>`))
  const pipelining = session.features.has("PIPELINING")

  const sizeParam = Number(session.params.get("SIZE") ?? "")
  const client: SmtpClient = {
    features: session.features,
    sizeLimit: Number.isSafeInteger(sizeParam) && sizeParam > 0 ? sizeParam : undefined,
    secure: wire.secure,
    // the commands run for every message: plain functions, no span each
    mail: (from: string, params?: MailParams) => (unsafeAddress(from) ? addressRefused() : command(`MAIL FROM:<${from}>${mailParameters(session, params)}`)),
    rcpt,
    rcptThenData: (to: string) =>
      unsafeAddress(to) || !pipelining
        ? rcpt(to)
        : exchange<DownstreamError>((done) => {
            if (!mayCommand(done)) return undefined
            // one write; the replies come in order: RCPT's is the answer, DATA's is kept for `data`
            wire.request(`RCPT TO:<${to}>\r\nDATA`, opts.commandTimeoutMs, "command", (rcptAnswer) => {
              if (!isReply(rcptAnswer)) return done(rcptAnswer)
              wire.request(undefined, opts.commandTimeoutMs, "command", (dataAnswer) => {
                if (!isReply(dataAnswer)) return done(dataAnswer)
                dataReply = dataAnswer
                done(rcptAnswer)
              })
            })
            return undefined
          }),
    data: (source: Readable) =>
      exchange<DownstreamError | DataSourceError>((done) => {
        let abandon: (() => void) | undefined
        const start = (reply: SmtpReply | DownstreamError) => {
          if (!isReply(reply) || reply.code !== 354) return done(reply)
          abandon = sendBody(wire, source, opts.dataTimeoutMs, (error) => {
            abandon = undefined
            if (error !== undefined) return done(error)
            wire.request(undefined, opts.dataTimeoutMs, "data", done)
          })
        }
        const sent = dataReply
        dataReply = undefined
        if (sent !== undefined) start(sent)
        else wire.request("DATA", opts.commandTimeoutMs, "command", start)
        // interrupted: a body in flight is abandoned before its dot (the connection is dropped in any case)
        return () => abandon?.()
      }),
    rset: () => command("RSET"),
    reusable: () => wire.idle && !awaitingBody()
  }
  return client
})
