/**
 * A real SMTP sink for tests: smtp-server on 127.0.0.1, port 0, recording every
 * message it accepts byte for byte (after SMTP un-dot-stuffing, i.e. exactly the
 * message the client meant to send). Failures are programmable per phase so that
 * the relay's mirroring of downstream replies can be tested against a real server.
 */
import { EventEmitter } from "node:events"
import { SMTPServer } from "smtp-server"
import type { SMTPServerAddress, SMTPServerDataStream, SMTPServerOptions } from "smtp-server"
import { makeSelfSigned } from "./Certs.js"

/** A reply the sink gives instead of accepting, e.g. `{ code: 451, message: "try later" }`. */
export interface SinkReply {
  readonly code: number
  readonly message: string
  /** the enhanced status code to send (smtp-server as patched by patches/apply.mjs honours it) */
  readonly enhanced?: string
}

export interface SinkOptions {
  /** Offer STARTTLS with the shared self-signed certificate (default true). */
  readonly starttls?: boolean
  /** SIZE limit advertised in EHLO; larger messages are answered 552. */
  readonly size?: number
  /** Refuse the connection in the greeting. */
  readonly rejectConnect?: SinkReply
  /** Refuse every MAIL FROM. */
  readonly rejectMail?: SinkReply
  /** Refuse these recipients at RCPT TO (keys compared case-insensitively). */
  readonly rejectRcpt?: Readonly<Record<string, SinkReply>>
  /** Answer the DATA command itself with this reply instead of 354 (no message is read). */
  readonly refuseDataCommand?: SinkReply
  /** Answer the end of DATA with this reply instead of 250 (the message is not recorded). */
  readonly rejectData?: SinkReply
  /** Read the whole message but never answer the terminating dot (timeout tests). */
  readonly hangOnData?: boolean
  /** Require AUTH with these credentials (or any of them) before MAIL (plain text AUTH allowed). */
  readonly auth?: SinkCredentials | ReadonlyArray<SinkCredentials>
  /**
   * A session that already delivered a message dies at its next MAIL, as a
   * downstream's idle session does when it times out just as the client speaks:
   * "close" drops the connection without a reply, "421" answers 421 and closes.
   */
  readonly staleAfterFirstMessage?: "close" | "421"
}

export interface SinkCredentials {
  readonly user: string
  readonly pass: string
}

export interface ReceivedMessage {
  readonly mailFrom: string
  /** MAIL FROM parameters, keys upper-case (e.g. SIZE, BODY, SMTPUTF8). */
  readonly mailParams: Readonly<Record<string, unknown>>
  readonly rcptTo: ReadonlyArray<string>
  readonly raw: Buffer
  /** The session was TLS when the message was received. */
  readonly secure: boolean
  /** The authenticated user, if the session authenticated. */
  readonly user: string | undefined
}

export interface Sink {
  readonly port: number
  /** The certificate the sink presents after STARTTLS (trust it with `ca`). */
  readonly cert: string
  /** Accepted messages, in order of their 250 reply. */
  readonly messages: ReadonlyArray<ReceivedMessage>
  /** Connections accepted so far. */
  readonly connections: number
  /** Connections that have ended (either side closed them). */
  readonly closed: number
  /** Transactions that entered DATA (got 354), whatever became of them. */
  readonly dataStarted: number
  /** DATA commands refused (refuseDataCommand). */
  readonly dataRefused: number
  /** DATA transfers the client left before the terminating dot. */
  readonly aborted: number
  /** Complete messages the sink refused at the end of DATA (rejectData, size). */
  readonly rejected: number
  /** Complete messages the sink read and never answered (hangOnData). */
  readonly unanswered: number
  /** Resolves once `count` messages were accepted; rejects after `timeoutMs`. */
  readonly waitFor: (count: number, timeoutMs?: number) => Promise<ReadonlyArray<ReceivedMessage>>
  /** Resolves once `predicate` holds (checked on every recorded event); rejects after `timeoutMs`. */
  readonly waitUntil: (predicate: (sink: Sink) => boolean, timeoutMs?: number) => Promise<void>
  /** Ends every open session as an idle timeout does: 421, then the connection is closed. */
  readonly timeOutSessions: () => void
  /** Stops listening and destroys the open sessions at once. */
  readonly close: () => Promise<void>
}

const DEFAULT_WAIT_MS = 10_000

/** The parts of smtp-server's connection objects (`server.connections`, typed `any`) the sink uses. */
interface Connection {
  readonly id: string
  readonly _socket: { destroy(): void }
  send(code: number, text: string, context?: string): void
  /** smtp-server's handler for DATA; replaced per connection by refuseDataCommand */
  handler_DATA(command: Buffer, callback: () => void): void
  close(): void
}

const smtpError = (reply: SinkReply): Error => Object.assign(new Error(reply.message), { responseCode: reply.code, enhancedStatusCode: reply.enhanced })

const addressArgs = (address: SMTPServerAddress): Record<string, unknown> =>
  typeof address.args === "object" && address.args !== null ? { ...(address.args as Record<string, unknown>) } : {}

export const startSink = async (options: SinkOptions = {}): Promise<Sink> => {
  const { key, cert } = await makeSelfSigned()
  const changes = new EventEmitter()
  changes.setMaxListeners(0)
  const messages: Array<ReceivedMessage> = []
  const counters = { connections: 0, closed: 0, dataStarted: 0, dataRefused: 0, aborted: 0, rejected: 0, unanswered: 0 }
  /** messages accepted per session id */
  const delivered = new Map<string, number>()
  const credentials = options.auth === undefined ? [] : Array.isArray(options.auth) ? options.auth : [options.auth as SinkCredentials]
  const changed = () => changes.emit("change")
  const rejectRcpt = new Map(Object.entries(options.rejectRcpt ?? {}).map(([a, r]) => [a.toLowerCase(), r]))

  const disabledCommands: Array<string> = []
  if (options.starttls === false) disabledCommands.push("STARTTLS")
  if (options.auth === undefined) disabledCommands.push("AUTH")

  const serverOptions: SMTPServerOptions = {
    key,
    cert,
    logger: false,
    disableReverseLookup: true,
    hideENHANCEDSTATUSCODES: false,
    authOptional: options.auth === undefined,
    allowInsecureAuth: true,
    authMethods: ["PLAIN", "LOGIN"],
    disabledCommands,
    ...(options.size !== undefined ? { size: options.size, rejectOversized: true } : {}),
    onConnect(session, callback) {
      counters.connections++
      changed()
      const refuse = options.refuseDataCommand
      if (refuse !== undefined) {
        for (const c of server.connections as Set<Connection>) {
          if (c.id !== session.id) continue
          // the reply a downstream gives when it will not take data now (451) or at all (554)
          c.handler_DATA = (_command, done) => {
            counters.dataRefused++
            changed()
            c.send(refuse.code, refuse.message, refuse.enhanced)
            done()
          }
        }
      }
      callback(options.rejectConnect ? smtpError(options.rejectConnect) : null)
    },
    onClose(session) {
      delivered.delete(session.id)
      counters.closed++
      changed()
    },
    onAuth(auth, _session, callback) {
      if (credentials.some((c) => auth.username === c.user && auth.password === c.pass)) {
        callback(null, { user: auth.username })
      } else {
        callback(smtpError({ code: 535, message: "authentication failed" }))
      }
    },
    onMailFrom(_address, session, callback) {
      if (options.staleAfterFirstMessage !== undefined && (delivered.get(session.id) ?? 0) > 0) {
        if (options.staleAfterFirstMessage === "421") return callback(smtpError({ code: 421, message: "idle timeout, closing connection" }))
        for (const c of server.connections as Set<Connection>) {
          if (c.id === session.id) c._socket.destroy()
        }
        return
      }
      callback(options.rejectMail ? smtpError(options.rejectMail) : null)
    },
    onRcptTo(address, _session, callback) {
      const reply = rejectRcpt.get(address.address.toLowerCase())
      callback(reply ? smtpError(reply) : null)
    },
    onData(stream: SMTPServerDataStream, session, callback) {
      counters.dataStarted++
      changed()
      const chunks: Array<Buffer> = []
      let ended = false
      stream.on("data", (chunk: Buffer) => chunks.push(chunk))
      // smtp-server destroys the stream (with an error, when someone listens) if the
      // client goes away before the dot: that is an aborted transaction
      stream.on("error", () => undefined)
      stream.on("close", () => {
        if (!ended) {
          counters.aborted++
          changed()
        }
      })
      stream.on("end", () => {
        ended = true
        if (options.hangOnData) {
          counters.unanswered++
          changed()
          return
        }
        if (stream.sizeExceeded) {
          counters.rejected++
          changed()
          return callback(smtpError({ code: 552, message: "message too big" }))
        }
        if (options.rejectData) {
          counters.rejected++
          changed()
          return callback(smtpError(options.rejectData))
        }
        const envelope = session.envelope
        const mailFrom = envelope.mailFrom === false ? "" : envelope.mailFrom.address
        messages.push({
          mailFrom,
          mailParams: envelope.mailFrom === false ? {} : addressArgs(envelope.mailFrom),
          rcptTo: envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
          secure: session.secure,
          user: typeof session.user === "string" ? session.user : undefined
        })
        delivered.set(session.id, (delivered.get(session.id) ?? 0) + 1)
        callback(null, "OK: recorded")
        changed()
      })
    }
  }
  const server = new SMTPServer(serverOptions)
  // A test sink must never crash the test process on a client's socket error
  server.on("error", () => undefined)

  await new Promise<void>((resolve, reject) => {
    server.server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      server.server.off("error", reject)
      resolve()
    })
  })
  const address = server.server.address()
  if (address === null || typeof address === "string") throw new Error("sink has no TCP address")

  const waitUntil = (predicate: (sink: Sink) => boolean, timeoutMs = DEFAULT_WAIT_MS): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      if (predicate(sink)) return resolve()
      const onChange = () => {
        if (predicate(sink)) {
          cleanup()
          resolve()
        }
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`sink: condition not reached within ${timeoutMs} ms`))
      }, timeoutMs)
      const cleanup = () => {
        clearTimeout(timer)
        changes.off("change", onChange)
      }
      changes.on("change", onChange)
    })

  const sink: Sink = {
    port: address.port,
    cert,
    messages,
    get connections() {
      return counters.connections
    },
    get closed() {
      return counters.closed
    },
    get dataStarted() {
      return counters.dataStarted
    },
    get dataRefused() {
      return counters.dataRefused
    },
    get aborted() {
      return counters.aborted
    },
    get rejected() {
      return counters.rejected
    },
    get unanswered() {
      return counters.unanswered
    },
    waitUntil,
    waitFor: (count, timeoutMs) => waitUntil((s) => s.messages.length >= count, timeoutMs).then(() => messages),
    timeOutSessions: () => {
      // what smtp-server itself sends when socketTimeout passes
      for (const connection of server.connections as Set<Connection>) {
        connection.send(421, "Timeout - closing connection")
        connection.close()
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        // Tests should not wait for smtp-server's grace period: end every session now
        for (const connection of server.connections as Set<Connection>) connection._socket.destroy()
      })
  }
  return sink
}
