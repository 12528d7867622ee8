import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startImprint, type RunningImprint } from "../support/Imprint.js"
import { makeSelfSigned } from "../support/Certs.js"
import { RawSmtp } from "../support/RawSmtp.js"
import { startSink, type Sink } from "../support/Sink.js"

const plain = (user: string, pass: string) => Buffer.from(`\0${user}\0${pass}`).toString("base64")
const MSG = "From: alice@acme.example\r\nSubject: bound\r\n\r\nhi\r\n"

/** No connector matches 127.0.0.1 here: sessions must bind by AUTH or certificate. */
const tenant = (downstreamPort: number, clientFingerprint: string, cidrs = ["10.0.0.0/8"]) => ({
  id: "acme",
  name: "Acme",
  domains: ["acme.example"],
  connectors: [
    { type: "cidr", cidrs },
    { type: "auth", username: "relay@acme", password: "Correct-Horse-9" },
    { type: "certificate", fingerprint256: clientFingerprint }
  ],
  downstream: { host: "127.0.0.1", port: downstreamPort, tls: "required", rejectUnauthorized: false }
})

describe("binding a session to a tenant", () => {
  let sink: Sink
  let imprint: RunningImprint
  let client: { key: string; cert: string; fingerprint256: string }

  beforeAll(async () => {
    client = await makeSelfSigned("client.test")
    sink = await startSink({ starttls: true })
    imprint = await startImprint({
      tenants: [tenant(sink.port, client.fingerprint256)],
      config: { smtp: { authFailuresBeforeThrottle: 3 } }
    })
  })
  afterAll(async () => {
    await imprint?.close()
    await sink?.close()
  })

  it("refuses MAIL from an unbound session with 530 5.7.0", async () => {
    const c = await RawSmtp.connect(imprint.port)
    expect(await c.command("MAIL FROM:<alice@acme.example>")).toEqual({
      code: 530,
      text: "5.7.0 authentication required: this connection is not bound to a tenant"
    })
    c.end()
  })

  it("offers AUTH only after STARTTLS and refuses it before", async () => {
    const c = await RawSmtp.connect(imprint.port)
    expect(c.features).not.toMatch(/AUTH/)
    expect(c.features).toMatch(/STARTTLS/)
    expect(c.features).toMatch(/ENHANCEDSTATUSCODES/)
    expect(c.features).toMatch(/8BITMIME/)
    expect(c.features).toMatch(/SMTPUTF8/)
    expect(c.features).toMatch(/PIPELINING/)
    expect(c.features).toMatch(/SIZE \d+/)
    const r = await c.command(`AUTH PLAIN ${plain("relay@acme", "Correct-Horse-9")}`)
    expect(r.code).toBeGreaterThanOrEqual(500)
    expect((await c.command("MAIL FROM:<alice@acme.example>")).code).toBe(530)
    c.end()
  })

  it("binds by AUTH over TLS, relays over TLS to the downstream, and refuses a foreign sender domain", async () => {
    const c = await RawSmtp.connect(imprint.port)
    await c.starttls()
    expect((await c.command("EHLO client.test")).text).toMatch(/AUTH PLAIN LOGIN/)
    expect(await c.command(`AUTH PLAIN ${plain("relay@acme", "Correct-Horse-9")}`)).toMatchObject({ code: 235 })
    expect(await c.command("MAIL FROM:<mallory@evil.example>")).toEqual({
      code: 550,
      text: "5.7.1 sender address is not in a domain of this tenant"
    })
    expect(await c.command("RSET")).toMatchObject({ code: 250 })
    expect((await c.send("alice@acme.example", ["bob@customer.example"], MSG)).code).toBe(250)
    c.end()
    const [got] = await sink.waitFor(1)
    expect(got.secure).toBe(true)
    expect(got.raw.toString().replace(/\r\n[ \t]+/g, " ")).toMatch(/with ESMTPSA id/)
  })

  it("gives the same 535 5.7.8 for an unknown user and a wrong password, then throttles the username from that address", async () => {
    const c = await RawSmtp.connect(imprint.port)
    await c.starttls()
    await c.command("EHLO client.test")
    const wrong = await c.command(`AUTH PLAIN ${plain("relay@acme", "wrong-password-1")}`)
    const unknown = await c.command(`AUTH PLAIN ${plain("nobody@acme", "Correct-Horse-9")}`)
    expect(wrong).toEqual({ code: 535, text: "5.7.8 authentication failed" })
    expect(unknown).toEqual(wrong)
    expect(await c.command(`AUTH PLAIN ${plain("relay@acme", "wrong-again-2")}`)).toEqual(wrong)
    expect(await c.command(`AUTH PLAIN ${plain("relay@acme", "wrong-again-3")}`)).toEqual(wrong)
    // three failures of this username: now even the right password is refused for a while
    const throttled = await c.command(`AUTH PLAIN ${plain("relay@acme", "Correct-Horse-9")}`)
    expect(throttled.code).toBe(454)
    expect(throttled.text).toMatch(/^4\.7\.0 /)
    c.end()
  })

  it("binds by client certificate", async () => {
    const c = await RawSmtp.connect(imprint.port)
    await c.starttls({ key: client.key, cert: client.cert })
    await c.command("EHLO client.test")
    expect((await c.send("alice@acme.example", ["bob@customer.example"], MSG)).code).toBe(250)
    c.end()
  })

  it("uses a re-imported tenant on the next connection, without restart", async () => {
    const before = await RawSmtp.connect(imprint.port)
    expect((await before.command("MAIL FROM:<alice@acme.example>")).code).toBe(530)
    before.end()
    await imprint.importTenant(tenant(sink.port, client.fingerprint256, ["127.0.0.0/8"]))
    const after = await RawSmtp.connect(imprint.port)
    expect((await after.command("MAIL FROM:<alice@acme.example>")).code).toBe(250)
    after.end()
  })
})
