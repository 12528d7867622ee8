import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { relayToSink } from "../support/Imprint.js"
import { RawSmtp } from "../support/RawSmtp.js"

/**
 * Issue 21.5: with `tenants.maxWarm: 1`, each tenant's message stops the
 * other tenant's actor, and the stopped tenant's next message is still relayed
 * and stamped with its own signature (a cold start from LMDB).
 */

const tenant = (id: string, sinkPort: number) => ({
  id,
  name: id,
  domains: [`${id}.example`],
  connectors: [{ type: "cidr", cidrs: ["127.0.0.0/8"] }],
  downstream: { host: "127.0.0.1", port: sinkPort, tls: "none" },
  templates: [{ id: "sig", name: "Signature", html: `<p>${id} signature</p>`, text: `${id} signature` }],
  rules: [{ id: "all", name: "Everyone", templateId: "sig" }],
  directory: [{ mail: `alice@${id}.example`, displayName: "Alice" }]
})

describe("a warm budget of one tenant", () => {
  const relay = relayToSink({
    tenants: (port) => [tenant("east", port), tenant("west", port)],
    config: { tenants: { maxWarm: 1 } }
  })

  it("stops the least recently used tenant, whose next message is still relayed with its signature", async () => {
    const running = () => relay.imprint.registry((r) => r.running.pipe(Effect.map((ids) => [...ids].sort())))
    const send = async (id: string) => {
      const c = await RawSmtp.connect(relay.imprint.port)
      const reply = await c.send(`alice@${id}.example`, ["bob@customer.example"], `Subject: ${id}\r\n\r\nhi\r\n`)
      await c.quit()
      return reply.code
    }
    expect(await send("east")).toBe(250)
    expect(await running()).toEqual(["east"])
    expect(await send("west")).toBe(250)
    expect(await running()).toEqual(["west"])
    // east was stopped: a cold start serves it
    expect(await send("east")).toBe(250)
    expect(await running()).toEqual(["east"])
    const got = await relay.sink.waitFor(3)
    const east = got.filter((m) => m.mailFrom === "alice@east.example").map((m) => m.raw.toString())
    expect(east).toHaveLength(2)
    for (const raw of east) expect(raw).toMatch(/X-Imprint-Loop: v=1; t=east;[\s\S]*east signature/)
  })
})
