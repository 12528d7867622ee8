import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Api, OPENAPI_PATH } from "../../src/admin/Api.js"
import { adminTestLayer, apiClient, createPayload, operatorClient, rawRequest, tenantBody } from "./AdminHarness.js"

/** Every `$ref` in the document, with where it was found. */
const refsOf = (node: unknown, at = "$"): Array<{ ref: string; at: string }> => {
  if (Array.isArray(node)) return node.flatMap((v, i) => refsOf(v, `${at}[${i}]`))
  if (typeof node !== "object" || node === null) return []
  return Object.entries(node).flatMap(([k, v]) => (k === "$ref" && typeof v === "string" ? [{ ref: v, at }] : refsOf(v, `${at}.${k}`)))
}

/** The contract's endpoints as OpenAPI names them: `/tenants/:tenantId` → `/tenants/{tenantId}`. */
const contractEndpoints = () =>
  Object.values(Api.groups).flatMap((group) =>
    Object.values(group.endpoints).map((e) => ({
      group: group.identifier,
      name: e.name,
      path: e.path.replace(/:(\w+)/g, "{$1}"),
      method: e.method.toLowerCase()
    }))
  )

layer(adminTestLayer())("admin API: operations", (it) => {
  it.effect("healthz and readyz answer without a token; readyz counts tenants from the store", () =>
    Effect.gen(function* () {
      const anonymous = yield* apiClient(undefined)
      expect(yield* anonymous.ops.healthz()).toEqual({ status: "ok" })
      const before = (yield* anonymous.ops.readyz()).tenants
      const client = yield* operatorClient
      yield* client.tenants.create({ payload: createPayload(tenantBody("t-ready", "203.0.113.0/24")) })
      expect(yield* anonymous.ops.readyz()).toEqual({ status: "ready", tenants: before + 1 })
    })
  )

  describe("OpenAPI document", () => {
    it.effect("is served at /openapi.json as JSON, generated from the contract, with a path and method for every endpoint", () =>
      Effect.gen(function* () {
        const raw = yield* rawRequest("GET", OPENAPI_PATH)
        expect(raw.status).toBe(200)
        expect(raw.headers["content-type"]).toContain("application/json")
        const doc = JSON.parse(raw.text) as {
          openapi: string
          info: { title: string; version: string }
          paths: Record<string, Record<string, { responses?: Record<string, unknown>; security?: Array<Record<string, unknown>> }>>
          components: { schemas: Record<string, unknown>; securitySchemes: Record<string, { type: string; scheme?: string }> }
        }
        expect(doc.openapi).toBe("3.1.0")
        expect(doc.info.title).toBe("Imprint admin API")
        const endpoints = contractEndpoints()
        // containing, not equal: each feature's group adds endpoints; the loop below checks every one of them
        expect(endpoints.map((e) => `${e.group}.${e.name}`)).toEqual(
          expect.arrayContaining([
            "metrics.metrics",
            "ops.healthz",
            "ops.openapi",
            "ops.readyz",
            "tenants.create",
            "tenants.delete",
            "tenants.get",
            "tenants.list",
            "tenants.resume",
            "tenants.suspend",
            "tenants.update",
            "audit.list",
            "auth.login",
            "auth.verify",
            "auth.logout",
            "auth.me",
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
        for (const e of endpoints) {
          const operation = doc.paths[e.path]?.[e.method]
          expect(operation, `${e.method.toUpperCase()} ${e.path}`).toBeDefined()
          expect(Object.keys(operation!.responses ?? {}).length, `${e.path} responses`).toBeGreaterThan(0)
          // every group declares the bearer scheme but ops and the sign-in steps (auth: login, verify; logout and me need it)
          const secured = (operation!.security ?? []).some((s) => "bearer" in s)
          const open = e.group === "ops" || (e.group === "auth" && (e.name === "login" || e.name === "verify"))
          expect(secured, `${e.method} ${e.path} security`).toBe(!open)
        }
        expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" })
        expect(Object.keys(doc.paths["/tenants/{tenantId}"]!.get!.responses!)).toEqual(expect.arrayContaining(["200", "404", "401"]))
        expect(Object.keys(doc.paths["/tenants"]!.post!.responses!)).toEqual(expect.arrayContaining(["201", "400", "409"]))
        // every reference resolves inside the document
        for (const { ref, at } of refsOf(doc)) {
          expect(ref, at).toMatch(/^#\/components\/schemas\//)
          expect(doc.components.schemas[ref.slice("#/components/schemas/".length)], `${ref} at ${at}`).toBeDefined()
        }
      })
    )

    it.effect("the typed client reads the same document", () =>
      Effect.gen(function* () {
        const anonymous = yield* apiClient(undefined)
        const doc = yield* anonymous.ops.openapi()
        expect(Object.keys(doc.paths as object)).toEqual(expect.arrayContaining(["/healthz", "/readyz", "/metrics", "/tenants", "/tenants/{tenantId}"]))
      })
    )
  })
})
