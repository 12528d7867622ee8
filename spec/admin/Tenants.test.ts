import { describe, expect, layer } from "@effect/vitest"
import { Effect, Either, Option } from "effect"
import { TenantRegistry } from "../../src/actors/TenantRegistry.js"
import { WWW_AUTHENTICATE } from "../../src/admin/http/AdminServer.js"
import { UNAUTHORIZED_MESSAGE } from "../../src/admin/Api.js"
import type { TenantId } from "../../src/domain/Tenant.js"
import { TenantRepo } from "../../src/store/TenantRepo.js"
import { AdminEnv, adminTestLayer, apiClient, createPayload, operatorClient, operatorHeaders, rawRequest, tenantBody, updatePayload } from "./AdminHarness.js"

const tid = (s: string) => s as TenantId
const errorOf = <A, E>(effect: Effect.Effect<A, E>) => Effect.flip(effect)

layer(adminTestLayer())("admin API: tenants", (it) => {
  describe("authentication", () => {
    it.effect("401 with one message for no token, an unknown token, a revoked token and a non-bearer header", () =>
      Effect.gen(function* () {
        const env = yield* AdminEnv
        for (const token of [undefined, "imp_op_not-a-real-token", "garbage", env.revokedToken]) {
          const client = yield* apiClient(token)
          const error = yield* errorOf(client.tenants.list())
          expect(error._tag).toBe("Unauthorized")
          expect((error as { message: string }).message).toBe(UNAUTHORIZED_MESSAGE)
        }
        // a valid token with a suffix is not the token
        const padded = yield* apiClient(`${env.token}x`)
        expect((yield* errorOf(padded.tenants.list()))._tag).toBe("Unauthorized")
      })
    )
  })

  it.effect("create: the relay binds the new tenant at once, credentials are hashed and never returned", () =>
    Effect.gen(function* () {
      const client = yield* operatorClient
      const registry = yield* TenantRegistry
      const repo = yield* TenantRepo
      expect(yield* registry.bindBySourceAddress("198.51.100.7")).toEqual(Option.none())

      const saved = yield* client.tenants.create({ payload: createPayload(tenantBody("t-create", "198.51.100.0/24")) })
      expect(saved.created).toBe(true)
      expect(saved.tenant.id).toBe("t-create")
      expect(saved.tenant.counts).toEqual({ templates: 1, rules: 1, users: 1 })
      expect(saved.tenant.connectors).toEqual([
        { type: "auth", username: "t-create-relay" },
        { type: "cidr", cidrs: ["198.51.100.0/24"] }
      ])
      expect(saved.tenant.downstream?.authUser).toBe("down-user")
      const wire = JSON.stringify(saved)
      for (const secret of ["relay-password-of-t-create", "down-secret-pass", "scrypt$"]) expect(wire).not.toContain(secret)

      const stored = Option.getOrThrow(yield* repo.getTenant(tid("t-create")))
      const auth = stored.connectors.find((c) => c._tag === "auth")
      expect(auth && "passwordHash" in auth ? auth.passwordHash : "").toMatch(/^scrypt\$/)

      expect(yield* registry.bindBySourceAddress("198.51.100.7")).toEqual(Option.some(tid("t-create")))
      expect(yield* registry.bindByCredentials("t-create-relay", "relay-password-of-t-create")).toEqual(Option.some(tid("t-create")))
    })
  )

  it.effect("create: an existing id is 409 TenantAlreadyExists and changes nothing", () =>
    Effect.gen(function* () {
      const client = yield* operatorClient
      yield* client.tenants.create({ payload: createPayload(tenantBody("t-dup", "198.51.101.0/24")) })
      const error = yield* errorOf(client.tenants.create({ payload: createPayload(tenantBody("t-dup", "198.51.101.0/24", { name: "Other" })) }))
      expect(error._tag).toBe("TenantAlreadyExists")
      expect((error as { message: string }).message).toContain("PATCH /tenants/t-dup")
      expect((yield* client.tenants.get({ path: { tenantId: "t-dup" } })).name).toBe("Tenant t-dup")
    })
  )

  it.effect("create: a body that does not decode is 400, naming the problem, and writes nothing", () =>
    Effect.gen(function* () {
      const headers = yield* operatorHeaders
      const typo = { ...tenantBody("t-typo", "198.51.102.0/24"), conectors: [] }
      const unknownKey = yield* rawRequest("POST", "/tenants", { headers, json: typo })
      expect(unknownKey.status).toBe(400)
      expect(unknownKey.text).toContain("conectors")

      const badRule = tenantBody("t-rule", "198.51.102.0/24", { rules: [{ id: "r", name: "R", templateId: "missing" }] })
      const ruleError = yield* rawRequest("POST", "/tenants", { headers, json: badRule })
      expect(ruleError.status).toBe(400)
      expect(ruleError.text).toContain('no template \\"missing\\" in this file')
      const repo = yield* TenantRepo
      expect(Option.isNone(yield* repo.getTenant(tid("t-typo")))).toBe(true)
      expect(Option.isNone(yield* repo.getTenant(tid("t-rule")))).toBe(true)
    })
  )

  it.effect("create: a template that does not compile is 400 TenantFileInvalid naming the template", () =>
    Effect.gen(function* () {
      const client = yield* operatorClient
      const body = tenantBody("t-tpl", "198.51.103.0/24", { templates: [{ id: "default", name: "D", html: "<p>{{#open}}</p>" }] })
      const error = yield* errorOf(client.tenants.create({ payload: createPayload(body) }))
      expect(error._tag).toBe("TenantFileInvalid")
      expect((error as { message: string }).message).toContain('templates[0] "default"')
    })
  )

  it.effect("create: a domain another tenant owns is 409 TenantConflict naming the owner", () =>
    Effect.gen(function* () {
      const client = yield* operatorClient
      yield* client.tenants.create({ payload: createPayload(tenantBody("t-owner", "198.51.104.0/24")) })
      const error = yield* errorOf(
        client.tenants.create({
          payload: createPayload(tenantBody("t-thief", "198.51.105.0/24", { domains: ["t-owner.example"] }))
        })
      )
      expect(error._tag).toBe("TenantConflict")
      expect((error as { message: string }).message).toContain("t-owner")
    })
  )

  it.effect("get and list; unknown and malformed ids are 404", () =>
    Effect.gen(function* () {
      const client = yield* operatorClient
      yield* client.tenants.create({ payload: createPayload(tenantBody("t-get", "198.51.106.0/24")) })
      const got = yield* client.tenants.get({ path: { tenantId: "t-get" } })
      expect(got.domains).toEqual(["t-get.example"])
      expect(got.counts).toEqual({ templates: 1, rules: 1, users: 1 })
      const listed = yield* client.tenants.list()
      const mine = listed.find((t) => t.id === "t-get")
      expect(mine?.name).toBe("Tenant t-get")
      expect(mine?.counts).toBeUndefined()
      for (const id of ["t-nobody", "Not_A_Tenant", "x".repeat(80)]) {
        const error = yield* errorOf(client.tenants.get({ path: { tenantId: id } }))
        expect(error._tag).toBe("TenantNotFound")
        expect((error as { message: string }).message).toBe(`tenant ${id} does not exist`)
      }
    })
  )

  it.effect("update: changes only the fields sent; the stored password hash is kept", () =>
    Effect.gen(function* () {
      const client = yield* operatorClient
      const repo = yield* TenantRepo
      yield* client.tenants.create({ payload: createPayload(tenantBody("t-upd", "198.51.107.0/24")) })
      const hashBefore = Option.getOrThrow(yield* repo.getTenant(tid("t-upd"))).connectors
      const saved = yield* client.tenants.update({
        path: { tenantId: "t-upd" },
        payload: updatePayload({ name: "Renamed", domains: ["t-upd.example", "second.example"] })
      })
      expect(saved.created).toBe(false)
      expect(saved.tenant.name).toBe("Renamed")
      expect(saved.tenant.domains).toEqual(["t-upd.example", "second.example"])
      expect(saved.tenant.counts).toEqual({ templates: 1, rules: 1, users: 1 })
      expect(Option.getOrThrow(yield* repo.getTenant(tid("t-upd"))).connectors).toEqual(hashBefore)
      const error = yield* errorOf(client.tenants.update({ path: { tenantId: "t-none" }, payload: updatePayload({ name: "x" }) }))
      expect(error._tag).toBe("TenantNotFound")
    })
  )

  it.effect("update: a template change reports what the sanitizer removed", () =>
    Effect.gen(function* () {
      const client = yield* operatorClient
      yield* client.tenants.create({ payload: createPayload(tenantBody("t-san", "198.51.108.0/24")) })
      const saved = yield* client.tenants.update({
        path: { tenantId: "t-san" },
        payload: updatePayload({ templates: [{ id: "default", name: "D", html: '<p onclick="steal()">{{displayName}}</p><script>x()</script>' }] })
      })
      const removed = saved.removed.find((r) => r.templateId === "default")?.removed.map((r) => r.name) ?? []
      expect(removed).toEqual(expect.arrayContaining(["script", "onclick"]))
    })
  )

  it.effect("update: moving the binding to another range applies at once", () =>
    Effect.gen(function* () {
      const client = yield* operatorClient
      const registry = yield* TenantRegistry
      yield* client.tenants.create({ payload: createPayload(tenantBody("t-move", "198.51.109.0/24")) })
      expect(yield* registry.bindBySourceAddress("198.51.109.1")).toEqual(Option.some(tid("t-move")))
      yield* client.tenants.update({ path: { tenantId: "t-move" }, payload: updatePayload({ connectors: [{ type: "cidr", cidrs: ["198.51.110.0/24"] }] }) })
      expect(yield* registry.bindBySourceAddress("198.51.109.1")).toEqual(Option.none())
      expect(yield* registry.bindBySourceAddress("198.51.110.1")).toEqual(Option.some(tid("t-move")))
    })
  )

  it.effect("suspend and resume", () =>
    Effect.gen(function* () {
      const client = yield* operatorClient
      const repo = yield* TenantRepo
      yield* client.tenants.create({ payload: createPayload(tenantBody("t-sus", "198.51.111.0/24")) })
      expect((yield* client.tenants.suspend({ path: { tenantId: "t-sus" } })).suspended).toBe(true)
      expect(Option.getOrThrow(yield* repo.getTenant(tid("t-sus"))).suspended).toBe(true)
      expect((yield* client.tenants.resume({ path: { tenantId: "t-sus" } })).suspended).toBe(false)
      expect(Option.getOrThrow(yield* repo.getTenant(tid("t-sus"))).suspended).toBe(false)
      expect((yield* errorOf(client.tenants.suspend({ path: { tenantId: "t-none" } })))._tag).toBe("TenantNotFound")
      expect((yield* errorOf(client.tenants.resume({ path: { tenantId: "t-none" } })))._tag).toBe("TenantNotFound")
    })
  )

  it.effect("delete: gone from the store and from binding; a second delete is 404", () =>
    Effect.gen(function* () {
      const client = yield* operatorClient
      const registry = yield* TenantRegistry
      yield* client.tenants.create({ payload: createPayload(tenantBody("t-del", "198.51.112.0/24")) })
      yield* registry.actor(tid("t-del"))
      yield* client.tenants.delete({ path: { tenantId: "t-del" } })
      expect((yield* errorOf(client.tenants.get({ path: { tenantId: "t-del" } })))._tag).toBe("TenantNotFound")
      expect(yield* registry.bindBySourceAddress("198.51.112.1")).toEqual(Option.none())
      expect(yield* registry.running).not.toContain("t-del")
      expect((yield* errorOf(client.tenants.delete({ path: { tenantId: "t-del" } })))._tag).toBe("TenantNotFound")
    })
  )

  it.effect("tenant endpoints refuse a revoked token even after it worked", () =>
    Effect.gen(function* () {
      const env = yield* AdminEnv
      const admin = yield* (yield* Effect.promise(() => import("../../src/store/AdminRepo.js"))).AdminRepo
      const { token, record } = yield* admin.createOperatorToken("short-lived")
      const client = yield* apiClient(token)
      expect(Either.isRight(yield* Effect.either(client.tenants.list()))).toBe(true)
      yield* admin.revokeOperatorToken(record.id)
      expect((yield* errorOf(client.tenants.list()))._tag).toBe("Unauthorized")
      expect(env.baseUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
    })
  )
})

layer(adminTestLayer())("admin API: HTTP statuses on the wire", (it) => {
  it.effect("201 create, 200 get, 409 duplicate, 404 unknown, 401 without a token, 204 delete", () =>
    Effect.gen(function* () {
      const headers = yield* operatorHeaders
      const body = tenantBody("t-wire", "198.51.113.0/24")
      expect((yield* rawRequest("POST", "/tenants", { headers, json: body })).status).toBe(201)
      const got = yield* rawRequest("GET", "/tenants/t-wire", { headers })
      expect(got.status).toBe(200)
      expect(got.headers["content-type"]).toContain("application/json")
      expect((yield* rawRequest("POST", "/tenants", { headers, json: body })).status).toBe(409)
      expect((yield* rawRequest("GET", "/tenants/t-unknown", { headers })).status).toBe(404)
      const anonymous = yield* rawRequest("GET", "/tenants/t-wire")
      expect(anonymous.status).toBe(401)
      expect(anonymous.headers["www-authenticate"]).toBe(WWW_AUTHENTICATE)
      expect(got.headers["www-authenticate"]).toBeUndefined()
      expect(anonymous.text).not.toContain("t-wire.example")
      const client = yield* operatorClient
      yield* client.tenants.delete({ path: { tenantId: "t-wire" } })
      expect((yield* rawRequest("GET", "/tenants/t-wire", { headers })).status).toBe(404)
    })
  )
})
