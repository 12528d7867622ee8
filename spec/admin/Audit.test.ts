import { describe, expect, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { recordAudit } from "../../src/admin/audit/Audit.js"
import { CurrentPrincipal, Operator, TenantMember } from "../../src/admin/http/Principal.js"
import { AuditRepo, auditPrefix, AUDIT_DB } from "../../src/store/AuditRepo.js"
import { Store } from "../../src/store/Store.js"
import { TempStorePath } from "../store/TempStore.js"
import { adminTestLayer, createPayload, operatorClient, tenantBody, updatePayload } from "./AdminHarness.js"

const RepoLayer = Layer.mergeAll(Store.Default, AuditRepo.Default).pipe(Layer.provide(TempStorePath), Layer.orDie)

layer(RepoLayer)("AuditRepo", (it) => {
  it.effect("lists newest first, pages with the next cursor until the last page, per tenant only", () =>
    Effect.gen(function* () {
      const repo = yield* AuditRepo
      const written: Array<string> = []
      for (let i = 0; i < 7; i++) {
        written.push((yield* repo.record({ tenantId: "pa", actor: "operator:x", action: "thing.update", target: `thing/${i}` })).id)
      }
      // a tenant whose id extends "pa" must not leak into "pa"'s log
      yield* repo.record({ tenantId: "pab", actor: "operator:x", action: "thing.update", target: "thing/other" })
      const seen: Array<string> = []
      let before: string | undefined
      let pages = 0
      do {
        const page = yield* repo.list("pa", { limit: 3, before })
        expect(page.entries.length).toBeLessThanOrEqual(3)
        seen.push(...page.entries.map((e) => e.target))
        before = page.next
        pages++
      } while (before !== undefined && pages < 10)
      expect(pages).toBe(3)
      expect(seen).toEqual(["thing/6", "thing/5", "thing/4", "thing/3", "thing/2", "thing/1", "thing/0"])
      expect(new Set(written).size).toBe(7)
      // a full last page has no next
      const exact = yield* repo.list("pa", { limit: 7 })
      expect(exact.entries.length).toBe(7)
      expect(exact.next).toBeUndefined()
      expect((yield* repo.list("pab")).entries.map((e) => e.target)).toEqual(["thing/other"])
      // stored outside tenant/, so no tenant actor reloads for an audit write
      const store = yield* Store
      expect((yield* store.keys(AUDIT_DB, auditPrefix("pa"))).length).toBe(7)
      expect((yield* store.keys(AUDIT_DB, "tenant/")).length).toBe(0)
    })
  )

  it.effect("recordAudit names the principal as actor and never fails the caller", () =>
    Effect.gen(function* () {
      const repo = yield* AuditRepo
      const member = new TenantMember({ tenantId: "ra", role: "admin", subjectId: "u1", label: "ann@ra.example", via: "session" })
      yield* recordAudit("ra", "directory.upsert", "user/bob@ra.example", { before: "absent", after: "present" }).pipe(
        Effect.provideService(CurrentPrincipal, member)
      )
      yield* recordAudit("ra", "tenant.update", "tenant/ra", { detail: "x".repeat(5000) }).pipe(
        Effect.provideService(CurrentPrincipal, new Operator({ tokenId: "t", name: "ci" }))
      )
      const [newest, oldest] = (yield* repo.list("ra")).entries
      expect(oldest).toMatchObject({ actor: "user:ann@ra.example", action: "directory.upsert", before: "absent", after: "present" })
      expect(newest!.actor).toBe("operator:ci")
      expect(newest!.detail!.length).toBeLessThan(1100)
    })
  )
})

layer(adminTestLayer())("admin API: audit log", (it) => {
  it.effect("tenant create, update, suspend, resume and delete are recorded with who/what/before/after; delete keeps the log", () =>
    Effect.gen(function* () {
      const client = yield* operatorClient
      yield* client.tenants.create({ payload: createPayload(tenantBody("t-audit", "198.51.110.0/24")) })
      yield* client.tenants.update({ path: { tenantId: "t-audit" }, payload: updatePayload({ name: "Renamed", domains: ["t-audit.example"] }) })
      yield* client.tenants.suspend({ path: { tenantId: "t-audit" } })
      yield* client.tenants.resume({ path: { tenantId: "t-audit" } })
      const page = yield* client.audit.list({ path: { tenantId: "t-audit" }, urlParams: {} })
      expect(page.entries.map((e) => e.action)).toEqual(["tenant.resume", "tenant.suspend", "tenant.update", "tenant.create"])
      for (const e of page.entries) {
        expect(e.actor).toBe("operator:spec operator")
        expect(e.target).toBe("tenant/t-audit")
        expect(e.tenantId).toBe("t-audit")
      }
      expect(page.entries[1]).toMatchObject({ before: "active", after: "suspended" })
      expect(page.entries[2]!.detail).toBe("fields: name, domains")
      // never a secret in the log
      expect(JSON.stringify(page)).not.toContain("relay-password-of-t-audit")

      const first = yield* client.audit.list({ path: { tenantId: "t-audit" }, urlParams: { limit: 3 } })
      expect(first.entries.length).toBe(3)
      const second = yield* client.audit.list({ path: { tenantId: "t-audit" }, urlParams: { limit: 3, before: first.next } })
      expect(second.entries.map((e) => e.action)).toEqual(["tenant.create"])
      expect(second.next).toBeUndefined()

      // before is the state found, not assumed: suspending a suspended tenant says so
      yield* client.tenants.suspend({ path: { tenantId: "t-audit" } })
      yield* client.tenants.suspend({ path: { tenantId: "t-audit" } })
      const twice = yield* client.audit.list({ path: { tenantId: "t-audit" }, urlParams: { limit: 2 } })
      expect(twice.entries.map((e) => [e.before, e.after])).toEqual([
        ["suspended", "suspended"],
        ["active", "suspended"]
      ])

      yield* client.tenants.delete({ path: { tenantId: "t-audit" } })
      const after = yield* client.audit.list({ path: { tenantId: "t-audit" }, urlParams: {} })
      expect(after.entries.map((e) => e.action).slice(0, 2)).toEqual(["tenant.delete", "tenant.suspend"])
    })
  )

  it.effect("a malformed tenant id is 404; a limit out of range is refused", () =>
    Effect.gen(function* () {
      const client = yield* operatorClient
      const error = yield* Effect.flip(client.audit.list({ path: { tenantId: "Not_An_Id" }, urlParams: {} }))
      expect(error._tag).toBe("TenantNotFound")
      const bad = yield* Effect.flip(client.audit.list({ path: { tenantId: "t-x" }, urlParams: { limit: 0 } }))
      expect(bad._tag).not.toBe("TenantNotFound")
    })
  )
})
