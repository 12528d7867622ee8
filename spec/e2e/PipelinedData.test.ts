import * as net from "node:net"
import { afterEach, describe, expect, it } from "vitest"
import { loopbackTenant, startImprint, type RunningImprint } from "../support/Imprint.js"
import { RawSmtp } from "../support/RawSmtp.js"
import { startSink, type Sink, type SinkOptions } from "../support/Sink.js"

/**
 * An upstream that pipelines MAIL, RCPT and DATA (RFC 2920): Imprint sends the downstream
 * RCPT and DATA in one write when the upstream's DATA is already read after its first
 * recipient, keeps the DATA's reply for the body, and never writes a command while the
 * downstream awaits a body (it drops the connection instead). What the upstream is told,
 * and what the downstream receives, are those of a relay that sends DATA on its own.
 * A byte-recording proxy between Imprint and the sink shows what Imprint wrote per write.
 */

const FROM = "alice@acme.example"
const TO = "bob@customer.example"

const message = (subject: string) =>
  `From: Alice <${FROM}>\r\nTo: ${TO}\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@acme.example>\r\nContent-Type: text/plain\r\n\r\nHello Bob.\r\n.dot line\r\n`

/** A TCP proxy to `port` that records what its clients write, one entry per read, and counts its connections. */
const startProxy = async (port: number) => {
  const writes: Array<string> = []
  const sockets = new Set<net.Socket>()
  let connections = 0
  const server = net.createServer((client) => {
    connections++
    const upstream = net.connect({ port, host: "127.0.0.1" })
    sockets.add(client).add(upstream)
    client.on("data", (chunk: Buffer) => {
      writes.push(chunk.toString("latin1"))
      upstream.write(chunk)
    })
    upstream.on("data", (chunk: Buffer) => client.write(chunk))
    const end = () => {
      client.destroy()
      upstream.destroy()
    }
    for (const s of [client, upstream]) {
      s.on("error", end)
      s.on("close", end)
    }
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  return {
    port: (server.address() as net.AddressInfo).port,
    writes,
    get connections() {
      return connections
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy()
        server.close(() => r())
      })
  }
}

/** the group in one write; resolves with the codes of its replies */
const pipelinedGroup = async (c: RawSmtp, recipients: ReadonlyArray<string>): Promise<Array<number>> => {
  c.write([`MAIL FROM:<${FROM}>`, ...recipients.map((r) => `RCPT TO:<${r}>`), "DATA", ""].join("\r\n"))
  const codes: Array<number> = []
  for (let i = 0; i < recipients.length + 2; i++) codes.push((await c.reply()).code)
  return codes
}

let sink: Sink | undefined
let proxy: Awaited<ReturnType<typeof startProxy>> | undefined
let imprint: RunningImprint | undefined

const start = async (options: SinkOptions = {}) => {
  sink = await startSink({ starttls: false, ...options })
  proxy = await startProxy(sink.port)
  imprint = await startImprint({ tenants: [loopbackTenant(proxy.port)] })
  return { sink, proxy, imprint }
}

afterEach(async () => {
  await imprint?.close()
  await proxy?.close()
  await sink?.close()
  imprint = undefined
  proxy = undefined
  sink = undefined
})

describe("DATA pipelined to the downstream after the last RCPT", () => {
  it("sends RCPT and DATA in one write and relays the message as it came", async () => {
    const { sink, proxy, imprint } = await start()
    const c = await RawSmtp.connect(imprint.port)
    expect(await pipelinedGroup(c, [TO])).toEqual([250, 250, 354])
    expect((await c.sendBody(message("one"))).code).toBe(250)
    const [received] = await sink.waitFor(1)
    expect(received.rcptTo).toEqual([TO])
    expect(received.raw.toString()).toContain("Subject: one\r\n")
    expect(received.raw.toString()).toContain("Hello Bob.\r\n.dot line\r\n")
    expect(proxy.writes).toContain(`RCPT TO:<${TO}>\r\nDATA\r\n`)
    // a second transaction on the same session: the downstream link is in step
    expect(await pipelinedGroup(c, [TO])).toEqual([250, 250, 354])
    expect((await c.sendBody(message("two"))).code).toBe(250)
    expect((await sink.waitFor(2))[1].raw.toString()).toContain("Subject: two\r\n")
    await c.quit()
  })

  it("sends DATA on its own for a client that waits for each reply, and for several recipients", async () => {
    const { sink, proxy, imprint } = await start()
    const c = await RawSmtp.connect(imprint.port)
    expect((await c.send(FROM, [TO], message("waits"))).code).toBe(250)
    expect(await pipelinedGroup(c, [TO, "carol@customer.example"])).toEqual([250, 250, 250, 354])
    expect((await c.sendBody(message("two-recipients"))).code).toBe(250)
    await sink.waitFor(2)
    expect(proxy.writes.filter((w) => w.includes("DATA\r\n"))).toEqual(["DATA\r\n", "DATA\r\n"])
    await c.quit()
  })

  it("passes a refusal of the DATA command upstream after the dot, and the session goes on", async () => {
    const { sink, imprint } = await start({ refuseDataCommand: { code: 451, enhanced: "4.3.1", message: "insufficient system resources" } })
    const c = await RawSmtp.connect(imprint.port)
    expect(await pipelinedGroup(c, [TO])).toEqual([250, 250, 354])
    expect(await c.sendBody(message("refused"))).toEqual({ code: 451, text: "4.3.1 insufficient system resources" })
    expect(await pipelinedGroup(c, [TO])).toEqual([250, 250, 354])
    expect(await c.sendBody(message("refused-again"))).toEqual({ code: 451, text: "4.3.1 insufficient system resources" })
    expect((await c.command("NOOP")).code).toBe(250)
    await c.quit()
    expect(sink.dataRefused).toBe(2)
    expect(sink.messages).toHaveLength(0)
  })

  it("mirrors a refused recipient, and the next transaction on the session is relayed whole", async () => {
    const { sink, imprint } = await start({ rejectRcpt: { "nobody@customer.example": { code: 550, enhanced: "5.1.1", message: "no such user" } } })
    const c = await RawSmtp.connect(imprint.port)
    // the downstream answers DATA 503/554 (no recipient); smtp-server refuses the upstream's DATA itself
    const [mail, rcpt, data] = await pipelinedGroup(c, ["nobody@customer.example"])
    expect([mail, rcpt]).toEqual([250, 550])
    expect(data).toBeGreaterThanOrEqual(500)
    expect((await c.command("RSET")).code).toBe(250)
    expect(await pipelinedGroup(c, [TO])).toEqual([250, 250, 354])
    expect((await c.sendBody(message("after-refusal"))).code).toBe(250)
    const [received] = await sink.waitFor(1)
    expect(received.rcptTo).toEqual([TO])
    expect(received.raw.toString()).toContain("Subject: after-refusal\r\n")
    await c.quit()
  })

  it("aborts the downstream transfer before its dot when the upstream leaves mid-body (invariant 2)", async () => {
    const { sink, imprint } = await start()
    const gone = await RawSmtp.connect(imprint.port)
    expect(await pipelinedGroup(gone, [TO])).toEqual([250, 250, 354])
    gone.write(message("cut").slice(0, 120))
    await sink.waitUntil((s) => s.dataStarted === 1)
    gone.destroy()
    await sink.waitUntil((s) => s.aborted === 1)
    expect(sink.messages).toHaveLength(0)
  })

  it("drops the downstream connection, never completing a message, when the upstream leaves before its body", async () => {
    const { sink, proxy, imprint } = await start()
    const gone = await RawSmtp.connect(imprint.port)
    expect(await pipelinedGroup(gone, [TO])).toEqual([250, 250, 354])
    await sink.waitUntil((s) => s.dataStarted === 1)
    gone.destroy()
    // the downstream saw DATA's 354 and then the connection end: a transfer left before its dot
    await sink.waitUntil((s) => s.aborted === 1)
    // the next session is relayed whole, on a connection of its own (the one awaiting a body was not pooled)
    const c = await RawSmtp.connect(imprint.port)
    expect(await pipelinedGroup(c, [TO])).toEqual([250, 250, 354])
    expect((await c.sendBody(message("next-session"))).code).toBe(250)
    const [received] = await sink.waitFor(1)
    expect(received.raw.toString()).toContain("Subject: next-session\r\n")
    expect(received.raw.toString()).not.toContain("MAIL FROM")
    expect(proxy.connections).toBe(2)
    await c.quit()
  })
})
