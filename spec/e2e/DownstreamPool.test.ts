import { Effect, Metric } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { downstreamSessionBy } from "../../src/pipeline/RelayMetrics.js"
import { loopbackTenant, signatureTenant, startImprint, type RunningImprint } from "../support/Imprint.js"
import { RawSmtp } from "../support/RawSmtp.js"
import { startSink, type Sink, type SinkOptions } from "../support/Sink.js"

/**
 * Idle downstream sessions are kept for the next upstream session
 * (src/pipeline/downstream/DownstreamPool.ts): one upstream connection per message must
 * not mean one downstream connection per message, and a kept session that died
 * while idle must never cost the upstream an error.
 */

const message = (subject: string, domain = "acme.example") =>
  `From: Alice <alice@${domain}>\r\nTo: bob@customer.example\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, "")}@acme.example>\r\n\r\nHello.\r\n`

let sink: Sink | undefined
let imprint: RunningImprint | undefined

const start = async (opts: { sink?: SinkOptions; pool?: Record<string, unknown>; tenants?: (port: number) => ReadonlyArray<unknown> } = {}) => {
  sink = await startSink({ starttls: false, ...opts.sink })
  imprint = await startImprint({
    tenants: (opts.tenants ?? ((port) => [loopbackTenant(port)]))(sink.port),
    config: opts.pool === undefined ? undefined : { downstreamPool: opts.pool }
  })
  return { sink, imprint }
}

afterEach(async () => {
  await imprint?.close()
  await sink?.close()
  imprint = undefined
  sink = undefined
})

/** imprint_downstream_sessions_total by source, now */
const sessionCounts = async () => ({
  new: (await Effect.runPromise(Metric.value(downstreamSessionBy.new))).count,
  pooled: (await Effect.runPromise(Metric.value(downstreamSessionBy.pooled))).count,
  stale: (await Effect.runPromise(Metric.value(downstreamSessionBy.stale))).count
})

const countsSince = async (before: Awaited<ReturnType<typeof sessionCounts>>) => {
  const now = await sessionCounts()
  return { new: now.new - before.new, pooled: now.pooled - before.pooled, stale: now.stale - before.stale }
}

/** One upstream session: connect, one message, QUIT. */
const session = async (port: number, subject: string, from?: { readonly address: string; readonly domain: string }) => {
  const c = await RawSmtp.connect(port, { localAddress: from?.address })
  const domain = from?.domain ?? "acme.example"
  const reply = await c.send(`alice@${domain}`, ["bob@customer.example"], message(subject, domain))
  await c.quit()
  return reply
}

describe("downstream session pool", () => {
  it("carries consecutive upstream sessions over one downstream connection", async () => {
    const { sink, imprint } = await start()
    const before = await sessionCounts()
    for (const subject of ["one", "two", "three"]) expect((await session(imprint.port, subject)).code).toBe(250)
    await sink.waitFor(3)
    expect(sink.messages.map((m) => /Subject: (\w+)/.exec(m.raw.toString())?.[1])).toEqual(["one", "two", "three"])
    expect(sink.connections).toBe(1)
    // what /metrics shows an operator
    expect(await countsSince(before)).toEqual({ new: 1, pooled: 2, stale: 0 })
  })

  const notKept = [
    ["pooling is off (maxIdlePerTarget 0)", { maxIdlePerTarget: 0 }],
    ["sessions are past maxAgeMs", { maxAgeMs: 1 }]
  ] as const
  for (const [when, pool] of notKept) {
    it(`opens a connection per upstream session when ${when}`, async () => {
      const { sink, imprint } = await start({ pool })
      for (const subject of ["one", "two"]) expect((await session(imprint.port, subject)).code).toBe(250)
      await sink.waitFor(2)
      await sink.waitUntil((s) => s.closed === 2)
      expect(sink.connections).toBe(2)
    })
  }

  for (const death of ["close", "421"] as const) {
    it(`replaces a kept session that dies at MAIL (${death === "close" ? "dropped without a reply" : "421"}) before answering the upstream`, async () => {
      const { sink, imprint } = await start({ sink: { staleAfterFirstMessage: death } })
      const before = await sessionCounts()
      expect((await session(imprint.port, "first")).code).toBe(250)
      const second = await session(imprint.port, "second")
      expect(second.code).toBe(250)
      await sink.waitFor(2)
      expect(sink.messages).toHaveLength(2)
      expect(sink.connections).toBe(2)
      expect(await countsSince(before)).toEqual({ new: 2, pooled: 1, stale: 1 })
    })
  }

  it("never hands out a kept session the downstream timed out while it was idle", async () => {
    const { sink, imprint } = await start()
    const before = await sessionCounts()
    expect((await session(imprint.port, "one")).code).toBe(250)
    // the sink says 421 and closes the idle connection
    sink.timeOutSessions()
    await sink.waitUntil((s) => s.closed === 1)
    expect((await session(imprint.port, "two")).code).toBe(250)
    await sink.waitFor(2)
    expect(sink.connections).toBe(2)
    expect(await countsSince(before)).toEqual({ new: 2, pooled: 0, stale: 0 })
  })

  it("does not retry a fresh connection's refusal: a 421 to MAIL on a new session is the upstream's answer", async () => {
    const { sink, imprint } = await start({ sink: { rejectMail: { code: 421, message: "too busy", enhanced: "4.3.2" } } })
    const c = await RawSmtp.connect(imprint.port)
    expect(await c.command("MAIL FROM:<alice@acme.example>")).toEqual({ code: 421, text: "4.3.2 too busy" })
    c.end()
    expect(sink.connections).toBe(1)
  })

  it("closes a kept session once it has been idle for idleMs", async () => {
    const { sink, imprint } = await start({ pool: { idleMs: 50 } })
    expect((await session(imprint.port, "one")).code).toBe(250)
    // bounded by the sink's wait; the sweeper runs every idleMs here
    await sink.waitUntil((s) => s.closed === 1)
    expect((await session(imprint.port, "two")).code).toBe(250)
    expect(sink.connections).toBe(2)
  })

  it("closes kept sessions when Imprint stops", async () => {
    const { sink, imprint } = await start()
    expect((await session(imprint.port, "one")).code).toBe(250)
    expect(sink.closed).toBe(0)
    await imprint.close()
    await sink.waitUntil((s) => s.closed === 1)
  })

  it("gives the extra connections of per-recipient copies back too: the next message's copies reuse them", async () => {
    // an internal and an external recipient get different signatures, so each message is two downstream transactions
    const { sink, imprint } = await start({ tenants: (port) => [signatureTenant(port)] })
    const c = await RawSmtp.connect(imprint.port)
    for (const subject of ["one", "two", "three"]) {
      expect((await c.send("alice@acme.example", ["bob@acme.example", "carol@customer.example"], message(subject))).code).toBe(250)
    }
    await c.quit()
    await sink.waitFor(6)
    // the session's own connection and one for the second copy, whatever the number of messages
    expect(sink.connections).toBe(2)
  })

  it("never lends one tenant's authenticated session to another tenant", async () => {
    const tenant = (id: string, address: string, user: string) => (port: number) => ({
      ...loopbackTenant(port),
      id,
      name: id,
      domains: [`${id}.example`],
      connectors: [{ type: "cidr", cidrs: [`${address}/32`] }],
      downstream: { host: "127.0.0.1", port, tls: "none", auth: { user, pass: `${user}-secret` } }
    })
    const { sink, imprint } = await start({
      sink: {
        auth: [
          { user: "relay-a", pass: "relay-a-secret" },
          { user: "relay-b", pass: "relay-b-secret" }
        ]
      },
      tenants: (port) => [tenant("tenant-a", "127.0.0.1", "relay-a")(port), tenant("tenant-b", "127.0.0.2", "relay-b")(port)]
    })
    const a = { address: "127.0.0.1", domain: "tenant-a.example" }
    const b = { address: "127.0.0.2", domain: "tenant-b.example" }
    expect((await session(imprint.port, "a1", a)).code).toBe(250)
    expect((await session(imprint.port, "b1", b)).code).toBe(250)
    expect((await session(imprint.port, "a2", a)).code).toBe(250)
    await sink.waitFor(3)
    expect(sink.messages.map((m) => m.user)).toEqual(["relay-a", "relay-b", "relay-a"])
    // a1's session carried a2; b1 needed its own
    expect(sink.connections).toBe(2)
  })
})
