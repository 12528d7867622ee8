/**
 * The library floor: the least a relay on the same SMTP libraries can do.
 * smtp-server in, an SMTP client out, the DATA stream piped straight through:
 * no parsing, no stamping. 250 upstream only after the downstream's 250, as
 * Imprint does (DESIGN invariant 1).
 *
 *   --client nodemailer (default)  floor (2): nodemailer's SMTPConnection
 *   --client own                   floor (2b): Imprint's src/pipeline/downstream/SmtpClient,
 *                                  MAIL/RCPT mirrored one by one like Imprint's relay
 *
 * Run as a child process: `node dist/perf/PassThrough.js --downstream <port>
 * [--port <port>] [--client nodemailer|own]`; prints "listening on 127.0.0.1:<port>".
 */
import { SMTPServer, type SMTPServerOptions } from "smtp-server"
import type { Readable } from "node:stream"
import { nodemailerDownstream } from "./NodemailerDownstream.js"
import type { DownstreamSide, Refusal } from "./OwnClientDownstream.js"
import { fastGreetingOptions } from "./SmtpServerPatch.js"

const HOST = "127.0.0.1"
/** the pass-through must take the 100 MB message */
const MAX_MESSAGE_BYTES = 200 * 1024 * 1024
const SOCKET_TIMEOUT_MS = 120_000

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? undefined : process.argv[i + 1]
}

const downstreamPort = Number(arg("downstream"))
const listenPort = Number(arg("port") ?? 0)
const clientKind = arg("client") ?? "nodemailer"
if (!Number.isInteger(downstreamPort) || downstreamPort <= 0 || !["nodemailer", "own"].includes(clientKind)) {
  console.error("usage: PassThrough.js --downstream <port> [--port <port>] [--client nodemailer|own]")
  process.exit(2)
}

// loaded only when asked for, so floor (2) does not carry Effect's heap and start-up
const downstream: DownstreamSide =
  clientKind === "own" ? (await import("./OwnClientDownstream.js")).ownClientDownstream(downstreamPort) : nodemailerDownstream(downstreamPort)

const reply =
  (done: (err?: Error | null) => void) =>
  (r: Refusal | undefined): void =>
    done(r === undefined ? null : Object.assign(new Error(r.text), { responseCode: r.code }))

const onData: SMTPServerOptions["onData"] = (stream, session, done) => {
  const from = session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address
  const to = session.envelope.rcptTo.map((r) => r.address)
  downstream.data(session.id, from, to, stream as Readable).then((r) => {
    // smtp-server answers only once the stream has ended: drain what the downstream did not read
    if (r !== undefined) stream.resume()
    reply(done)(r)
  })
}

const server = new SMTPServer({
  ...fastGreetingOptions(),
  name: "passthrough.perf.example",
  banner: `perf pass-through (${clientKind})`,
  logger: false,
  disableReverseLookup: true,
  authOptional: true,
  disabledCommands: ["AUTH", "STARTTLS"],
  size: MAX_MESSAGE_BYTES,
  socketTimeout: SOCKET_TIMEOUT_MS,
  onMailFrom: (address, session, done) => {
    downstream.mail(session.id, address.address).then(reply(done))
  },
  onRcptTo: (address, session, done) => {
    downstream.rcpt(session.id, address.address).then(reply(done))
  },
  onData,
  onClose: (session) => downstream.close(session.id)
})
server.on("error", (e) => console.error(`passthrough: ${e.message}`))
server.listen(listenPort, HOST, () => {
  const address = server.server.address()
  if (address !== null && typeof address === "object") console.log(`listening on ${HOST}:${address.port}`)
})
process.on("SIGTERM", () => process.exit(0))
