/**
 * The socket under an SMTP client session: turns incoming bytes into replies,
 * hands them to the one reader waiting, upgrades to TLS in place, and remembers
 * why the connection died. It keeps an 'error' listener on every socket it owns
 * for its whole life, so a reset never becomes an unhandled 'error' event.
 */
import * as net from "node:net"
import * as tls from "node:tls"
import { Clock, Duration, Effect } from "effect"
import { DownstreamProtocolError, DownstreamTimeout, DownstreamTlsError, DownstreamUnavailable } from "./DownstreamError.js"
import type { DownstreamError } from "./DownstreamError.js"
import { isReply, ReplyParseError, ReplyParser } from "./SmtpReply.js"
import type { SmtpReply } from "./SmtpReply.js"

/**
 * The watchdog sleeps at most this long at a time while a reply is awaited, so a
 * deadline armed while it sleeps is noticed at most this late — and not at all
 * late for timeouts of at least this length, which never need to wake it.
 */
export const WATCHDOG_TICK_MS = 1_000

/** Replies the server sent ahead of being asked; more than this is a misbehaving peer. */
const MAX_QUEUED_REPLIES = 16

const ignore = () => undefined

// Every wait below is made interruptible before its timeout is applied: a timeout
// can only cut an interruptible wait, and scope finalizers (the polite QUIT) run
// uninterruptibly, where an unbounded wait would hang the scope's close.
//
// Reply timeouts (every MAIL, RCPT, DATA and final reply) are kept by one
// watchdog fiber per connection instead of Effect.timeoutFail per reply: a
// timeout is a race of two forked fibers, several per message on the hot path.
// Arming the watchdog is setting a number; it wakes when the earliest deadline
// passes (or when a nearer one is armed), through the Clock, so TestClock still
// drives it in specs.

export class SmtpWire {
  private parser = new ReplyParser()
  private readonly queue: Array<SmtpReply> = []
  private waiter: ((reply: SmtpReply | DownstreamError) => void) | undefined
  private failure: DownstreamError | undefined
  private readonly failureListeners = new Set<(error: DownstreamError) => void>()
  private readonly onData = (chunk: Buffer) => this.receive(chunk)
  // errors are built only for the first failure: each one captures a stack, and a
  // normal end of session passes here two or three times (~1.5 % of the relay's CPU)
  private readonly onClose = () => {
    if (this.failure === undefined) this.fail(this.unavailable(new Error("connection closed by the downstream")))
  }
  private readonly onError = (cause: Error) => this.fail(this.unavailable(cause))
  /** when the reply being waited for is overdue (+Infinity: nothing is waited for) */
  private deadline = Number.POSITIVE_INFINITY
  private deadlinePhase: DownstreamTimeout["phase"] = "command"
  /** what the watchdog sleeps until; a wake asked for before it parks is not lost */
  private watchdogUntil = Number.POSITIVE_INFINITY
  private wakeRequested = false
  private wakeResume: (() => void) | undefined
  /** a timeout shorter than WATCHDOG_TICK_MS was armed: sleeps must be wakeable (a race) from then on */
  private shortTimeouts = false

  private constructor(
    public socket: net.Socket | tls.TLSSocket,
    readonly host: string,
    readonly port: number,
    private readonly clock: Clock.Clock
  ) {
    this.attach(socket)
  }

  /** Opens a TCP connection; Nagle is off because commands are small and latency-bound. */
  static readonly connect = (host: string, port: number, timeoutMs: number): Effect.Effect<SmtpWire, DownstreamError> =>
    Effect.flatMap(Effect.clock, (clock) => SmtpWire.open(host, port, timeoutMs, clock)).pipe(
      // a daemon: it outlives the caller's scope long enough to time the polite QUIT, and ends with the connection
      Effect.tap((wire) => Effect.forkDaemon(wire.watchdog))
    )

  private static readonly open = (host: string, port: number, timeoutMs: number, clock: Clock.Clock): Effect.Effect<SmtpWire, DownstreamError> =>
    Effect.async<SmtpWire, DownstreamError>((resume) => {
      const socket = net.connect({ host, port })
      socket.setNoDelay(true)
      const onConnect = () => {
        socket.off("error", onError)
        resume(Effect.succeed(new SmtpWire(socket, host, port, clock)))
      }
      const onError = (cause: Error) => {
        socket.off("connect", onConnect)
        socket.destroy()
        resume(Effect.fail(new DownstreamUnavailable({ host, port, cause })))
      }
      socket.once("connect", onConnect)
      socket.once("error", onError)
      return Effect.sync(() => {
        socket.off("connect", onConnect)
        socket.off("error", onError)
        socket.on("error", ignore)
        socket.destroy()
      })
    }).pipe(Effect.interruptible, Effect.timeoutFail({ duration: timeoutMs, onTimeout: () => new DownstreamTimeout({ phase: "connect" }) }))

  get secure(): boolean {
    return this.socket instanceof tls.TLSSocket && this.socket.encrypted
  }

  /** Why the connection is gone, once it is. */
  get failed(): DownstreamError | undefined {
    return this.failure ?? (this.socket.destroyed ? this.unavailable(new Error("connection closed")) : undefined)
  }

  /**
   * Alive with nothing in flight: no reply awaited, none unread (a downstream
   * ending an idle session says 421 before it closes), no partial reply.
   * Only such a connection may carry another session's transaction.
   */
  get idle(): boolean {
    // not `failed`: that builds an error for a destroyed socket
    return this.failure === undefined && !this.socket.destroyed && this.waiter === undefined && this.queue.length === 0 && !this.parser.pending
  }

  /** Writes raw bytes; false means the caller should wait for 'drain'. */
  write(bytes: Buffer | string): boolean {
    return this.socket.write(bytes)
  }

  /** Drops the connection at once (no QUIT, no terminating dot). */
  destroy(): void {
    if (this.failure === undefined) this.fail(this.unavailable(new Error("connection dropped by the client")))
  }

  /** Called once if the connection dies; returns the unsubscribe function. */
  onFailure(listener: (error: DownstreamError) => void): () => void {
    this.failureListeners.add(listener)
    return () => this.failureListeners.delete(listener)
  }

  /**
   * The next reply, within `timeoutMs`. A timeout drops the connection: a late
   * reply would otherwise be taken as the answer to the next command. (The
   * session set-up's reads; SmtpClient's per-message commands use `request`.)
   */
  readReply(timeoutMs: number, phase: DownstreamTimeout["phase"]): Effect.Effect<SmtpReply, DownstreamError> {
    return this.exchange(undefined, timeoutMs, phase)
  }

  /** `request` as an Effect; an interrupted wait is withdrawn */
  private exchange(line: string | undefined, timeoutMs: number, phase: DownstreamTimeout["phase"]): Effect.Effect<SmtpReply, DownstreamError> {
    return Effect.async<SmtpReply, DownstreamError>((resume) => {
      let answered = false
      this.request(line, timeoutMs, phase, (result) => {
        answered = true
        resume(isReply(result) ? Effect.succeed(result) : Effect.fail(result))
      })
      if (answered) return
      return Effect.sync(() => {
        this.waiter = undefined
        this.deadline = Number.POSITIVE_INFINITY
      })
    })
  }

  /**
   * `command` and `readReply` as plain callbacks, for SmtpClient's per-message commands:
   * writes `line` (none: only reads), then calls `done` once with the next reply or why
   * there is none, within `timeoutMs` (the same watchdog; a timeout drops the connection).
   * Nothing withdraws the wait: a caller that gives up drops the connection, which
   * answers `done` with the failure.
   */
  request(line: string | undefined, timeoutMs: number, phase: DownstreamTimeout["phase"], done: (result: SmtpReply | DownstreamError) => void): void {
    if (line !== undefined) {
      if (this.failure !== undefined) return done(this.failure)
      this.socket.write(`${line}\r\n`)
    }
    const queued = this.queue.shift()
    if (queued !== undefined) return done(queued)
    if (this.failure !== undefined) return done(this.failure)
    // bound to a local first: V8 allocates a function literal assigned straight to a property in
    // the old generation, and this one reaches the caller's message (perf/issue-16.md, ninth session)
    const waiter = (result: SmtpReply | DownstreamError) => {
      this.waiter = undefined
      this.deadline = Number.POSITIVE_INFINITY
      done(result)
    }
    this.waiter = waiter
    this.arm(timeoutMs, phase)
  }

  private arm(timeoutMs: number, phase: DownstreamTimeout["phase"]): void {
    if (timeoutMs < WATCHDOG_TICK_MS) this.shortTimeouts = true
    this.deadline = this.clock.unsafeCurrentTimeMillis() + timeoutMs
    this.deadlinePhase = phase
    if (this.deadline < this.watchdogUntil) this.wake()
  }

  private wake(): void {
    this.wakeRequested = true
    const resume = this.wakeResume
    this.wakeResume = undefined
    resume?.()
  }

  /** The waiter gets the timeout, then the connection is dropped. */
  private expire(): void {
    const waiter = this.waiter
    this.waiter = undefined
    this.deadline = Number.POSITIVE_INFINITY
    waiter?.(new DownstreamTimeout({ phase: this.deadlinePhase }))
    this.destroy()
  }

  /**
   * Sleeps towards the armed deadline a tick at a time (parked while nothing is
   * awaited, woken for a nearer deadline); ends with the connection. The tick
   * sleep is a plain Clock sleep in this fiber — no fork per wake-up — unless
   * short timeouts are in use.
   */
  private readonly watchdog: Effect.Effect<void> = Effect.gen(this, function* () {
    const woken = Effect.async<void>((resume) => {
      if (this.wakeRequested) return resume(Effect.void)
      const wakeResume = () => resume(Effect.void) // a young closure, as the waiter above
      this.wakeResume = wakeResume
      return Effect.sync(() => {
        this.wakeResume = undefined
      })
    })
    while (this.failure === undefined) {
      this.wakeRequested = false
      const now = this.clock.unsafeCurrentTimeMillis()
      if (this.deadline <= now) {
        this.expire()
        continue
      }
      if (this.deadline === Number.POSITIVE_INFINITY) {
        yield* woken
        continue
      }
      this.watchdogUntil = Math.min(this.deadline, now + WATCHDOG_TICK_MS)
      const tick = this.clock.sleep(Duration.millis(this.watchdogUntil - now))
      yield* this.shortTimeouts ? Effect.raceFirst(woken, tick) : tick
      this.watchdogUntil = Number.POSITIVE_INFINITY
    }
  })

  /** Sends one command line and reads its reply. */
  command(line: string, timeoutMs: number): Effect.Effect<SmtpReply, DownstreamError> {
    return this.exchange(line, timeoutMs, "command")
  }

  /**
   * Replaces the plain socket by a TLS socket over it (after "220" to STARTTLS).
   * Bytes that arrived after the 220 would have been sent in clear and must not be
   * read as if they came over TLS (CVE-2011-0411 style injection): refuse them.
   */
  upgrade(options: tls.ConnectionOptions, timeoutMs: number): Effect.Effect<void, DownstreamError> {
    return Effect.suspend(() => {
      if (this.failure !== undefined) return Effect.fail(this.failure)
      if (this.queue.length > 0 || this.parser.pending) {
        this.destroy()
        return Effect.fail(new DownstreamProtocolError({ detail: "data sent in clear after the STARTTLS reply" }))
      }
      const plain = this.socket
      plain.off("data", this.onData)
      plain.off("close", this.onClose)
      return Effect.async<void, DownstreamError>((resume) => {
        const secure = tls.connect({ ...options, socket: plain })
        // The wire watches the TLS socket from here on, the plain one stays quiet
        this.socket = secure
        this.parser = new ReplyParser()
        const onSecure = () => {
          secure.off("error", onHandshakeError)
          secure.off("close", onHandshakeClose)
          this.attach(secure)
          resume(Effect.void)
        }
        const onHandshakeError = (cause: Error) => {
          secure.off("close", onHandshakeClose)
          this.watchErrors(secure)
          this.destroy()
          resume(Effect.fail(new DownstreamTlsError({ reason: `TLS handshake failed: ${cause.message}`, cause })))
        }
        const onHandshakeClose = () => {
          secure.off("error", onHandshakeError)
          this.watchErrors(secure)
          this.destroy()
          resume(Effect.fail(new DownstreamTlsError({ reason: "connection closed during the TLS handshake" })))
        }
        secure.once("secureConnect", onSecure)
        secure.once("error", onHandshakeError)
        secure.once("close", onHandshakeClose)
        return Effect.sync(() => {
          secure.off("secureConnect", onSecure)
          secure.off("error", onHandshakeError)
          secure.off("close", onHandshakeClose)
          this.watchErrors(secure)
          this.destroy()
        })
      }).pipe(
        Effect.interruptible,
        Effect.timeoutFail({ duration: timeoutMs, onTimeout: () => new DownstreamTimeout({ phase: "command" }) }),
        Effect.tapErrorTag("DownstreamTimeout", () => Effect.sync(() => this.destroy()))
      )
    })
  }

  private attach(socket: net.Socket | tls.TLSSocket): void {
    socket.on("data", this.onData)
    socket.on("close", this.onClose)
    this.watchErrors(socket)
  }

  private watchErrors(socket: net.Socket): void {
    if (!socket.listeners("error").includes(this.onError)) socket.on("error", this.onError)
  }

  private receive(chunk: Buffer): void {
    let replies: Array<SmtpReply>
    try {
      replies = this.parser.push(chunk)
    } catch (e) {
      if (!(e instanceof ReplyParseError)) throw e
      return this.fail(new DownstreamProtocolError({ detail: e.message }))
    }
    for (const reply of replies) {
      if (this.waiter !== undefined) this.waiter(reply)
      else if (this.queue.length < MAX_QUEUED_REPLIES) this.queue.push(reply)
      else return this.fail(new DownstreamProtocolError({ detail: "too many unsolicited replies" }))
    }
  }

  private unavailable(cause: unknown): DownstreamUnavailable {
    return new DownstreamUnavailable({ host: this.host, port: this.port, cause })
  }

  /** First failure wins; it is what every later call reports. */
  private fail(error: DownstreamError): void {
    if (this.failure === undefined) {
      this.failure = error
      this.socket.destroy()
      const waiter = this.waiter
      if (waiter !== undefined) waiter(error)
      for (const listener of this.failureListeners) listener(error)
      this.failureListeners.clear()
      this.wake()
    }
  }
}
