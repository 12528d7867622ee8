import { describe, expect, layer } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { RuleCreate, RuleReplace } from "../../src/admin/rules/Api.js"
import { TenantRegistry } from "../../src/actors/TenantRegistry.js"
import type { TenantId } from "../../src/domain/Tenant.js"
import { AuditRepo } from "../../src/store/AuditRepo.js"
import { adminTestLayer, operatorClient, operatorHeaders, rawRequest } from "./AdminHarness.js"
import { createContentTenant, memberClient } from "./ContentHarness.js"

const errorOf = <A, E>(effect: Effect.Effect<A, E>) => Effect.flip(effect)
const field = (e: unknown, key: string) => (e as Record<string, unknown>)[key]
const create = (body: unknown) => Schema.decodeUnknownSync(RuleCreate)(body)
const replace = (body: unknown) => Schema.decodeUnknownSync(RuleReplace)(body)

layer(adminTestLayer())("admin API: rules", (it) => {
  it.effect("list is in the tenant's order with defaults filled in; get answers one rule", () =>
    Effect.gen(function* () {
      yield* createContentTenant("rul-a", "198.51.100.0/28")
      const client = yield* operatorClient
      const list = yield* client.rules.list({ path: { tenantId: "rul-a" } })
      expect(list.map((r) => r.id)).toEqual(["external", "everyone"])
      expect(list[1]).toMatchObject({ enabled: true, position: "above-reply", continue: false, templateId: "sig" })
      const one = yield* client.rules.get({ path: { tenantId: "rul-a", ruleId: "external" } })
      expect(one.conditions.recipientScope).toBe("external")
      expect((yield* errorOf(client.rules.get({ path: { tenantId: "rul-a", ruleId: "nope" } })))._tag).toBe("RuleNotFound")
    })
  )

  it.effect("create appends, or inserts at a position; a duplicate id is 409", () =>
    Effect.gen(function* () {
      yield* createContentTenant("rul-c", "198.51.100.16/28")
      const client = yield* operatorClient
      const path = { tenantId: "rul-c" }
      const last = yield* client.rules.create({ path, payload: create({ id: "last", name: "Last", templateId: "sig" }) })
      expect(last.id).toBe("last")
      yield* client.rules.create({ path, payload: create({ id: "first", name: "First", templateId: "disc", at: 0 }) })
      yield* client.rules.create({ path, payload: create({ id: "second", name: "Second", templateId: "disc", at: 1, enabled: false }) })
      yield* client.rules.create({ path, payload: create({ id: "far", name: "Far", templateId: "disc", at: 99 }) })
      expect((yield* client.rules.list({ path })).map((r) => r.id)).toEqual(["first", "second", "external", "everyone", "last", "far"])
      const dup = yield* errorOf(client.rules.create({ path, payload: create({ id: "first", name: "Again", templateId: "sig" }) }))
      expect(dup._tag).toBe("RuleAlreadyExists")
      expect(field(dup, "message")).toContain("PUT /tenants/rul-c/rules/first")
    })
  )

  it.effect("rules are checked against the tenant's templates: 400 naming the problem, nothing written", () =>
    Effect.gen(function* () {
      yield* createContentTenant("rul-v", "198.51.100.32/28")
      const client = yield* operatorClient
      const path = { tenantId: "rul-v" }
      const missing = yield* errorOf(client.rules.create({ path, payload: create({ id: "r", name: "R", templateId: "nope" }) }))
      expect(missing._tag).toBe("RuleInvalid")
      expect(field(missing, "problems")).toEqual([`templateId: no template "nope"`])
      const window = yield* errorOf(
        client.rules.replace({
          path: { tenantId: "rul-v", ruleId: "everyone" },
          payload: replace({ name: "Everyone", templateId: "sig", conditions: { dateWindow: { start: "2026-12-31T00:00", end: "2026-12-01T00:00" } } })
        })
      )
      expect(window._tag).toBe("RuleInvalid")
      expect(field(window, "message")).toContain("conditions.dateWindow: the end")
      const attr = yield* errorOf(
        client.rules.create({
          path,
          payload: create({ id: "a", name: "A", templateId: "sig", exceptions: { attributes: [{ name: "shoeSize", op: "equals", value: "9" }] } })
        })
      )
      expect(field(attr, "message")).toContain(`"shoeSize" is not a directory attribute`)
      // a body that does not decode names the field
      const headers = yield* operatorHeaders
      const typo = yield* rawRequest("POST", "/tenants/rul-v/rules", { headers, json: { id: "t", name: "T", templateId: "sig", conditons: {} } })
      expect(typo.status).toBe(400)
      expect(typo.text).toContain("conditons")
      expect((yield* client.rules.list({ path })).map((r) => r.id)).toEqual(["external", "everyone"])
      expect((yield* client.rules.get({ path: { tenantId: "rul-v", ruleId: "everyone" } })).conditions.dateWindow).toBeUndefined()
    })
  )

  it.effect("PUT replaces a rule in place; DELETE removes it; unknown ids are 404", () =>
    Effect.gen(function* () {
      yield* createContentTenant("rul-u", "198.51.100.48/28")
      const client = yield* operatorClient
      const updated = yield* client.rules.replace({
        path: { tenantId: "rul-u", ruleId: "external" },
        payload: replace({ name: "External replies", templateId: "disc", position: "bottom", conditions: { kinds: ["reply"] } })
      })
      expect(updated).toMatchObject({ id: "external", name: "External replies", position: "bottom" })
      expect(updated.conditions.kinds).toEqual(["reply"])
      expect((yield* client.rules.list({ path: { tenantId: "rul-u" } })).map((r) => r.id)).toEqual(["external", "everyone"])
      yield* client.rules.delete({ path: { tenantId: "rul-u", ruleId: "external" } })
      expect((yield* client.rules.list({ path: { tenantId: "rul-u" } })).map((r) => r.id)).toEqual(["everyone"])
      expect((yield* errorOf(client.rules.delete({ path: { tenantId: "rul-u", ruleId: "external" } })))._tag).toBe("RuleNotFound")
      expect(
        (yield* errorOf(
          client.rules.replace({
            path: { tenantId: "rul-u", ruleId: "ghost" },
            payload: replace({ name: "G", templateId: "sig" })
          })
        ))._tag
      ).toBe("RuleNotFound")
    })
  )

  it.effect("order: a permutation reorders; otherwise 400 listing missing, unknown and repeated ids", () =>
    Effect.gen(function* () {
      yield* createContentTenant("rul-o", "198.51.100.64/28")
      const client = yield* operatorClient
      const path = { tenantId: "rul-o" }
      yield* client.rules.create({ path, payload: create({ id: "third", name: "Third", templateId: "sig" }) })
      const reordered = yield* client.rules.reorder({ path, payload: { ids: ["third", "everyone", "external"] } })
      expect(reordered.map((r) => r.id)).toEqual(["third", "everyone", "external"])
      expect((yield* client.rules.list({ path })).map((r) => r.id)).toEqual(["third", "everyone", "external"])

      const bad = yield* errorOf(client.rules.reorder({ path, payload: { ids: ["everyone", "everyone", "ghost"] } }))
      expect(bad._tag).toBe("RuleOrderInvalid")
      expect(field(bad, "missing")).toEqual(["third", "external"])
      expect(field(bad, "unknown")).toEqual(["ghost"])
      expect(field(bad, "duplicates")).toEqual(["everyone"])
      expect(field(bad, "message")).toContain("missing: third, external")
      expect(field(bad, "message")).toContain("unknown: ghost")
      expect((yield* client.rules.list({ path })).map((r) => r.id)).toEqual(["third", "everyone", "external"])
    })
  )

  it.effect("enable and disable change what the tenant's actor decides at once", () =>
    Effect.gen(function* () {
      yield* createContentTenant("rul-e", "198.51.100.80/28")
      const client = yield* operatorClient
      const actor = yield* (yield* TenantRegistry).actor("rul-e" as TenantId)
      const preview = actor.previewRules({ sender: "alice@rul-e.example", recipients: ["carol@customer.example"], subject: "" })
      expect((yield* preview).recipients[0].applied).toEqual(["external"])
      const off = yield* client.rules.disable({ path: { tenantId: "rul-e", ruleId: "external" } })
      expect(off.enabled).toBe(false)
      expect((yield* preview).recipients[0].applied).toEqual(["everyone"])
      const on = yield* client.rules.enable({ path: { tenantId: "rul-e", ruleId: "external" } })
      expect(on.enabled).toBe(true)
      expect((yield* preview).recipients[0].applied).toEqual(["external"])
      expect((yield* errorOf(client.rules.enable({ path: { tenantId: "rul-e", ruleId: "ghost" } })))._tag).toBe("RuleNotFound")
    })
  )

  it.effect("every change is audited", () =>
    Effect.gen(function* () {
      yield* createContentTenant("rul-au", "198.51.100.96/28")
      const client = yield* operatorClient
      const path = { tenantId: "rul-au" }
      yield* client.rules.create({ path, payload: create({ id: "new", name: "New", templateId: "sig", at: 0 }) })
      yield* client.rules.replace({ path: { ...path, ruleId: "new" }, payload: replace({ name: "New 2", templateId: "sig" }) })
      yield* client.rules.reorder({ path, payload: { ids: ["everyone", "external", "new"] } })
      yield* client.rules.disable({ path: { ...path, ruleId: "new" } })
      yield* client.rules.enable({ path: { ...path, ruleId: "new" } })
      yield* client.rules.delete({ path: { ...path, ruleId: "new" } })
      const entries = (yield* (yield* AuditRepo).list("rul-au", {})).entries.map((e) => [e.action, e.target, e.before, e.after])
      expect(entries).toContainEqual(["rule.create", "rule/new", undefined, "position 0"])
      expect(entries).toContainEqual(["rule.update", "rule/new", undefined, undefined])
      expect(entries).toContainEqual(["rule.reorder", "rules", "new,external,everyone", "everyone,external,new"])
      expect(entries).toContainEqual(["rule.disable", "rule/new", "true", "false"])
      expect(entries).toContainEqual(["rule.enable", "rule/new", "false", "true"])
      expect(entries).toContainEqual(["rule.delete", "rule/new", undefined, undefined])
    })
  )

  describe("isolation and roles", () => {
    it.effect("another tenant's rule id is 404; an auditor reads but cannot write; an editor can", () =>
      Effect.gen(function* () {
        yield* createContentTenant("rul-r1", "198.51.100.112/28")
        yield* createContentTenant("rul-r2", "198.51.100.128/28")
        const client = yield* operatorClient
        yield* client.rules.create({ path: { tenantId: "rul-r2" }, payload: create({ id: "only-r2", name: "R2", templateId: "sig" }) })
        expect((yield* errorOf(client.rules.get({ path: { tenantId: "rul-r1", ruleId: "only-r2" } })))._tag).toBe("RuleNotFound")
        expect((yield* errorOf(client.rules.disable({ path: { tenantId: "rul-r1", ruleId: "only-r2" } })))._tag).toBe("RuleNotFound")

        const auditor = yield* memberClient("rul-r1", "auditor")
        expect((yield* auditor.rules.list({ path: { tenantId: "rul-r1" } })).length).toBe(2)
        for (const write of [
          auditor.rules.disable({ path: { tenantId: "rul-r1", ruleId: "everyone" } }),
          auditor.rules.reorder({ path: { tenantId: "rul-r1" }, payload: { ids: ["everyone", "external"] } }),
          auditor.rules.delete({ path: { tenantId: "rul-r1", ruleId: "everyone" } })
        ])
          expect((yield* errorOf(write))._tag).toBe("Forbidden")

        const editor = yield* memberClient("rul-r1", "editor")
        const reordered = yield* editor.rules.reorder({ path: { tenantId: "rul-r1" }, payload: { ids: ["everyone", "external"] } })
        expect(reordered.map((r) => r.id)).toEqual(["everyone", "external"])
        const outsider = yield* memberClient("rul-r2", "admin")
        expect((yield* errorOf(outsider.rules.list({ path: { tenantId: "rul-r1" } })))._tag).toBe("TenantNotFound")
      })
    )
  })
})
