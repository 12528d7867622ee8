import { describe, expect, it } from "vitest"
import { relayToSink } from "../support/Imprint.js"
import { makeSelfSigned } from "../support/Certs.js"
import { RawSmtp } from "../support/RawSmtp.js"

/**
 * Issue 21.1: tenants behind the same address (two customers of one
 * provider's relays, here both on 127.0.0.0/8) are told apart by the envelope
 * sender's domain at MAIL; each domain belongs to one tenant (the import
 * refuses a second owner, spec/store/ConnectorImport.test.ts).
 */

const sharing = (id: string, sinkPort: number, extra: Record<string, unknown> = {}) => ({
  id,
  name: id,
  domains: [`${id}.example`],
  connectors: [{ type: "cidr", cidrs: ["127.0.0.0/8"] }],
  downstream: { host: "127.0.0.1", port: sinkPort, tls: "none" },
  templates: [{ id: "sig", name: "Signature", html: `<p>${id} signature</p>`, text: `${id} signature` }],
  rules: [{ id: "all", name: "Everyone", templateId: "sig" }],
  directory: [{ mail: `alice@${id}.example`, displayName: "Alice" }],
  ...extra
})

describe("tenants sharing a source range", () => {
  const relay = relayToSink({
    tenants: (port) => [
      sharing("north", port),
      sharing("south", port),
      // a narrower range of its own: the most specific range still wins over the shared one
      sharing("lab", port, { connectors: [{ type: "cidr", cidrs: ["127.0.0.9/32"] }] })
    ],
    // a look-alike of Exchange Online's client certificate must not open its gate (no chain)
    config: { microsoft365: { ranges: ["192.0.2.0/24"], certificateNames: ["mail.protection.outlook.com"] } }
  })

  it("selects the tenant by the sender's domain, one connection carrying both tenants' mail", async () => {
    const c = await RawSmtp.connect(relay.imprint.port)
    expect((await c.send("alice@north.example", ["bob@customer.example"], "Subject: n\r\n\r\nhi\r\n")).code).toBe(250)
    expect((await c.send("alice@south.example", ["bob@customer.example"], "Subject: s\r\n\r\nhi\r\n")).code).toBe(250)
    await c.quit()
    const got = await relay.sink.waitFor(2)
    const byFrom = new Map(got.map((m) => [m.mailFrom, m.raw.toString()]))
    expect(byFrom.get("alice@north.example")).toMatch(/X-Imprint-Loop: v=1; t=north;[\s\S]*north signature/)
    expect(byFrom.get("alice@south.example")).toMatch(/X-Imprint-Loop: v=1; t=south;[\s\S]*south signature/)
    expect(byFrom.get("alice@south.example")).not.toMatch(/north/)
  })

  it("refuses a domain of neither tenant, and the null sender, with 550 5.7.1", async () => {
    const c = await RawSmtp.connect(relay.imprint.port)
    expect(await c.command("MAIL FROM:<mallory@evil.example>")).toEqual({ code: 550, text: "5.7.1 sender address is not in a domain of this tenant" })
    expect(await c.command("MAIL FROM:<>")).toEqual({
      code: 550,
      text: "5.7.1 this connection is shared by several tenants: the null sender cannot select one"
    })
    // lab's domain is not selectable from the shared range: lab's own address is 127.0.0.9
    expect((await c.command("MAIL FROM:<alice@lab.example>")).code).toBe(550)
    await c.quit()
  })

  it("a more specific range still binds its own tenant alone, null sender included", async () => {
    const c = await RawSmtp.connect(relay.imprint.port, { localAddress: "127.0.0.9" })
    expect((await c.command("MAIL FROM:<alice@north.example>")).code).toBe(550)
    expect((await c.command("MAIL FROM:<>")).code).toBe(250)
    await c.quit()
  })

  it("a self-signed certificate named mail.protection.outlook.com is not Exchange Online: the range binding stays", async () => {
    const lookalike = await makeSelfSigned("mail.protection.outlook.com")
    const c = await RawSmtp.connect(relay.imprint.port)
    await c.starttls({ key: lookalike.key, cert: lookalike.cert })
    await c.command("EHLO client.test")
    expect((await c.command("MAIL FROM:<alice@north.example>")).code).toBe(250)
    await c.quit()
  })
})
