import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startDnsStub, type DnsStub } from "../support/DnsStub.js"
import { startImprint, type RunningImprint } from "../support/Imprint.js"
import { exchangeMessage, keyEntry, testOrganisation, type MailOptions } from "../support/Microsoft365Mail.js"
import { RawSmtp } from "../support/RawSmtp.js"
import { startSink, type Sink } from "../support/Sink.js"

/**
 * Issue 20: Exchange Online sends for every Microsoft 365 customer from the
 * same addresses, so a Microsoft 365 session names no tenant. Here 127.0.0.2
 * plays Exchange Online's range; contoso and fabrikam are two Imprint tenants
 * on Microsoft 365 behind it, evil is another Microsoft 365 customer that
 * points its connector at Imprint. Keys come from a DNS stub on loopback.
 */

const contoso = testOrganisation("contoso")
const fabrikam = testOrganisation("fabrikam")
const evil = testOrganisation("evil")
/** a Microsoft 365 tenant whose DNS answers SERVFAIL */
const flaky = testOrganisation("flaky")

const EXCHANGE = "127.0.0.2"

const tenant = (id: string, org: typeof contoso, sinkPort: number) => ({
  id,
  name: id,
  domains: [`${id}.example`],
  connectors: [{ type: "microsoft365", tenantId: org.guid, domain: org.domain }],
  downstream: { host: "127.0.0.1", port: sinkPort, tls: "none" },
  templates: [{ id: "sig", name: "Signature", html: `<p>${id} signature</p>`, text: `${id} signature` }],
  rules: [{ id: "all", name: "Everyone", templateId: "sig" }],
  directory: ["alice", "carol", "dave"].map((u) => ({ mail: `${u}@${id}.example`, displayName: u }))
})

describe("microsoft365 connectors: bound to the Microsoft 365 tenant that really sent", () => {
  let dns: DnsStub
  let sink: Sink
  let imprint: RunningImprint

  beforeAll(async () => {
    dns = await startDnsStub({ ...keyEntry(contoso), ...keyEntry(fabrikam), ...keyEntry(evil), [flaky.keyRecord.name]: "SERVFAIL" })
    sink = await startSink({ starttls: false })
    imprint = await startImprint({
      tenants: [
        tenant("contoso", contoso, sink.port),
        tenant("fabrikam", fabrikam, sink.port),
        tenant("flaky", flaky, sink.port),
        // not on Microsoft 365: its domain is not selectable through Exchange Online's gate
        {
          id: "plain",
          name: "plain",
          domains: ["plain.example"],
          connectors: [{ type: "cidr", cidrs: ["10.9.0.0/16"] }],
          downstream: { host: "127.0.0.1", port: sink.port, tls: "none" }
        }
      ],
      config: { microsoft365: { ranges: [`${EXCHANGE}/32`], dnsServers: [dns.server] } }
    })
  })
  afterAll(async () => {
    await imprint?.close()
    await sink?.close()
    await dns?.close()
  })

  /** Sends one message from Exchange Online's address; the reply, and whether the sink saw DATA start, abort or a message. */
  const send = async (from: string, message: MailOptions | string) => {
    const before = { messages: sink.messages.length, dataStarted: sink.dataStarted, aborted: sink.aborted }
    const c = await RawSmtp.connect(imprint.port, { localAddress: EXCHANGE })
    const reply = await c.send(from, ["bob@customer.example"], typeof message === "string" ? message : await exchangeMessage(message))
    await c.quit()
    return { reply, before }
  }

  /** refused with 550 5.7.1 and nothing delivered; `bodyStarted`: the downstream was in DATA and was left before the dot */
  const expectRefused = async (result: Awaited<ReturnType<typeof send>>, detail: RegExp, bodyStarted: boolean) => {
    expect(result.reply.code).toBe(550)
    expect(result.reply.text).toMatch(/^5\.7\.1 not proven to come from this tenant's Microsoft 365 organisation: /)
    expect(result.reply.text).toMatch(detail)
    if (bodyStarted) await sink.waitUntil((s) => s.aborted === result.before.aborted + 1)
    else expect(sink.dataStarted).toBe(result.before.dataStarted)
    expect(sink.messages.length).toBe(result.before.messages)
  }

  it("relays and stamps a message from the right Microsoft 365 tenant", async () => {
    const { reply, before } = await send("alice@contoso.example", { from: "alice@contoso.example", crossTenantIds: [contoso.guid], signer: contoso })
    expect(reply.code).toBe(250)
    const [got] = (await sink.waitFor(before.messages + 1)).slice(before.messages)
    expect(got.mailFrom).toBe("alice@contoso.example")
    expect(got.raw.toString()).toContain("contoso signature")
    expect(got.raw.toString()).toMatch(/X-Imprint-Loop: v=1; t=contoso;/)
  })

  it("binds two Imprint tenants behind the same Exchange Online address each to its own tenant", async () => {
    const a = await send("carol@fabrikam.example", { from: "carol@fabrikam.example", crossTenantIds: [fabrikam.guid], signer: fabrikam })
    const b = await send("dave@contoso.example", { from: "dave@contoso.example", crossTenantIds: [contoso.guid.toUpperCase()], signer: contoso })
    expect([a.reply.code, b.reply.code]).toEqual([250, 250])
    const got = (await sink.waitFor(a.before.messages + 2)).slice(a.before.messages)
    const byFrom = new Map(got.map((m) => [m.mailFrom, m.raw.toString()]))
    expect(byFrom.get("carol@fabrikam.example")).toMatch(/X-Imprint-Loop: v=1; t=fabrikam;[\s\S]*fabrikam signature/)
    expect(byFrom.get("dave@contoso.example")).toMatch(/X-Imprint-Loop: v=1; t=contoso;[\s\S]*contoso signature/)
  })

  it("refuses another Microsoft 365 tenant sending as contoso (its own GUID and signature) before the body moves", async () => {
    const r = await send("alice@contoso.example", { from: "alice@contoso.example", crossTenantIds: [evil.guid], signer: evil })
    await expectRefused(r, new RegExp(`X-MS-Exchange-CrossTenant-Id ${evil.guid} is not this tenant's Microsoft 365 tenant`), false)
  })

  it("refuses a missing or doubled CrossTenant-Id header", async () => {
    const none = await send("alice@contoso.example", { from: "alice@contoso.example", crossTenantIds: [], signer: contoso })
    await expectRefused(none, /no X-MS-Exchange-CrossTenant-Id header \(exactly one expected\)/, false)
    const two = await send("alice@contoso.example", { from: "alice@contoso.example", crossTenantIds: [contoso.guid, contoso.guid], signer: contoso })
    await expectRefused(two, /2 X-MS-Exchange-CrossTenant-Id headers/, false)
  })

  it("refuses a message without a signature of the tenant's onmicrosoft.com domain", async () => {
    const unsigned = await send("alice@contoso.example", { from: "alice@contoso.example", crossTenantIds: [contoso.guid] })
    await expectRefused(unsigned, /no DKIM signature of contoso\.onmicrosoft\.com/, false)
    // contoso's GUID, signed (validly) by evil's onmicrosoft.com domain
    const foreign = await send("alice@contoso.example", { from: "alice@contoso.example", crossTenantIds: [contoso.guid], signer: evil })
    await expectRefused(foreign, /no DKIM signature of contoso\.onmicrosoft\.com/, false)
  })

  it("refuses a forged signature before the terminating dot: nothing delivered", async () => {
    const r = await send("alice@contoso.example", {
      from: "alice@contoso.example",
      crossTenantIds: [contoso.guid],
      signer: contoso,
      signingKey: evil.privateKey
    })
    await expectRefused(r, /DKIM signature of contoso\.onmicrosoft\.com does not verify \(bad signature\)/, true)
  })

  it("refuses a body changed after signing before the terminating dot: nothing delivered", async () => {
    const r = await send("alice@contoso.example", {
      from: "alice@contoso.example",
      crossTenantIds: [contoso.guid],
      signer: contoso,
      tamper: (m) => m.replace("the report is attached", "pay invoice 4711 to IBAN XX00")
    })
    await expectRefused(r, /does not verify \(body hash did not verify\)/, true)
  })

  it("answers 451 4.7.5 when the key lookup fails temporarily, and delivers nothing", async () => {
    const before = sink.messages.length
    const { reply } = await send("eve@flaky.example", { from: "eve@flaky.example", crossTenantIds: [flaky.guid], signer: flaky })
    expect(reply.code).toBe(451)
    expect(reply.text).toMatch(/^4\.7\.5 DKIM key lookup failed \(DNS failure: ESERVFAIL\), try again later/)
    expect(sink.messages.length).toBe(before)
  })

  it("selects only tenants with a microsoft365 connector, and never for the null sender", async () => {
    const c = await RawSmtp.connect(imprint.port, { localAddress: EXCHANGE })
    expect(await c.command("MAIL FROM:<bob@plain.example>")).toEqual({ code: 550, text: "5.7.1 sender address is not in a domain of this tenant" })
    expect(await c.command("MAIL FROM:<mallory@unknown.example>")).toEqual({ code: 550, text: "5.7.1 sender address is not in a domain of this tenant" })
    expect(await c.command("MAIL FROM:<>")).toEqual({
      code: 550,
      text: "5.7.1 this connection is shared by several tenants: the null sender cannot select one"
    })
    await c.quit()
  })

  it("binds nothing from an address outside Exchange Online's ranges", async () => {
    const c = await RawSmtp.connect(imprint.port, { localAddress: "127.0.0.1" })
    expect((await c.command("MAIL FROM:<alice@contoso.example>")).code).toBe(530)
    await c.quit()
  })
})
