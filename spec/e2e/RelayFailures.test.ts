import { afterEach, describe, expect, it } from "vitest"
import { freePort } from "../support/FreePort.js"
import { loopbackTenant, startImprint, type RunningImprint } from "../support/Imprint.js"
import { RawSmtp } from "../support/RawSmtp.js"
import { startSink, type Sink, type SinkOptions } from "../support/Sink.js"

const FROM = "alice@acme.example"
const msg = (id: string) => `From: ${FROM}\r\nTo: bob@customer.example\r\nSubject: ${id}\r\nMessage-ID: <${id}@acme.example>\r\n\r\nHello.\r\n`

const running: Array<{ close: () => Promise<void> }> = []
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.close()
})

const setup = async (sinkOptions: SinkOptions, config: Record<string, unknown> = {}): Promise<{ sink: Sink; imprint: RunningImprint }> => {
  const sink = await startSink({ starttls: false, ...sinkOptions })
  running.push(sink)
  const imprint = await startImprint({ tenants: [loopbackTenant(sink.port)], config })
  running.push(imprint)
  return { sink, imprint }
}

describe("mirroring the downstream", () => {
  it("refuses upstream exactly the recipient the downstream refuses, with its code", async () => {
    const { sink, imprint } = await setup({ rejectRcpt: { "nobody@customer.example": { code: 550, enhanced: "5.1.1", message: "no such user" } } })
    const c = await RawSmtp.connect(imprint.port)
    expect((await c.command(`MAIL FROM:<${FROM}>`)).code).toBe(250)
    expect(await c.command("RCPT TO:<bob@customer.example>")).toMatchObject({ code: 250 })
    expect(await c.command("RCPT TO:<nobody@customer.example>")).toEqual({ code: 550, text: "5.1.1 no such user" })
    expect((await c.command("DATA")).code).toBe(354)
    c.write(msg("rcpt-mirror") + ".\r\n")
    expect((await c.reply()).code).toBe(250)
    c.end()
    const [got] = await sink.waitFor(1)
    expect(got.rcptTo).toEqual(["bob@customer.example"])
  })

  it("mirrors a temporary refusal at MAIL with its enhanced code", async () => {
    const { sink, imprint } = await setup({ rejectMail: { code: 450, enhanced: "4.7.1", message: "greylisted, come back later" } })
    const c = await RawSmtp.connect(imprint.port)
    expect(await c.command(`MAIL FROM:<${FROM}>`)).toEqual({ code: 450, text: "4.7.1 greylisted, come back later" })
    c.end()
    expect(sink.messages).toHaveLength(0)
  })

  it("mirrors a permanent refusal at DATA and delivers nothing", async () => {
    const { sink, imprint } = await setup({ rejectData: { code: 554, enhanced: "5.7.1", message: "content refused" } })
    const c = await RawSmtp.connect(imprint.port)
    expect(await c.send(FROM, ["bob@customer.example"], msg("data-refused"))).toEqual({ code: 554, text: "5.7.1 content refused" })
    c.end()
    expect(sink.messages).toHaveLength(0)
  })

  it("mirrors a temporary refusal at DATA", async () => {
    const { imprint } = await setup({ rejectData: { code: 451, enhanced: "4.3.0", message: "queue full" } })
    const c = await RawSmtp.connect(imprint.port)
    expect(await c.send(FROM, ["bob@customer.example"], msg("data-tempfail"))).toEqual({ code: 451, text: "4.3.0 queue full" })
    c.end()
  })

  it("answers 451 4.4.1 when the downstream is down", async () => {
    const port = await freePort() // nothing listens there any more
    const imprint = await startImprint({ tenants: [loopbackTenant(port)] })
    running.push(imprint)
    const c = await RawSmtp.connect(imprint.port)
    const r = await c.command(`MAIL FROM:<${FROM}>`)
    c.end()
    expect(r.code).toBe(451)
    expect(r.text).toMatch(/^4\.4\.1 /)
  })

  it("answers 451 and delivers nothing when the downstream never answers DATA", async () => {
    const { sink, imprint } = await setup({ hangOnData: true }, { downstreamTimeouts: { dataMs: 300 } })
    const c = await RawSmtp.connect(imprint.port)
    const r = await c.send(FROM, ["bob@customer.example"], msg("hang"))
    c.end()
    expect(r.code).toBe(451)
    expect(r.text).toMatch(/^4\.4\.2 /)
    expect(sink.messages).toHaveLength(0)
  })

  it("delivers a second message on the same connection after a failed one (link re-established)", async () => {
    const { sink, imprint } = await setup({})
    const c = await RawSmtp.connect(imprint.port)
    expect((await c.send(FROM, ["bob@customer.example"], msg("bad\nbare"))).code).toBeGreaterThanOrEqual(500)
    expect((await c.command("RSET")).code).toBe(250)
    expect((await c.send(FROM, ["bob@customer.example"], msg("good-after-bad"))).code).toBe(250)
    c.end()
    const [got] = await sink.waitFor(1)
    expect(got.raw.toString()).toContain("Subject: good-after-bad")
    expect(sink.messages).toHaveLength(1)
  })
})

describe("nothing partial is delivered", () => {
  it("aborts the downstream transaction when the upstream disconnects mid-DATA", async () => {
    const { sink, imprint } = await setup({})
    const c = await RawSmtp.connect(imprint.port)
    expect((await c.command(`MAIL FROM:<${FROM}>`)).code).toBe(250)
    expect((await c.command("RCPT TO:<bob@customer.example>")).code).toBe(250)
    expect((await c.command("DATA")).code).toBe(354)
    c.write(msg("cut") + "x".repeat(200_000) + "\r\n")
    await sink.waitUntil((s) => s.connections > 0)
    c.destroy()
    await sink.waitUntil((s) => s.aborted === 1 || s.messages.length > 0)
    expect(sink.messages).toHaveLength(0)
    expect(sink.aborted).toBe(1)
  })

  it("refuses an undeclared oversize message with 552 5.3.4 and delivers nothing", async () => {
    const { sink, imprint } = await setup({}, { smtp: { maxMessageSize: 50_000 } })
    const c = await RawSmtp.connect(imprint.port)
    const big = msg("big") + ("y".repeat(998) + "\r\n").repeat(100)
    const r = await c.send(FROM, ["bob@customer.example"], big)
    expect(r.code).toBe(552)
    expect(r.text).toMatch(/^5\.3\.4 /)
    // the session stays usable
    expect((await c.send(FROM, ["bob@customer.example"], msg("small"))).code).toBe(250)
    c.end()
    await sink.waitFor(1)
    expect(sink.messages.map((m) => m.raw.toString().includes("Subject: big"))).toEqual([false])
  })

  it("refuses a message with 100 Received headers as a loop (554 5.4.6)", async () => {
    const { sink, imprint } = await setup({})
    const c = await RawSmtp.connect(imprint.port)
    const looped = "Received: from a by b; Thu, 26 Nov 2026 10:00:00 +0000\r\n".repeat(100) + msg("loop")
    const r = await c.send(FROM, ["bob@customer.example"], looped)
    c.end()
    expect(r.code).toBe(554)
    expect(r.text).toMatch(/^5\.4\.6 /)
    expect(sink.messages).toHaveLength(0)
  })
})
