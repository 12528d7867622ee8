import { afterEach, describe, expect, it } from "vitest"
import { startImprint, type RunningImprint } from "../support/Imprint.js"
import { RawSmtp } from "../support/RawSmtp.js"
import { startSink, type Sink } from "../support/Sink.js"

/**
 * Issue 13, item 3 (src/pipeline/inbound/ConnectionLimits.ts), over real sockets.
 * The tenant's mail server is 127.0.0.1 (a CIDR connector: bound at connect);
 * other loopback addresses (127.0.0.2, …) play unbound clients.
 */

const FROM = "alice@acme.example"
const MSG = (subject: string) => `From: ${FROM}\r\nTo: bob@customer.example\r\nSubject: ${subject}\r\n\r\nhello\r\n`
const plain = (user: string, pass: string) => Buffer.from(`\0${user}\0${pass}`).toString("base64")

const tenant = (downstreamPort: number) => ({
  id: "acme",
  name: "Acme",
  domains: ["acme.example"],
  connectors: [
    { type: "cidr", cidrs: ["127.0.0.1/32"] },
    { type: "auth", username: "relay@acme", password: "Correct-Horse-9" }
  ],
  downstream: { host: "127.0.0.1", port: downstreamPort, tls: "none" }
})

let sink: Sink | undefined
let imprint: RunningImprint | undefined
const clients: Array<RawSmtp> = []

const start = async (smtp: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
  sink = await startSink({ starttls: false })
  imprint = await startImprint({ tenants: [tenant(sink.port)], config: { smtp, ...extra } })
  return { sink, imprint }
}

const open = async (port: number, localAddress: string) => {
  const c = await RawSmtp.connect(port, { ehlo: false, localAddress })
  clients.push(c)
  return c
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  await imprint?.close()
  await sink?.close()
  imprint = undefined
  sink = undefined
})

const relayedFromBoundServer = async (port: number, subject: string) => {
  const c = await RawSmtp.connect(port, { localAddress: "127.0.0.1" })
  clients.push(c)
  expect(c.greeting.code).toBe(220)
  return (await c.send(FROM, ["bob@customer.example"], MSG(subject))).code
}

describe("per-address limits for unbound clients", () => {
  it("refuses a client address its fourth concurrent session (limit 3), not other addresses, nor the bound server", async () => {
    const { imprint } = await start({ maxConnectionsPerAddress: 3 })
    const three = [await open(imprint.port, "127.0.0.2"), await open(imprint.port, "127.0.0.2"), await open(imprint.port, "127.0.0.2")]
    expect(three.map((c) => c.greeting.code)).toEqual([220, 220, 220])
    const fourth = await open(imprint.port, "127.0.0.2")
    expect(fourth.greeting).toEqual({ code: 421, text: "too many connections from your address, try again later" })
    await fourth.waitClosed()
    expect((await open(imprint.port, "127.0.0.3")).greeting.code).toBe(220)
    expect(await relayedFromBoundServer(imprint.port, "bound")).toBe(250)
    // a session that ends frees its place (once the relay has seen it close: a bounded retry)
    await three[0].quit()
    let again = await open(imprint.port, "127.0.0.2")
    for (let i = 0; i < 50 && again.greeting.code !== 220; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      again = await open(imprint.port, "127.0.0.2")
    }
    expect(again.greeting.code).toBe(220)
  })

  it("refuses new sessions beyond the per-minute rate of an address", async () => {
    const { imprint } = await start({ maxConnectionRatePerAddress: 3 })
    for (let i = 0; i < 3; i++) {
      const c = await open(imprint.port, "127.0.0.4")
      expect(c.greeting.code).toBe(220)
      await c.quit()
    }
    const over = await open(imprint.port, "127.0.0.4")
    expect(over.greeting).toEqual({ code: 421, text: "too many new connections from your address, try again later" })
    expect((await open(imprint.port, "127.0.0.5")).greeting.code).toBe(220)
  })
})

describe("the unbound share of maxClients", () => {
  it("keeps room for the bound server when unbound sessions fill their share, and a session that binds by AUTH leaves the share", async () => {
    const { imprint } = await start({ maxUnboundClients: 3 })
    const unbound = [await open(imprint.port, "127.0.0.2"), await open(imprint.port, "127.0.0.3"), await open(imprint.port, "127.0.0.4")]
    expect(unbound.map((c) => c.greeting.code)).toEqual([220, 220, 220])
    const refused = await open(imprint.port, "127.0.0.5")
    expect(refused.greeting).toEqual({ code: 421, text: "too many unauthenticated connections, try again later" })
    expect(await relayedFromBoundServer(imprint.port, "bound-while-full")).toBe(250)

    // one of the three binds by AUTH: an unbound place is free again
    const authed = unbound[0]
    expect((await authed.command("EHLO client.test")).code).toBe(250)
    await authed.starttls()
    expect((await authed.command("EHLO client.test")).code).toBe(250)
    expect((await authed.command(`AUTH PLAIN ${plain("relay@acme", "Correct-Horse-9")}`)).code).toBe(235)
    expect((await open(imprint.port, "127.0.0.6")).greeting.code).toBe(220)
    expect((await open(imprint.port, "127.0.0.7")).greeting.code).toBe(421)
  })
})

describe("the bind deadline", () => {
  it("closes an unbound session that keeps talking but does not bind within bindWithinMs; a bound one goes on", async () => {
    const { sink, imprint } = await start({ bindWithinMs: 300 })
    const bound = await RawSmtp.connect(imprint.port, { localAddress: "127.0.0.1" })
    clients.push(bound)
    const unbound = await RawSmtp.connect(imprint.port, { localAddress: "127.0.0.2" })
    clients.push(unbound)
    // NOOPs reset every idle timer; only the deadline ends this (bounded loop)
    let last = { code: 0, text: "" }
    for (let i = 0; i < 200 && !unbound.closed; i++) {
      last = await unbound.command("NOOP").catch(() => last)
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    // the 421 came unasked: answered to the last NOOP, or still unread when the close was seen
    const final = last.code === 421 ? last : await unbound.reply()
    expect(final).toEqual({ code: 421, text: "4.7.0 not authenticated in time, closing connection" })
    await unbound.waitClosed()
    expect((await bound.send(FROM, ["bob@customer.example"], MSG("bound-after-deadline"))).code).toBe(250)
    await sink.waitFor(1)
  })
})

describe("idle limits", () => {
  it("closes a session idle before its first MAIL after idleBeforeMailMs, while one inside a transaction goes on", async () => {
    const { sink, imprint } = await start({ idleBeforeMailMs: 300, socketTimeoutMs: 60_000 })
    const busy = await RawSmtp.connect(imprint.port, { localAddress: "127.0.0.1" })
    clients.push(busy)
    expect((await busy.command(`MAIL FROM:<${FROM}>`)).code).toBe(250)
    const idle = await RawSmtp.connect(imprint.port, { localAddress: "127.0.0.2" })
    clients.push(idle)
    const timeout = await idle.reply()
    expect(timeout.code).toBe(421)
    await idle.waitClosed()
    // the session that was in a transaction all along is still served
    expect((await busy.command("RCPT TO:<bob@customer.example>")).code).toBe(250)
    expect((await busy.command("DATA")).code).toBe(354)
    busy.write(MSG("after-idle") + ".\r\n")
    expect((await busy.reply()).code).toBe(250)
    await sink.waitFor(1)
  })

  it("gives the downstream connection back when a session idles after RCPT, and mirrors the transaction again for the next RCPT and DATA", async () => {
    // no pool: a released connection is closed, which the sink counts
    const { sink, imprint } = await start({ releaseDownstreamAfterMs: 200 }, { downstreamPool: { maxIdlePerTarget: 0 } })
    const c = await RawSmtp.connect(imprint.port, { localAddress: "127.0.0.1" })
    clients.push(c)
    expect((await c.command(`MAIL FROM:<${FROM}>`)).code).toBe(250)
    expect((await c.command("RCPT TO:<bob@customer.example>")).code).toBe(250)
    await sink.waitUntil((s) => s.closed === 1)
    expect((await c.command("RCPT TO:<carol@customer.example>")).code).toBe(250)
    await sink.waitUntil((s) => s.closed === 2)
    expect((await c.command("DATA")).code).toBe(354)
    c.write(MSG("released") + ".\r\n")
    expect((await c.reply()).code).toBe(250)
    const [got] = await sink.waitFor(1)
    expect(got.mailFrom).toBe(FROM)
    expect(got.rcptTo).toEqual(["bob@customer.example", "carol@customer.example"])
    expect(sink.connections).toBe(3)
  })
})
