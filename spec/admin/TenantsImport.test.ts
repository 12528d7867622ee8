import { expect, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import { TenantRegistry } from "../../src/actors/TenantRegistry.js"
import type { TenantId } from "../../src/domain/Tenant.js"
import { AuditRepo } from "../../src/store/AuditRepo.js"
import { TenantRepo } from "../../src/store/TenantRepo.js"
import { adminTestLayer, operatorHeaders, rawRequest, tenantBody } from "./AdminHarness.js"

/** tenants without auth connectors: no scrypt per entry */
const cidrOnly = (id: string, cidr: string, extra: Record<string, unknown> = {}) => {
  const body = tenantBody(id, cidr, extra)
  return { ...body, connectors: body.connectors.filter((c) => c.type === "cidr") }
}

layer(adminTestLayer())("admin API: POST /tenants/import", (it) => {
  it.effect("writes a batch, reports each tenant, audits each, and the relay binds them at once", () =>
    Effect.gen(function* () {
      const headers = yield* operatorHeaders
      const registry = yield* TenantRegistry
      const r = yield* rawRequest("POST", "/tenants/import", { headers, json: [cidrOnly("b-one", "198.51.120.0/24"), cidrOnly("b-two", "198.51.121.0/24")] })
      expect(r.status).toBe(200)
      const report = JSON.parse(r.text)
      expect(report).toMatchObject({ mode: "all-or-nothing", written: true, created: 2, updated: 0, failed: 0 })
      expect(report.tenants).toEqual([
        { source: "tenants[0]", tenantId: "b-one", status: "created", templates: 1, rules: 1, users: 1, removed: [] },
        { source: "tenants[1]", tenantId: "b-two", status: "created", templates: 1, rules: 1, users: 1, removed: [] }
      ])
      expect(yield* registry.bindBySourceAddress("198.51.121.9")).toEqual(Option.some("b-two" as TenantId))
      const audit = yield* Effect.flatMap(AuditRepo, (repo) => repo.list("b-one", {}))
      expect(audit.entries.map((e) => [e.action, e.detail])).toEqual([["tenant.create", "batch import"]])
    })
  )

  it.effect("all-or-nothing with a bad tenant: 422 with the report, nothing written", () =>
    Effect.gen(function* () {
      const headers = yield* operatorHeaders
      const repo = yield* TenantRepo
      const r = yield* rawRequest("POST", "/tenants/import", {
        headers,
        json: [cidrOnly("c-one", "198.51.122.0/24"), cidrOnly("c-two", "198.51.123.0/24", { domains: ["c-one.example"] }), { id: "c-three" }]
      })
      expect(r.status).toBe(422)
      const body = JSON.parse(r.text)
      expect(body).toMatchObject({ _tag: "TenantImportRejected", message: expect.stringContaining("2 of 3 tenants failed; nothing was written") })
      expect(body.report.tenants.map((t: { status: string }) => t.status)).toEqual(["not-written", "failed", "failed"])
      expect(body.report.tenants[1].message).toContain("domain c-one.example already belongs to tenant c-one (earlier in this import)")
      expect(body.report.tenants[2]).toMatchObject({ tenantId: "c-three", error: "TenantFileInvalid" })
      expect(Option.isNone(yield* repo.getTenant("c-one" as TenantId))).toBe(true)
    })
  )

  it.effect("per-tenant: 200, the valid ones written, the others reported; a wrong mode is 400", () =>
    Effect.gen(function* () {
      const headers = yield* operatorHeaders
      const repo = yield* TenantRepo
      const r = yield* rawRequest("POST", "/tenants/import?mode=per-tenant", {
        headers,
        json: [cidrOnly("d-one", "198.51.124.0/24"), cidrOnly("d-two", "198.51.125.0/24", { domains: ["d-one.example"] })]
      })
      expect(r.status).toBe(200)
      expect(JSON.parse(r.text)).toMatchObject({ mode: "per-tenant", written: true, created: 1, failed: 1 })
      expect(Option.isSome(yield* repo.getTenant("d-one" as TenantId))).toBe(true)
      expect((yield* rawRequest("POST", "/tenants/import?mode=sometimes", { headers, json: [] })).status).toBe(400)
      expect((yield* rawRequest("POST", "/tenants/import", { json: [] })).status).toBe(401)
    })
  )
})
