import { expect, layer } from "@effect/vitest"
import { Arbitrary, Effect, FastCheck, Option, Schema } from "effect"
import { Api } from "../../src/admin/Api.js"
import { apiClient } from "./AdminHarness.js"
import { authTestLayer, rawCall, seedTenant, seedUser, signIn } from "./AuthHarness.js"

/**
 * Every endpoint of the composed Api with a {tenantId} path parameter —
 * including those other features add later — called by tenant A's owner
 * (session, then an owner API token) against tenant B's id must answer 404,
 * exactly as for a tenant that does not exist.
 *
 * Bodies: where the payload schema yields an arbitrary value (Schema's
 * Arbitrary), that value is sent, so the request gets past payload decoding
 * and reaches authorization; otherwise `{}` is sent. A body that does not
 * decode is answered 400 before any handler runs. That is accepted only if
 * B's answer is byte-identical to the answer for a tenant id that does not
 * exist (no existence leak, nothing written); the spec lists such endpoints
 * so a reader sees which ones were not checked past decoding.
 */

/** other path parameters: "1" decodes as a number and as most id patterns */
const PROBE = "1"

interface Probe {
  readonly name: string
  readonly method: string
  readonly path: string
  readonly body: unknown
  readonly generated: boolean
}

/** a body the endpoint's payload schema accepts, when Schema can make one */
const sampleBody = (schema: Schema.Schema<any, any, any>): Option.Option<unknown> => {
  try {
    const value = FastCheck.sample(Arbitrary.make(schema as Schema.Schema<unknown, unknown, never>), { numRuns: 1, seed: 42 })[0]
    return Option.some(Schema.encodeSync(schema as Schema.Schema<unknown, unknown, never>)(value))
  } catch {
    return Option.none()
  }
}

const tenantEndpoints = (): ReadonlyArray<Probe> =>
  Object.values(Api.groups).flatMap((group) =>
    Object.values(group.endpoints)
      .filter((e) => e.path.includes(":tenantId"))
      .map((e) => {
        const withBody = e.method !== "GET" && e.method !== "DELETE" && e.method !== "HEAD"
        const sampled = withBody ? Option.flatMap(e.payloadSchema, sampleBody) : Option.none()
        return {
          name: `${group.identifier}.${e.name}`,
          method: e.method,
          path: e.path,
          body: withBody ? Option.getOrElse(sampled, () => ({})) : undefined,
          generated: Option.isSome(sampled)
        }
      })
  )

const fill = (path: string, tenantId: string) => path.replace(":tenantId", tenantId).replace(/:\w+/g, PROBE)

layer(authTestLayer(), { excludeTestServices: true })("admin API: tenant isolation across every endpoint", (it) => {
  it.effect("tenant A's session and API token against tenant B's id: 404 on every /tenants/{tenantId}/… endpoint", () =>
    Effect.gen(function* () {
      yield* seedTenant("t-walk-a", "192.0.2.192/28")
      yield* seedTenant("t-walk-b", "192.0.2.208/28")
      yield* seedUser("t-walk-a", "owner@t-walk-a.example", "owner")
      yield* seedUser("t-walk-b", "owner@t-walk-b.example", "owner")
      const session = (yield* signIn("owner@t-walk-a.example")).sessionToken
      const a = yield* apiClient(session)
      const ownerToken = (yield* a.apiTokens.create({ path: { tenantId: "t-walk-a" }, payload: { name: "walker", role: "owner" } })).token

      const probes = tenantEndpoints()
      // the walk covers at least this feature's endpoints and the tenants group
      expect(probes.map((p) => p.name)).toEqual(
        expect.arrayContaining([
          "tenants.get",
          "tenants.update",
          "tenants.delete",
          "users.list",
          "users.create",
          "users.get",
          "users.update",
          "users.delete",
          "users.setPassword",
          "apiTokens.list",
          "apiTokens.create",
          "apiTokens.revoke"
        ])
      )
      const decodedFirst: Array<string> = []
      for (const token of [session, ownerToken]) {
        for (const p of probes) {
          const other = yield* rawCall(p.method, fill(p.path, "t-walk-b"), { token, json: p.body })
          const none = yield* rawCall(p.method, fill(p.path, "t-walk-none"), { token, json: p.body })
          const label = `${p.method} ${p.path} (${p.name}, ${token === session ? "session" : "API token"})`
          expect(other.text.replaceAll("t-walk-b", "ID"), label).toBe(none.text.replaceAll("t-walk-none", "ID"))
          expect(other.status, label).toBe(none.status)
          if (other.status === 400 && !p.generated) {
            decodedFirst.push(p.name)
            continue
          }
          expect(other.status, `${label}: ${other.text.slice(0, 200)}`).toBe(404)
        }
      }
      // none of this feature's endpoints may stop at decoding
      expect(decodedFirst.filter((n) => n.startsWith("users.") || n.startsWith("apiTokens."))).toEqual([])
      if (decodedFirst.length > 0)
        console.info(`answered 400 at payload decoding (same answer as for a missing tenant): ${[...new Set(decodedFirst)].join(", ")}`)

      // and B is untouched: its owner still signs in, its user list is its own
      const b = yield* apiClient((yield* signIn("owner@t-walk-b.example")).sessionToken)
      expect((yield* b.users.list({ path: { tenantId: "t-walk-b" } })).map((u) => u.email)).toEqual(["owner@t-walk-b.example"])
    })
  )
})
