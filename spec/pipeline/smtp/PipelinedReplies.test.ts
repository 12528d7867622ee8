import * as net from "node:net"
import * as tls from "node:tls"
import { SMTPServer } from "smtp-server"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeSelfSigned } from "../../support/Certs.js"

/**
 * The `pipelined-replies` patch (patches/README.md): with `holdPipelinedReplies`, the replies to
 * MAIL, RCPT and RSET wait while a complete command follows them in the input (RFC 2920), so a
 * pipelined group's replies leave in one write. Each handler answers 15 ms later, so replies that
 * are not held leave in writes of their own and reach the client as reads of their own.
 */
const HANDLER_DELAY_MS = 15
const WAIT_MS = 5_000

/** what each RCPT handler found in `session.pipelinedNext`, per server */
const lookahead = new Map<boolean, Array<string | undefined>>([
  [true, []],
  [false, []]
])

const startServer = async (hold: boolean, tlsMaterial: { key: string | Buffer; cert: string | Buffer }): Promise<SMTPServer> => {
  const server = new SMTPServer({
    ...tlsMaterial,
    name: "pipelined.test",
    logger: false,
    disableReverseLookup: true,
    authOptional: true,
    earlyTalkerDelayMs: 0,
    holdPipelinedReplies: hold,
    onMailFrom(_address, _session, done) {
      setTimeout(() => done(), HANDLER_DELAY_MS)
    },
    onRcptTo(address, session, done) {
      lookahead.get(hold)!.push((session as { pipelinedNext?: string }).pipelinedNext)
      const refuse = address.address.startsWith("no")
      setTimeout(() => done(refuse ? Object.assign(new Error("no such user"), { responseCode: 550 }) : undefined), HANDLER_DELAY_MS)
    },
    onData(stream, _session, done) {
      stream.on("end", () => done())
      stream.resume()
    }
  } as ConstructorParameters<typeof SMTPServer>[0])
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  return server
}

/** A client that keeps each socket read apart: `reads` holds the reply lines of every read. */
class Client {
  readonly reads: Array<Array<string>> = []
  private pending = ""
  private readonly waiters: Array<() => void> = []
  closed = false

  private constructor(private socket: net.Socket) {
    this.listen(socket)
  }

  static async connect(port: number): Promise<Client> {
    const socket = net.connect({ port, host: "127.0.0.1" })
    socket.setNoDelay(true)
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve)
      socket.once("error", reject)
    })
    const c = new Client(socket)
    await c.replies(1)
    await c.send("EHLO client.test\r\n", 1)
    return c
  }

  private listen(socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => {
      const text = this.pending + chunk.toString("latin1")
      const cut = text.lastIndexOf("\r\n") + 2
      this.pending = text.slice(cut)
      // one entry per read, final reply lines only (a multi-line reply counts once)
      this.reads.push(
        text
          .slice(0, cut)
          .split("\r\n")
          .filter((l) => /^\d{3} /.test(l))
      )
      for (const w of this.waiters.splice(0)) w()
    })
    socket.on("error", () => {})
    socket.on("close", () => {
      this.closed = true
      for (const w of this.waiters.splice(0)) w()
    })
  }

  private count(): number {
    return this.reads.reduce((n, r) => n + r.length, 0)
  }

  /** waits until `n` more replies arrived; returns the reads that brought them */
  async replies(n: number, from = this.reads.length, before = this.count()): Promise<Array<Array<string>>> {
    const deadline = Date.now() + WAIT_MS
    while (this.count() < before + n) {
      if (this.closed) throw new Error(`closed after ${JSON.stringify(this.reads.slice(from))}`)
      if (Date.now() > deadline) throw new Error(`no ${n} replies in time: ${JSON.stringify(this.reads.slice(from))}`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()))
        this.waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
    return this.reads.slice(from).filter((r) => r.length > 0)
  }

  /** writes `bytes` at once and waits for `n` replies */
  send(bytes: string, n: number): Promise<Array<Array<string>>> {
    const from = this.reads.length
    const before = this.count()
    this.socket.write(bytes)
    return this.replies(n, from, before)
  }

  async starttls(): Promise<void> {
    await this.send("STARTTLS\r\n", 1)
    this.socket.removeAllListeners("data")
    this.socket.removeAllListeners("close")
    const secure = tls.connect({ socket: this.socket, rejectUnauthorized: false })
    await new Promise<void>((resolve, reject) => {
      secure.once("secureConnect", resolve)
      secure.once("error", reject)
    })
    this.socket = secure
    this.listen(secure)
    await this.send("EHLO client.test\r\n", 1)
  }

  end() {
    this.socket.destroy()
  }
}

const codes = (reads: Array<Array<string>>) => reads.map((r) => r.map((l) => l.slice(0, 3)))

describe("pipelined replies (smtp-server patched, holdPipelinedReplies)", () => {
  let held: SMTPServer
  let plain: SMTPServer
  const port = (s: SMTPServer) => (s.server.address() as net.AddressInfo).port

  beforeAll(async () => {
    const material = await makeSelfSigned()
    held = await startServer(true, material)
    plain = await startServer(false, material)
  })
  afterAll(async () => {
    await new Promise<void>((r) => held.close(() => r()))
    await new Promise<void>((r) => plain.close(() => r()))
  })

  it("answers a pipelined MAIL, RCPT, DATA group in one write", async () => {
    const c = await Client.connect(port(held))
    expect(codes(await c.send("MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n", 3))).toEqual([["250", "250", "354"]])
    expect(codes(await c.send("Subject: t\r\n\r\nbody\r\n.\r\n", 1))).toEqual([["250"]])
    c.end()
  })

  it("writes each reply as it comes without the option", async () => {
    const c = await Client.connect(port(plain))
    const reads = codes(await c.send("MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n", 3))
    // MAIL's reply leaves 15 ms before RCPT's (DATA's 354 follows RCPT's in the same turn, so those two may share a read)
    expect(reads[0]).toEqual(["250"])
    expect(reads.flat()).toEqual(["250", "250", "354"])
    c.end()
  })

  it("answers a client that waits for each reply at once", async () => {
    const c = await Client.connect(port(held))
    expect(codes(await c.send("MAIL FROM:<a@x.example>\r\n", 1))).toEqual([["250"]])
    expect(codes(await c.send("RCPT TO:<b@y.example>\r\n", 1))).toEqual([["250"]])
    expect(codes(await c.send("RSET\r\n", 1))).toEqual([["250"]])
    c.end()
  })

  it("keeps a refusal in its place in the group", async () => {
    const c = await Client.connect(port(held))
    const group = "MAIL FROM:<a@x.example>\r\nRCPT TO:<no@y.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n"
    expect(codes(await c.send(group, 4))).toEqual([["250", "550", "250", "354"]])
    c.end()
  })

  it("holds nothing once the rest of the input is an incomplete command", async () => {
    const c = await Client.connect(port(held))
    expect(codes(await c.send("MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDA", 2))).toEqual([["250", "250"]])
    expect(codes(await c.send("TA\r\n", 1))).toEqual([["354"]])
    c.end()
  })

  it("sends held replies before a QUIT's and the close", async () => {
    const c = await Client.connect(port(held))
    expect(codes(await c.send("MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nQUIT\r\n", 3))).toEqual([["250", "250", "221"]])
    c.end()
  })

  it("tells the handlers the next command already read", async () => {
    for (const hold of [true, false]) lookahead.get(hold)!.length = 0
    const c = await Client.connect(port(held))
    await c.send("MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nrcpt TO:<c@y.example>\r\ndata\r\n", 4)
    await c.send("Subject: t\r\n\r\nbody\r\n.\r\n", 1)
    await c.send("MAIL FROM:<a@x.example>\r\n", 1)
    await c.send("RCPT TO:<b@y.example>\r\n", 1)
    c.end()
    expect(lookahead.get(true)).toEqual(["RCPT", "DATA", undefined])
    const p = await Client.connect(port(plain))
    await p.send("MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n", 3)
    p.end()
    expect(lookahead.get(false)).toEqual([undefined])
  })

  it("holds the same way after STARTTLS", async () => {
    const c = await Client.connect(port(held))
    await c.starttls()
    expect(codes(await c.send("MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n", 3))).toEqual([["250", "250", "354"]])
    c.end()
  })
})
