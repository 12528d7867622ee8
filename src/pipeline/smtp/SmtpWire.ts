/**
 * The socket under an SMTP client session: turns incoming bytes into replies,
 * hands them to the one reader waiting, upgrades to TLS in place, and remembers
 * why the connection died. It keeps an 'error' listener on every socket it owns
 * for its whole life, so a reset never becomes an unhandled 'error' event.
 */
import * as net from "node:net"
import * as tls from "node:tls"
import { Effect } from "effect"
import { DownstreamProtocolError, DownstreamTimeout, DownstreamTlsError, DownstreamUnavailable } from "./DownstreamError.js"
import type { DownstreamError } from "./DownstreamError.js"
import { ReplyParseError, ReplyParser } from "./SmtpReply.js"
import type { SmtpReply } from "./SmtpReply.js"

/** Replies the server sent ahead of being asked; more than this is a misbehaving peer. */
const MAX_QUEUED_REPLIES = 16

const ignore = () => undefined

// Every wait below is made interruptible before its timeout is applied: a timeout
// can only cut an interruptible wait, and scope finalizers (the polite QUIT) run
// uninterruptibly, where an unbounded wait would hang the scope's close.

export class SmtpWire {
  private parser = new ReplyParser()
  private readonly queue: Array<SmtpReply> = []
  private waiter: ((reply: SmtpReply | DownstreamError) => void) | undefined
  private failure: DownstreamError | undefined
  private readonly failureListeners = new Set<(error: DownstreamError) => void>()
  private readonly onData = (chunk: Buffer) => this.receive(chunk)
  private readonly onClose = () => this.fail(this.unavailable(new Error("connection closed by the downstream")))
  private readonly onError = (cause: Error) => this.fail(this.unavailable(cause))

  private constructor(
    public socket: net.Socket | tls.TLSSocket,
    readonly host: string,
    readonly port: number
  ) {
    this.attach(socket)
  }

  /** Opens a TCP connection; Nagle is off because commands are small and latency-bound. */
  static readonly connect = (host: string, port: number, timeoutMs: number): Effect.Effect<SmtpWire, DownstreamError> =>
    Effect.async<SmtpWire, DownstreamError>((resume) => {
      const socket = net.connect({ host, port })
      socket.setNoDelay(true)
      const onConnect = () => {
        socket.off("error", onError)
        resume(Effect.succeed(new SmtpWire(socket, host, port)))
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

  /** Writes raw bytes; false means the caller should wait for 'drain'. */
  write(bytes: Buffer | string): boolean {
    return this.socket.write(bytes)
  }

  /** Drops the connection at once (no QUIT, no terminating dot). */
  destroy(): void {
    this.fail(this.unavailable(new Error("connection dropped by the client")))
  }

  /** Called once if the connection dies; returns the unsubscribe function. */
  onFailure(listener: (error: DownstreamError) => void): () => void {
    this.failureListeners.add(listener)
    return () => this.failureListeners.delete(listener)
  }

  /**
   * The next reply, within `timeoutMs`. A timeout drops the connection: a late
   * reply would otherwise be taken as the answer to the next command.
   */
  readReply(timeoutMs: number, phase: DownstreamTimeout["phase"]): Effect.Effect<SmtpReply, DownstreamError> {
    return Effect.async<SmtpReply, DownstreamError>((resume) => {
      const queued = this.queue.shift()
      if (queued !== undefined) return resume(Effect.succeed(queued))
      if (this.failure !== undefined) return resume(Effect.fail(this.failure))
      this.waiter = (result) => {
        this.waiter = undefined
        resume("_tag" in result ? Effect.fail(result) : Effect.succeed(result))
      }
      return Effect.sync(() => {
        this.waiter = undefined
      })
    }).pipe(
      Effect.interruptible,
      Effect.timeoutFail({ duration: timeoutMs, onTimeout: () => new DownstreamTimeout({ phase }) }),
      Effect.tapErrorTag("DownstreamTimeout", () => Effect.sync(() => this.destroy()))
    )
  }

  /** Sends one command line and reads its reply. */
  command(line: string, timeoutMs: number): Effect.Effect<SmtpReply, DownstreamError> {
    return Effect.suspend(() => {
      if (this.failure !== undefined) return Effect.fail(this.failure)
      this.socket.write(`${line}\r\n`)
      return this.readReply(timeoutMs, "command")
    })
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
    }
  }
}
