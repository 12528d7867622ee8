import { HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Layer, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { Api } from "../../src/admin/Api.js"
import { RuleCreate } from "../../src/admin/rules/Api.js"
import { loopbackTenant, relayToSink, type RunningImprint } from "../support/Imprint.js"
import { RawSmtp } from "../support/RawSmtp.js"

/**
 * The admin API and the relay in one process, as `imprint serve` runs them:
 * a template or rule changed through the API is on the very next relayed
 * message, without a restart or a re-import.
 */

const tenant = (sinkPort: number) =>
  loopbackTenant(sinkPort, {
    templates: [{ id: "sig", name: "Signature", html: "<p>Old: {{displayName}}</p>", text: "Old: {{displayName}}" }],
    rules: [{ id: "everyone", name: "Everyone", templateId: "sig" }],
    directory: [{ mail: "alice@acme.example", displayName: "Alice Example" }]
  })

const message = (id: string) =>
  [
    "From: Alice <alice@acme.example>",
    "To: bob@acme.example",
    "Subject: status",
    `Message-ID: <${id}@acme.example>`,
    "Content-Type: text/plain; charset=us-ascii",
    "",
    "All done.",
    ""
  ].join("\r\n")

const makeClient = (admin: NonNullable<RunningImprint["admin"]>) =>
  HttpApiClient.make(Api, {
    baseUrl: `https://127.0.0.1:${admin.port}`,
    transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(admin.token))
  })
type AdminClient = Effect.Effect.Success<ReturnType<typeof makeClient>>

/** Runs `f` with the typed admin client of the running relay (HTTPS, its certificate trusted, operator token). */
const withAdmin = <A, E>(imprint: RunningImprint, f: (client: AdminClient) => Effect.Effect<A, E>) => {
  const admin = imprint.admin!
  return Effect.runPromise(
    Effect.flatMap(makeClient(admin), f).pipe(
      Effect.provide(NodeHttpClient.layerWithoutAgent.pipe(Layer.provide(NodeHttpClient.makeAgentLayer({ ca: admin.ca }))))
    )
  )
}

const bodyText = (raw: Buffer) => raw.toString("latin1").replace(/=\r\n/g, "")

describe("admin API changes reach the relay without a restart", () => {
  const relay = relayToSink({ tenants: (port) => [tenant(port)], admin: true })

  const send = async (id: string) => {
    const before = relay.sink.messages.length
    const c = await RawSmtp.connect(relay.imprint.port)
    expect((await c.send("alice@acme.example", ["bob@acme.example"], message(id))).code).toBe(250)
    c.end()
    await relay.sink.waitFor(before + 1)
    return bodyText(relay.sink.messages[before].raw)
  }

  it("a template saved through the API is on the next relayed message", async () => {
    expect(await send("before")).toContain("Old: Alice Example")
    const saved = await withAdmin(relay.imprint, (client) =>
      client.templates.replace({
        path: { tenantId: "acme", templateId: "sig" },
        payload: { name: "Signature", html: "<p>New: {{displayName}}</p>", text: "New: {{displayName}}" }
      })
    )
    expect(saved.template.version).toBe(2)
    const after = await send("after")
    expect(after).toContain("New: Alice Example")
    expect(after).not.toContain("Old: Alice Example")
  })

  it("a rule disabled, and a rule added in front, decide the next relayed message", async () => {
    await withAdmin(relay.imprint, (client) => client.rules.disable({ path: { tenantId: "acme", ruleId: "everyone" } }))
    const unstamped = await send("disabled")
    expect(unstamped).not.toContain("Alice Example")
    expect(unstamped).not.toMatch(/X-Imprint-Rule:/)

    await withAdmin(relay.imprint, (client) =>
      Effect.gen(function* () {
        yield* client.templates.create({ path: { tenantId: "acme" }, payload: { id: "banner", name: "Banner", html: "<p>Banner for {{displayName}}</p>" } })
        yield* client.rules.create({
          path: { tenantId: "acme" },
          payload: Schema.decodeUnknownSync(RuleCreate)({ id: "banner", name: "Banner", templateId: "banner", at: 0 })
        })
      })
    )
    const bannered = await send("banner")
    expect(bannered).toContain("Banner for Alice Example")
    expect(bannered).toMatch(/\r\nX-Imprint-Rule: banner\r\n/)
  })
})
