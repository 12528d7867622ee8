/**
 * The library floor: the least a relay on the same SMTP libraries can do.
 * smtp-server in, nodemailer's SMTPConnection out (one downstream connection
 * per upstream session, reused for its transactions, pipelined), the DATA
 * stream piped straight through: no parsing, no stamping. 250 upstream only
 * after the downstream's 250, as Imprint does (DESIGN invariant 1).
 *
 * Imprint's own downstream client (src/pipeline/smtp/SmtpClient.ts) is being
 * written; when it lands, this floor should use it so (4)/(2) compares like
 * with like. Until then the client here is nodemailer 10's SMTPConnection.
 *
 * Run as a child process: `node dist/perf/PassThrough.js --downstream <port>`;
 * prints "listening on 127.0.0.1:<port>".
 */
import { SMTPServer, type SMTPServerSession } from "smtp-server"
import SMTPConnection from "nodemailer/lib/smtp-connection"
import type { Readable } from "node:stream"
import { fastGreetingOptions } from "./SmtpServerPatch.js"

const HOST = "127.0.0.1"
/** the pass-through must take the 100 MB message */
const MAX_MESSAGE_BYTES = 200 * 1024 * 1024
const SOCKET_TIMEOUT_MS = 120_000

interface SmtpError extends Error { responseCode?: number }

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? undefined : process.argv[i + 1]
}

const downstreamPort = Number(arg("downstream"))
const listenPort = Number(arg("port") ?? 0)
if (!Number.isInteger(downstreamPort) || downstreamPort <= 0) {
  console.error("usage: PassThrough.js --downstream <port> [--port <port>]")
  process.exit(2)
}

/** one downstream connection per upstream session, opened on its first message */
const downstreams = new Map<string, Promise<SMTPConnection>>()

const openDownstream = (): Promise<SMTPConnection> =>
  new Promise((resolve, reject) => {
    const conn = new SMTPConnection({
      host: HOST, port: downstreamPort, secure: false, ignoreTLS: true,
      name: "passthrough.perf.example", socketTimeout: SOCKET_TIMEOUT_MS, logger: false
    })
    conn.once("error", reject)
    conn.connect(() => { conn.off("error", reject); conn.on("error", () => undefined); resolve(conn) })
  })

const downstreamFor = (session: SMTPServerSession): Promise<SMTPConnection> => {
  const existing = downstreams.get(session.id)
  if (existing !== undefined) return existing
  const opened = openDownstream()
  downstreams.set(session.id, opened)
  opened.catch(() => downstreams.delete(session.id))
  return opened
}

const fail = (code: number, message: string): SmtpError => Object.assign(new Error(message), { responseCode: code })

const relay = (stream: Readable, session: SMTPServerSession, callback: (err?: Error | null, message?: string) => void): void => {
  const mailFrom = session.envelope.mailFrom
  const envelope = {
    from: mailFrom === false ? "" : mailFrom.address,
    to: session.envelope.rcptTo.map((r) => r.address)
  }
  downstreamFor(session).then(
    (conn) => {
      conn.send(envelope, stream, (err, info) => {
        if (err) {
          // a connection that failed mid-transaction is not reused
          downstreams.delete(session.id)
          conn.close()
          stream.resume()
          const code = typeof err.responseCode === "number" ? err.responseCode : 451
          // smtp-server adds the code itself: pass on the downstream's text without it
          const text = err.response?.replace(/^\d{3}[ -]/, "") ?? `4.4.1 downstream: ${err.message}`
          return callback(fail(code, text))
        }
        callback(null, `2.0.0 relayed (${info.messageSize} bytes)`)
      })
    },
    (err: Error) => {
      stream.resume()
      callback(fail(451, `4.4.1 downstream unavailable: ${err.message}`))
    }
  )
}

const server = new SMTPServer({
  ...fastGreetingOptions(),
  name: "passthrough.perf.example",
  banner: "perf pass-through",
  logger: false,
  disableReverseLookup: true,
  authOptional: true,
  disabledCommands: ["AUTH", "STARTTLS"],
  size: MAX_MESSAGE_BYTES,
  socketTimeout: SOCKET_TIMEOUT_MS,
  onData: relay,
  onClose: (session) => {
    const conn = downstreams.get(session.id)
    downstreams.delete(session.id)
    conn?.then((c) => c.quit(), () => undefined)
  }
})
server.on("error", (e) => console.error(`passthrough: ${e.message}`))
server.listen(listenPort, HOST, () => {
  const address = server.server.address()
  if (address !== null && typeof address === "object") console.log(`listening on ${HOST}:${address.port}`)
})
process.on("SIGTERM", () => process.exit(0))
