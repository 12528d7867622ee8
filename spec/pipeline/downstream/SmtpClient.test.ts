import * as net from "node:net"
import { PassThrough, Readable } from "node:stream"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import fc from "fast-check"
import { connect } from "../../../src/pipeline/downstream/SmtpClient.js"
import type { SmtpClient, SmtpClientOptions } from "../../../src/pipeline/downstream/SmtpClient.js"
import { makeSelfSigned } from "../../support/Certs.js"
import { startSink } from "../../support/Sink.js"
import type { SinkOptions } from "../../support/Sink.js"

const options = (port: number, over: Partial<SmtpClientOptions> = {}): SmtpClientOptions => ({
  host: "127.0.0.1",
  port,
  tls: "none",
  rejectUnauthorized: false,
  clientName: "imprint.test",
  connectTimeoutMs: 10_000,
  commandTimeoutMs: 10_000,
  dataTimeoutMs: 10_000,
  ...over
})

const useSink = (opts?: SinkOptions) =>
  Effect.acquireRelease(
    Effect.promise(() => startSink(opts)),
    (sink) => Effect.promise(() => sink.close())
  )

const wait = <A>(promise: () => Promise<A>) => Effect.promise(promise)

/** One whole transaction; returns the DATA reply. */
const deliver = (client: SmtpClient, body: Buffer | Readable, from = "a@sender.test", to = ["b@rcpt.test"]) =>
  Effect.gen(function* () {
    expect((yield* client.mail(from)).code).toBe(250)
    for (const r of to) expect((yield* client.rcpt(r)).code).toBe(250)
    return yield* client.data(Buffer.isBuffer(body) ? Readable.from([body]) : body)
  })

/** A scripted raw server: answers each received line with the next scripted reply. */
const useScriptedServer = (greeting: string, replies: ReadonlyArray<string>) => {
  const sockets = new Set<net.Socket>()
  return Effect.acquireRelease(
    Effect.async<net.Server>((resume) => {
      const server = net.createServer((socket) => {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
        socket.on("error", () => undefined)
        socket.write(greeting)
        let next = 0
        socket.on("data", () => {
          if (next < replies.length) socket.write(replies[next++])
        })
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        for (const socket of sockets) socket.destroy()
      })
  ).pipe(Effect.map((server) => (server.address() as net.AddressInfo).port))
}

const lines = (...l: Array<string>) => Buffer.from(l.join("\r\n"), "utf8")

/** A raw server that greets, then hands each received command line to `onLine` with its socket. */
const useLineServer = (greeting: string, onLine: (line: string, socket: net.Socket) => void, onClose: () => void = () => undefined) =>
  Effect.acquireRelease(
    Effect.async<net.Server>((resume) => {
      const server = net.createServer((socket) => {
        socket.on("error", () => undefined)
        socket.on("close", onClose)
        socket.write(greeting)
        let partial = ""
        socket.on("data", (chunk) => {
          partial += chunk.toString("latin1")
          const complete = partial.split("\r\n")
          partial = complete.pop()!
          for (const line of complete) onLine(line, socket)
        })
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.sync(() => server.close())
  ).pipe(Effect.map((server) => (server.address() as net.AddressInfo).port))

describe("SmtpClient", () => {
  it.scopedLive("delivers byte-exact, stuffing leading dots and completing the last line", () =>
    Effect.gen(function* () {
      const sink = yield* useSink({ starttls: false })
      const client = yield* connect(options(sink.port))
      const body = lines("Subject: dots", "", ".", "..two", ".leading", "mid.dle", "last line without CRLF")
      const reply = yield* deliver(client, body)
      expect(reply.code).toBe(250)
      expect(reply.enhanced).toMatch(/^2\.\d+\.\d+$/)
      const [message] = yield* wait(() => sink.waitFor(1))
      expect(message.raw.equals(Buffer.concat([body, Buffer.from("\r\n")]))).toBe(true)
      expect(message.mailFrom).toBe("a@sender.test")
      expect(message.rcptTo).toEqual(["b@rcpt.test"])
      expect(message.secure).toBe(false)
      expect(client.secure).toBe(false)
    })
  )

  it.scopedLive("a message ending with CRLF is delivered unchanged, and RSET is answered", () =>
    Effect.gen(function* () {
      const sink = yield* useSink({ starttls: false })
      const client = yield* connect(options(sink.port))
      const body = lines("Subject: x", "", "body", "")
      expect((yield* deliver(client, body)).code).toBe(250)
      expect((yield* client.rset()).code).toBe(250)
      const [message] = yield* wait(() => sink.waitFor(1))
      expect(message.raw.equals(body)).toBe(true)
    })
  )

  it.scopedLive("rcptThenData: RCPT's reply, then the body on the DATA already sent", () =>
    Effect.gen(function* () {
      const sink = yield* useSink({ starttls: false })
      const client = yield* connect(options(sink.port))
      expect(client.features.has("PIPELINING")).toBe(true)
      const body = lines("Subject: ahead", "", "body", "")
      expect((yield* client.mail("a@sender.test")).code).toBe(250)
      expect((yield* client.rcptThenData("b@rcpt.test")).code).toBe(250)
      expect(client.reusable()).toBe(false)
      expect((yield* client.data(Readable.from([body]))).code).toBe(250)
      expect(client.reusable()).toBe(true)
      // the session is in step: the next transaction sends its own DATA
      expect((yield* deliver(client, lines("Subject: next", "", "x", ""))).code).toBe(250)
      const received = yield* wait(() => sink.waitFor(2))
      expect(received[0].raw.equals(body)).toBe(true)
      expect(sink.dataStarted).toBe(2)
    })
  )

  it.scopedLive("rcptThenData: no command while the downstream awaits a body; the connection is dropped, no message", () =>
    Effect.gen(function* () {
      const sink = yield* useSink({ starttls: false })
      const client = yield* connect(options(sink.port))
      expect((yield* client.mail("a@sender.test")).code).toBe(250)
      expect((yield* client.rcptThenData("b@rcpt.test")).code).toBe(250)
      const refused = yield* Effect.flip(client.rset())
      expect(refused._tag).toBe("DownstreamProtocolError")
      yield* wait(() => sink.waitUntil((s) => s.aborted === 1 && s.closed === 1))
      expect(sink.messages).toHaveLength(0)
      expect(client.reusable()).toBe(false)
    })
  )

  it.scopedLive("rcptThenData: a refused DATA is data()'s answer, and a later RSET goes out as usual", () =>
    Effect.gen(function* () {
      const sink = yield* useSink({ starttls: false, refuseDataCommand: { code: 451, enhanced: "4.3.1", message: "later" } })
      const client = yield* connect(options(sink.port))
      expect((yield* client.mail("a@sender.test")).code).toBe(250)
      expect((yield* client.rcptThenData("b@rcpt.test")).code).toBe(250)
      const source = new PassThrough()
      expect((yield* client.data(source)).code).toBe(451)
      expect(source.readableFlowing).not.toBe(true)
      expect((yield* client.rset()).code).toBe(250)
      expect(sink.dataRefused).toBe(1)
    })
  )

  it.scopedLive("rcptThenData: a server without PIPELINING gets RCPT alone, and DATA from data()", () =>
    Effect.gen(function* () {
      const seen: Array<string> = []
      let inData = false
      const port = yield* useLineServer("220 plain.test ESMTP\r\n", (line, socket) => {
        if (inData) {
          if (line === ".") {
            inData = false
            socket.write("250 2.0.0 queued\r\n")
          }
          return
        }
        seen.push(line.split(" ")[0])
        if (line.startsWith("EHLO")) socket.write("250-plain.test\r\n250 8BITMIME\r\n")
        else if (line === "DATA") {
          inData = true
          socket.write("354 go ahead\r\n")
        } else socket.write("250 2.0.0 ok\r\n")
      })
      const client = yield* connect(options(port))
      expect(client.features.has("PIPELINING")).toBe(false)
      expect((yield* client.mail("a@sender.test")).code).toBe(250)
      expect((yield* client.rcptThenData("b@rcpt.test")).code).toBe(250)
      expect(seen).toEqual(["EHLO", "MAIL", "RCPT"])
      expect(yield* client.data(Readable.from([lines("Subject: plain", "", "x", "")]))).toMatchObject({ code: 250 })
      expect(seen).toEqual(["EHLO", "MAIL", "RCPT", "DATA"])
    })
  )

  it.scopedLive("sends SIZE, BODY and SMTPUTF8 only as advertised", () =>
    Effect.gen(function* () {
      const sink = yield* useSink({ starttls: false, size: 1_000_000 })
      const client = yield* connect(options(sink.port))
      expect(client.features.has("SIZE")).toBe(true)
      expect(client.features.has("8BITMIME")).toBe(true)
      expect(client.sizeLimit).toBe(1_000_000)
      expect((yield* client.mail("a@sender.test", { size: 1234, body: "8BITMIME", smtputf8: true })).code).toBe(250)
      expect((yield* client.rcpt("b@rcpt.test")).code).toBe(250)
      expect((yield* client.data(Readable.from([lines("Subject: p", "", "x", "")]))).code).toBe(250)
      const [message] = yield* wait(() => sink.waitFor(1))
      expect(message.mailParams).toMatchObject({ SIZE: "1234", BODY: "8BITMIME" })
      expect(Object.keys(message.mailParams)).toContain("SMTPUTF8")
    })
  )

  it.scopedLive("uses STARTTLS opportunistically", () =>
    Effect.gen(function* () {
      const sink = yield* useSink()
      const client = yield* connect(options(sink.port, { tls: "opportunistic" }))
      expect(client.secure).toBe(true)
      expect((yield* deliver(client, lines("Subject: tls", "", "x", ""))).code).toBe(250)
      const [message] = yield* wait(() => sink.waitFor(1))
      expect(message.secure).toBe(true)
    })
  )

  it.scopedLive("requires TLS and verifies the certificate against the given ca", () =>
    Effect.gen(function* () {
      const sink = yield* useSink()
      const { cert } = yield* wait(() => makeSelfSigned())
      const client = yield* connect(options(sink.port, { tls: "required", rejectUnauthorized: true, ca: cert }))
      expect(client.secure).toBe(true)
      expect((yield* deliver(client, lines("Subject: tls", "", "x", ""))).code).toBe(250)
      expect((yield* wait(() => sink.waitFor(1)))[0].secure).toBe(true)
    })
  )

  it.scopedLive("fails with DownstreamTlsError for an untrusted certificate when verifying", () =>
    Effect.gen(function* () {
      const sink = yield* useSink()
      const error = yield* Effect.flip(connect(options(sink.port, { tls: "required", rejectUnauthorized: true })))
      expect(error._tag).toBe("DownstreamTlsError")
    })
  )

  it.scopedLive("fails with DownstreamTlsError when TLS is required and STARTTLS is not offered", () =>
    Effect.gen(function* () {
      const sink = yield* useSink({ starttls: false })
      const error = yield* Effect.flip(connect(options(sink.port, { tls: "required" })))
      expect(error._tag).toBe("DownstreamTlsError")
      // opportunistic goes on in clear
      const client = yield* connect(options(sink.port, { tls: "opportunistic" }))
      expect(client.secure).toBe(false)
    })
  )

  it.scopedLive("fails with DownstreamTlsError when STARTTLS is refused and TLS is required", () =>
    Effect.gen(function* () {
      const port = yield* useScriptedServer("220 scripted\r\n", ["250-scripted\r\n250 STARTTLS\r\n", "454 4.7.0 no TLS today\r\n"])
      const error = yield* Effect.flip(connect(options(port, { tls: "required" })))
      expect(error._tag).toBe("DownstreamTlsError")
    })
  )

  it.scopedLive("refuses replies injected in clear after the STARTTLS 220", () =>
    Effect.gen(function* () {
      const port = yield* useScriptedServer("220 scripted\r\n", ["250-scripted\r\n250 STARTTLS\r\n", "220 go ahead\r\n250 injected\r\n"])
      const error = yield* Effect.flip(connect(options(port, { tls: "opportunistic" })))
      expect(error._tag).toBe("DownstreamProtocolError")
    })
  )

  it.scopedLive("authenticates with AUTH PLAIN over TLS", () =>
    Effect.gen(function* () {
      const sink = yield* useSink({ auth: { user: "relay", pass: "s3cret" } })
      const client = yield* connect(options(sink.port, { tls: "required", auth: { user: "relay", pass: "s3cret" } }))
      expect((yield* deliver(client, lines("Subject: auth", "", "x", ""))).code).toBe(250)
      expect((yield* wait(() => sink.waitFor(1)))[0].user).toBe("relay")
    })
  )

  it.scopedLive("fails with DownstreamProtocolError on wrong credentials; without AUTH, MAIL is refused as a value", () =>
    Effect.gen(function* () {
      const sink = yield* useSink({ auth: { user: "relay", pass: "s3cret" } })
      const error = yield* Effect.flip(connect(options(sink.port, { tls: "required", auth: { user: "relay", pass: "wrong" } })))
      expect(error._tag).toBe("DownstreamProtocolError")
      if (error._tag === "DownstreamProtocolError") expect(error.reply?.code).toBe(535)
      const anonymous = yield* connect(options(sink.port, { tls: "required" }))
      expect((yield* anonymous.mail("a@sender.test")).code).toBe(530)
    })
  )

  it.scopedLive("authenticates with AUTH LOGIN when PLAIN is not offered", () =>
    Effect.gen(function* () {
      const port = yield* useScriptedServer("220 scripted\r\n", [
        "250-scripted\r\n250 AUTH LOGIN\r\n",
        "334 VXNlcm5hbWU6\r\n",
        "334 UGFzc3dvcmQ6\r\n",
        "235 2.7.0 ok\r\n",
        "250 2.1.0 ok\r\n"
      ])
      const client = yield* connect(options(port, { auth: { user: "u", pass: "p" } }))
      expect((yield* client.mail("a@sender.test")).code).toBe(250)
    })
  )

  it.scopedLive("returns MAIL, RCPT and DATA rejections as replies", () =>
    Effect.gen(function* () {
      const mailSink = yield* useSink({ starttls: false, rejectMail: { code: 451, message: "greylisted" } })
      const c1 = yield* connect(options(mailSink.port))
      const mail = yield* c1.mail("a@sender.test")
      expect(mail.code).toBe(451)
      expect(mail.text).toContain("greylisted")

      const rcptSink = yield* useSink({ starttls: false, rejectRcpt: { "nobody@rcpt.test": { code: 550, message: "no such user" } } })
      const c2 = yield* connect(options(rcptSink.port))
      expect((yield* c2.mail("a@sender.test")).code).toBe(250)
      const refused = yield* c2.rcpt("nobody@rcpt.test")
      expect(refused.code).toBe(550)
      expect(refused.enhanced).toMatch(/^5\.\d+\.\d+$/)
      expect((yield* c2.rcpt("b@rcpt.test")).code).toBe(250)

      const dataSink = yield* useSink({ starttls: false, rejectData: { code: 554, message: "content refused" } })
      const c3 = yield* connect(options(dataSink.port))
      const data = yield* deliver(c3, lines("Subject: no", "", "x", ""))
      expect(data.code).toBe(554)
      expect(data.text).toContain("content refused")
      expect(dataSink.messages).toHaveLength(0)
      expect(dataSink.rejected).toBe(1)
    })
  )

  it.scopedLive("returns the downstream's SIZE refusals as replies, at MAIL and after the dot", () =>
    Effect.gen(function* () {
      const sink = yield* useSink({ starttls: false, size: 1000 })
      const client = yield* connect(options(sink.port))
      expect((yield* client.mail("a@sender.test", { size: 5000 })).code).toBe(552)
      // Declared small, sent big: the downstream reads it all and refuses it
      expect((yield* client.mail("a@sender.test", { size: 100 })).code).toBe(250)
      expect((yield* client.rcpt("b@rcpt.test")).code).toBe(250)
      const reply = yield* client.data(Readable.from([lines("Subject: big", "", "x".repeat(2000), "")]))
      expect(reply.code).toBe(552)
      expect(sink.messages).toHaveLength(0)
    })
  )

  it.scopedLive("returns a DATA refusal without reading the source", () =>
    Effect.gen(function* () {
      const port = yield* useScriptedServer("220 scripted\r\n", ["250 scripted\r\n", "250 ok\r\n", "250 ok\r\n", "554 no data today\r\n"])
      const client = yield* connect(options(port))
      const source = new PassThrough()
      source.write("Subject: unread\r\n")
      const reply = yield* deliver(client, source)
      expect(reply.code).toBe(554)
      expect(source.readableLength).toBeGreaterThan(0)
    })
  )

  it.scopedLive("fails with DownstreamUnavailable when the connection is refused", () =>
    Effect.gen(function* () {
      const sink = yield* wait(() => startSink({ starttls: false }))
      const port = sink.port
      yield* wait(() => sink.close())
      const error = yield* Effect.flip(connect(options(port)))
      expect(error._tag).toBe("DownstreamUnavailable")
    })
  )

  it.scopedLive("fails with DownstreamProtocolError on a refused greeting and on garbage", () =>
    Effect.gen(function* () {
      const sink = yield* useSink({ starttls: false, rejectConnect: { code: 554, message: "go away" } })
      const refused = yield* Effect.flip(connect(options(sink.port)))
      expect(refused._tag).toBe("DownstreamProtocolError")
      if (refused._tag === "DownstreamProtocolError") expect(refused.reply?.code).toBe(554)
      const port = yield* useScriptedServer("hello, this is not SMTP\r\n", [])
      const garbage = yield* Effect.flip(connect(options(port)))
      expect(garbage._tag).toBe("DownstreamProtocolError")
    })
  )

  it.scoped("times out waiting for the reply after the dot", () =>
    Effect.gen(function* () {
      const sink = yield* useSink({ starttls: false, hangOnData: true })
      const client = yield* connect(options(sink.port, { dataTimeoutMs: 30_000 }))
      const fiber = yield* Effect.fork(deliver(client, lines("Subject: hang", "", "x", "")))
      yield* wait(() => sink.waitUntil((s) => s.unanswered === 1))
      yield* TestClock.adjust("31 seconds")
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error).toMatchObject({ _tag: "DownstreamTimeout", phase: "data" })
      expect(sink.messages).toHaveLength(0)
    })
  )

  it.scopedLive("aborts before the dot when the source fails, and the session is gone", () =>
    Effect.gen(function* () {
      const sink = yield* useSink({ starttls: false })
      const client = yield* connect(options(sink.port))
      const source = new PassThrough()
      source.write("Subject: broken\r\n\r\nfirst line\r\n")
      // 'resume' means the client is reading the source: DATA was accepted
      const reading = new Promise((resolve) => source.once("resume", resolve))
      const fiber = yield* Effect.fork(deliver(client, source))
      yield* wait(() => reading)
      expect(sink.dataStarted).toBe(1)
      yield* Effect.sync(() => source.destroy(new Error("upstream went away")))
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error._tag).toBe("DataSourceError")
      yield* wait(() => sink.waitUntil((s) => s.aborted === 1))
      expect(sink.messages).toHaveLength(0)
      expect((yield* Effect.flip(client.rset()))._tag).toBe("DownstreamUnavailable")
    })
  )

  it.scopedLive("aborts before the dot when interrupted mid-data", () =>
    Effect.gen(function* () {
      const sink = yield* useSink({ starttls: false })
      const client = yield* connect(options(sink.port))
      const source = new PassThrough()
      source.write("Subject: interrupted\r\n\r\nfirst line\r\n")
      // 'resume' means the client is reading the source: DATA was accepted
      const reading = new Promise((resolve) => source.once("resume", resolve))
      const fiber = yield* Effect.fork(deliver(client, source))
      yield* wait(() => reading)
      expect(sink.dataStarted).toBe(1)
      yield* Fiber.interrupt(fiber)
      // Ending the source now must not complete the message
      source.end("last line\r\n")
      yield* wait(() => sink.waitUntil((s) => s.aborted === 1))
      expect(sink.messages).toHaveLength(0)
    })
  )

  it.scopedLive("runs a session's commands one at a time; one interrupted while it waits for its turn leaves the session usable", () =>
    Effect.gen(function* () {
      // a raw server that holds its reply to MAIL until told, and answers everything else 250
      const seen: Array<string> = []
      let releaseMail: () => void = () => undefined
      let mailSeen: () => void = () => undefined
      const mailArrived = new Promise<void>((resolve) => (mailSeen = resolve))
      const port = yield* useLineServer("220 held.test ESMTP\r\n", (line, socket) => {
        seen.push(line)
        if (line.startsWith("MAIL")) {
          releaseMail = () => socket.write("250 2.1.0 ok\r\n")
          mailSeen()
        } else socket.write("250 2.0.0 ok\r\n")
      })
      const client = yield* connect(options(port))
      const mail = yield* Effect.fork(client.mail("a@sender.test"))
      yield* wait(() => mailArrived)
      const waiting = yield* Effect.fork(client.rcpt("waits@rcpt.test"))
      yield* Effect.sleep("50 millis")
      // MAIL holds the session: the RCPT behind it has not been sent
      expect(seen.filter((l) => l.startsWith("RCPT"))).toEqual([])
      yield* Fiber.interrupt(waiting)
      releaseMail()
      expect((yield* Fiber.join(mail)).code).toBe(250)
      // the interrupted waiter neither kept the turn nor dropped the connection
      expect((yield* client.rcpt("next@rcpt.test")).code).toBe(250)
      expect(seen.filter((l) => /^(MAIL|RCPT)/.test(l))).toEqual(["MAIL FROM:<a@sender.test>", "RCPT TO:<next@rcpt.test>"])
    })
  )

  it.scopedLive("drops the connection when a command is interrupted while its reply is awaited", () =>
    Effect.gen(function* () {
      // a raw server that never answers MAIL, and reports when the client goes away
      let mailSeen: () => void = () => undefined
      const mailArrived = new Promise<void>((resolve) => (mailSeen = resolve))
      let clientGone: () => void = () => undefined
      const closed = new Promise<void>((resolve) => (clientGone = resolve))
      const port = yield* useLineServer(
        "220 mute.test ESMTP\r\n",
        (line, socket) => {
          if (line.startsWith("MAIL")) mailSeen()
          else socket.write("250 2.0.0 ok\r\n")
        },
        () => clientGone()
      )
      const client = yield* connect(options(port))
      const mail = yield* Effect.fork(client.mail("a@sender.test"))
      yield* wait(() => mailArrived)
      yield* Fiber.interrupt(mail)
      // a late reply to MAIL would be read as the next command's: the connection is gone instead
      yield* wait(() => closed)
      expect(client.reusable()).toBe(false)
      expect((yield* Effect.flip(client.rcpt("next@rcpt.test")))._tag).toBe("DownstreamUnavailable")
    })
  )

  it.scopedLive("streams a 5 MB message over TLS, byte-identical", () =>
    Effect.gen(function* () {
      const sink = yield* useSink()
      const client = yield* connect(options(sink.port, { tls: "opportunistic" }))
      const line = Buffer.from(".Lorem ipsum dolor sit amet, consectetur adipiscing elit. 0123456789\r\n")
      const body = Buffer.concat([Buffer.from("Subject: big\r\n\r\n"), ...Array.from({ length: Math.ceil(5_000_000 / line.length) }, () => line)])
      let chunksRead = 0
      const chunkSize = 64 * 1024
      const source = new Readable({
        highWaterMark: chunkSize,
        read() {
          const start = chunksRead++ * chunkSize
          this.push(start < body.length ? body.subarray(start, start + chunkSize) : null)
        }
      })
      expect(client.secure).toBe(true)
      expect((yield* deliver(client, source)).code).toBe(250)
      const [message] = yield* wait(() => sink.waitFor(1, 30_000))
      expect(message.raw.length).toBe(body.length)
      expect(message.raw.equals(body)).toBe(true)
    })
  )

  it.scopedLive("property: any lines, any chunking, the sink receives the original bytes", () =>
    Effect.gen(function* () {
      const sink = yield* useSink({ starttls: false })
      const client = yield* connect(options(sink.port))
      const lineArb = fc.oneof(fc.string({ unit: fc.constantFrom(".", "a", " ", "é", "\t", "-"), maxLength: 12 }), fc.constantFrom(".", "..", ".\u0000", ""))
      const caseArb = fc.record({
        lines: fc.array(lineArb, { minLength: 0, maxLength: 20 }),
        cuts: fc.array(fc.nat(), { maxLength: 8 }),
        endWithCrlf: fc.boolean()
      })
      let runs = 0
      yield* wait(() =>
        fc.assert(
          fc.asyncProperty(caseArb, async ({ lines: ls, cuts, endWithCrlf }) => {
            const text = ls.join("\r\n") + (endWithCrlf && ls.length > 0 ? "\r\n" : "")
            const body = Buffer.from(text, "utf8")
            const points = [...new Set(cuts.map((c) => (body.length === 0 ? 0 : c % body.length)))].sort((a, b) => a - b)
            const chunks = [0, ...points].map((p, i, all) => body.subarray(p, all[i + 1] ?? body.length)).filter((c) => c.length > 0)
            const reply = await Effect.runPromise(deliver(client, Readable.from(chunks)))
            expect(reply.code).toBe(250)
            const received = (await sink.waitFor(++runs))[runs - 1].raw
            const expected = body.length === 0 || text.endsWith("\r\n") ? body : Buffer.concat([body, Buffer.from("\r\n")])
            expect(received.equals(expected)).toBe(true)
          }),
          { numRuns: 60 }
        )
      )
    })
  )
})

/**
 * A minimal SMTP server that stops reading when DATA starts, until `release` is
 * called; then it reads to the end of data and answers 250. It counts DATA bytes.
 */
const useStallingServer = () => {
  const sockets = new Set<net.Socket>()
  const state = { dataBytes: 0, release: () => {} }
  return Effect.acquireRelease(
    Effect.async<net.Server>((resume) => {
      const server = net.createServer((socket) => {
        sockets.add(socket)
        socket.on("error", () => undefined)
        socket.write("220 stalling\r\n")
        let inData = false
        let tail = ""
        socket.on("data", (chunk: Buffer) => {
          if (inData) {
            state.dataBytes += chunk.length
            tail = (tail + chunk.subarray(-5).toString("latin1")).slice(-5)
            if (tail === "\r\n.\r\n") {
              inData = false
              socket.write("250 2.0.0 ok\r\n")
            }
            return
          }
          const command = chunk.toString("latin1")
          if (command.startsWith("DATA")) {
            inData = true
            socket.write("354 go ahead\r\n")
            socket.pause()
            state.release = () => socket.resume()
          } else if (command.startsWith("QUIT")) {
            socket.end("221 bye\r\n")
          } else {
            socket.write("250 ok\r\n")
          }
        })
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        for (const socket of sockets) socket.destroy()
      })
  ).pipe(Effect.map((server) => ({ port: (server.address() as net.AddressInfo).port, state })))
}

describe("SmtpClient backpressure", () => {
  it.scopedLive("stops reading the source while the downstream does not read", () =>
    Effect.gen(function* () {
      const { port, state } = yield* useStallingServer()
      const client = yield* connect(options(port))
      const chunk = Buffer.from("0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n".repeat(900))
      const total = 64 * 1024 * 1024
      let produced = 0
      const source = new Readable({
        read() {
          if (produced >= total) return void this.push(null)
          produced += chunk.length
          this.push(chunk)
        }
      })
      const paused = new Promise((resolve) => source.once("pause", resolve))
      const fiber = yield* Effect.fork(deliver(client, source))
      yield* wait(() => paused)
      // Without backpressure the whole source would be read into socket buffers
      expect(produced).toBeLessThan(total)
      state.release()
      const reply = yield* Fiber.join(fiber)
      expect(reply.code).toBe(250)
      expect(state.dataBytes).toBe(produced + ".\r\n".length)
    })
  )
})
