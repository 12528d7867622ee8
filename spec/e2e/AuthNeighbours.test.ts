import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startImprint, type RunningImprint } from "../support/Imprint.js"
import { RawSmtp } from "../support/RawSmtp.js"
import { startSink, type Sink } from "../support/Sink.js"

/**
 * Issue 21.2: AUTH throttling is keyed on (address, username), with a much
 * higher ceiling per address. Tenants a and b both log in from 127.0.0.1
 * (no range of theirs covers it).
 */

const plain = (user: string, pass: string) => Buffer.from(`\0${user}\0${pass}`).toString("base64")

const authTenant = (id: string, sinkPort: number) => ({
  id,
  name: id,
  domains: [`${id}.example`],
  connectors: [{ type: "auth", username: `relay@${id}`, password: `Correct-Horse-${id}` }],
  downstream: { host: "127.0.0.1", port: sinkPort, tls: "none" }
})

const session = async (port: number, localAddress = "127.0.0.1") => {
  const c = await RawSmtp.connect(port, { localAddress })
  await c.starttls()
  await c.command("EHLO client.test")
  return c
}

describe("AUTH throttling between neighbours on one address", () => {
  let sink: Sink
  let imprint: RunningImprint

  beforeAll(async () => {
    sink = await startSink({ starttls: false })
    imprint = await startImprint({
      tenants: ["neighbour-a", "neighbour-b", "spray-c", "rotating"].map((id) => authTenant(id, sink.port)),
      config: { smtp: { authFailuresBeforeThrottle: 3, authFailuresPerAddress: 12, authThrottleMs: 600_000 } }
    })
  })
  afterAll(async () => {
    await imprint?.close()
    await sink?.close()
  })

  it("tenant a's wrong passwords throttle a's username, never b's correct login from the same address", async () => {
    const a = await session(imprint.port)
    for (let i = 0; i < 5; i++) expect((await a.command(`AUTH PLAIN ${plain("relay@neighbour-a", `wrong-${i}`)}`)).code).toBe(i < 3 ? 535 : 454)
    // even a's right password waits out the window now
    expect((await a.command(`AUTH PLAIN ${plain("relay@neighbour-a", "Correct-Horse-neighbour-a")}`)).code).toBe(454)
    await a.quit()
    const b = await session(imprint.port)
    expect(await b.command(`AUTH PLAIN ${plain("relay@neighbour-b", "Correct-Horse-neighbour-b")}`)).toMatchObject({ code: 235 })
    expect((await b.send("alice@neighbour-b.example", ["bob@customer.example"], "Subject: b\r\n\r\nhi\r\n")).code).toBe(250)
    await b.quit()
  })

  it("spraying many usernames from one address hits the per-address ceiling, which throttles every username there", async () => {
    const c = await session(imprint.port)
    // 3 failures so far from this address (the spec above; throttled attempts are not verified, so not counted); 9 more reach the ceiling of 12
    for (let i = 0; i < 9; i++) expect((await c.command(`AUTH PLAIN ${plain(`guess-${i}@spray`, "123456")}`)).code).toBe(535)
    const after = await c.command(`AUTH PLAIN ${plain("relay@spray-c", "Correct-Horse-spray-c")}`)
    expect(after.code).toBe(454)
    expect(after.text).toMatch(/^4\.7\.0 /)
    await c.quit()
  })

  it("a password change refuses the old password on the next connection, though it logged in just before (auth cache, issue 21.3)", async () => {
    const old = plain("relay@rotating", "Correct-Horse-rotating")
    // from another address than the specs above, whose failures reached 127.0.0.1's ceiling
    for (let i = 0; i < 2; i++) {
      const c = await session(imprint.port, "127.0.0.3")
      expect(await c.command(`AUTH PLAIN ${old}`)).toMatchObject({ code: 235 })
      await c.quit()
    }
    await imprint.importTenant({
      ...authTenant("rotating", sink.port),
      connectors: [{ type: "auth", username: "relay@rotating", password: "Battery-Staple-2" }]
    })
    const c = await session(imprint.port, "127.0.0.3")
    expect(await c.command(`AUTH PLAIN ${old}`)).toEqual({ code: 535, text: "5.7.8 authentication failed" })
    expect(await c.command(`AUTH PLAIN ${plain("relay@rotating", "Battery-Staple-2")}`)).toMatchObject({ code: 235 })
    await c.quit()
  })
})
