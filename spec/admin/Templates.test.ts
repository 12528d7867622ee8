import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { TenantRegistry } from "../../src/actors/TenantRegistry.js"
import type { TenantId } from "../../src/domain/Tenant.js"
import { AuditRepo } from "../../src/store/AuditRepo.js"
import { MAX_TEMPLATE_VERSIONS } from "../../src/store/ContentRepo.js"
import { adminTestLayer, operatorClient, operatorHeaders, rawRequest } from "./AdminHarness.js"
import { createContentTenant, memberClient } from "./ContentHarness.js"

const tid = (s: string) => s as TenantId
const errorOf = <A, E>(effect: Effect.Effect<A, E>) => Effect.flip(effect)
const field = (e: unknown, key: string) => (e as Record<string, unknown>)[key]

layer(adminTestLayer())("admin API: templates", (it) => {
  it.effect("list and get answer the tenant's templates; create answers 201 with version 1", () =>
    Effect.gen(function* () {
      yield* createContentTenant("tpl-a", "192.0.2.0/28")
      const client = yield* operatorClient
      const list = yield* client.templates.list({ path: { tenantId: "tpl-a" } })
      expect(list.map((t) => t.id)).toEqual(["disc", "sig"])
      const sig = yield* client.templates.get({ path: { tenantId: "tpl-a", templateId: "sig" } })
      expect(sig.html).toBe("<p>{{displayName}} | {{title}}</p>")
      expect(sig.text).toBe("{{displayName}} | {{title}}")

      const saved = yield* client.templates.create({ path: { tenantId: "tpl-a" }, payload: { id: "banner", name: "Banner", html: "<b>Hi {{givenName}}</b>" } })
      expect(saved.template).toMatchObject({ id: "banner", version: 1 })
      expect(saved.removed).toEqual([])
      expect(saved.previousVersion).toBeUndefined()

      const dup = yield* errorOf(client.templates.create({ path: { tenantId: "tpl-a" }, payload: { id: "banner", name: "Again", html: "<b>x</b>" } }))
      expect(dup._tag).toBe("TemplateAlreadyExists")
      expect(field(dup, "message")).toContain("PUT or PATCH /tenants/tpl-a/templates/banner")
    })
  )

  it.effect("saving sanitizes and answers what was removed; the stored HTML is the clean one", () =>
    Effect.gen(function* () {
      yield* createContentTenant("tpl-s", "192.0.2.16/28")
      const client = yield* operatorClient
      const saved = yield* client.templates.create({
        path: { tenantId: "tpl-s" },
        payload: { id: "dirty", name: "Dirty", html: `<p onclick="steal()">{{displayName}}</p><script>alert(1)</script><a href="javascript:x()">x</a>` }
      })
      const names = saved.removed.map((r) => `${r.kind}:${r.name}`)
      expect(names).toContain("element:script")
      expect(names).toContain("attribute:onclick")
      expect(saved.removed.some((r) => r.kind === "url" || r.name === "href")).toBe(true)
      const stored = yield* client.templates.get({ path: { tenantId: "tpl-s", templateId: "dirty" } })
      expect(stored.html).not.toContain("script")
      expect(stored.html).not.toContain("onclick")
      expect(stored.html).not.toContain("javascript:")
      expect(stored.html).toContain("{{displayName}}")
    })
  )

  it.effect("a template that does not compile is 400 naming the part and the problem, and nothing is written", () =>
    Effect.gen(function* () {
      yield* createContentTenant("tpl-i", "192.0.2.32/28")
      const client = yield* operatorClient
      const html = yield* errorOf(client.templates.create({ path: { tenantId: "tpl-i" }, payload: { id: "bad", name: "Bad", html: "<p>{{bogus}}</p>" } }))
      expect(html._tag).toBe("TemplateInvalid")
      expect(field(html, "part")).toBe("html")
      expect(field(html, "message")).toContain("{{bogus}}")
      const text = yield* errorOf(
        client.templates.replace({
          path: { tenantId: "tpl-i", templateId: "sig" },
          payload: { name: "Sig", html: "<p>{{displayName}}</p>", text: "{{#title}}unclosed" }
        })
      )
      expect(text._tag).toBe("TemplateInvalid")
      expect(field(text, "part")).toBe("text")
      expect(yield* errorOf(client.templates.get({ path: { tenantId: "tpl-i", templateId: "bad" } }))).toMatchObject({ _tag: "TemplateNotFound" })
      expect((yield* client.templates.get({ path: { tenantId: "tpl-i", templateId: "sig" } })).version).toBe(1)
    })
  )

  it.effect("PUT and PATCH bump the version and keep every version; restore saves an old one as the newest", () =>
    Effect.gen(function* () {
      yield* createContentTenant("tpl-v", "192.0.2.48/28")
      const client = yield* operatorClient
      const path = { tenantId: "tpl-v", templateId: "sig" }
      const put = yield* client.templates.replace({ path, payload: { name: "Signature 2", html: "<p>{{displayName}} v2</p>" } })
      expect(put.template).toMatchObject({ version: 2, name: "Signature 2", html: "<p>{{displayName}} v2</p>" })
      expect(put.template.text).toBeUndefined()
      expect(put.previousVersion).toBe(1)
      const patch = yield* client.templates.update({ path, payload: { text: "{{displayName}} (text v3)" } })
      expect(patch.template).toMatchObject({ version: 3, name: "Signature 2", html: "<p>{{displayName}} v2</p>", text: "{{displayName}} (text v3)" })
      const dropText = yield* client.templates.update({ path, payload: { text: null } })
      expect(dropText.template.version).toBe(4)
      expect(dropText.template.text).toBeUndefined()

      const versions = yield* client.templates.versions({ path })
      // version 1 came from the tenant import: kept by the first save, without a time
      expect(versions.map((v) => v.version)).toEqual([1, 2, 3, 4])
      expect(versions[0].savedBy).toContain("tenant import")
      expect(versions[0].savedAt).toBeUndefined()
      expect(versions[0].template.html).toBe("<p>{{displayName}} | {{title}}</p>")
      expect(versions[1].savedBy).toMatch(/^operator:/)
      expect(Number.isNaN(Date.parse(versions[1].savedAt ?? ""))).toBe(false)
      const v2 = yield* client.templates.version({ path: { ...path, version: 2 } })
      expect(v2.template.html).toBe("<p>{{displayName}} v2</p>")

      const restored = yield* client.templates.restore({ path: { ...path, version: 3 } })
      expect(restored.template).toMatchObject({ version: 5, text: "{{displayName}} (text v3)" })
      expect(restored.previousVersion).toBe(4)
      const latest = (yield* client.templates.versions({ path })).at(-1)!
      expect(latest).toMatchObject({ version: 5, restoredFrom: 3 })

      const missing = yield* errorOf(client.templates.version({ path: { ...path, version: 99 } }))
      expect(missing._tag).toBe("TemplateVersionNotFound")
      expect(field(missing, "message")).toContain("no saved version 99")
      expect((yield* errorOf(client.templates.restore({ path: { ...path, version: 99 } })))._tag).toBe("TemplateVersionNotFound")
    })
  )

  it.effect(`history keeps the newest ${MAX_TEMPLATE_VERSIONS} versions`, () =>
    Effect.gen(function* () {
      yield* createContentTenant("tpl-h", "192.0.2.64/28")
      const client = yield* operatorClient
      const path = { tenantId: "tpl-h", templateId: "disc" }
      for (let i = 0; i < MAX_TEMPLATE_VERSIONS + 2; i++) yield* client.templates.update({ path, payload: { name: `Disclaimer ${i}` } })
      const versions = (yield* client.templates.versions({ path })).map((v) => v.version)
      expect(versions.length).toBe(MAX_TEMPLATE_VERSIONS)
      expect(versions.at(-1)).toBe(MAX_TEMPLATE_VERSIONS + 3)
      expect(versions[0]).toBe(4)
    })
  )

  it.effect("DELETE of a template a rule uses is 409 naming the rules; unused, it is removed with its history", () =>
    Effect.gen(function* () {
      yield* createContentTenant("tpl-d", "192.0.2.80/28")
      const client = yield* operatorClient
      const path = { tenantId: "tpl-d", templateId: "disc" }
      const inUse = yield* errorOf(client.templates.delete({ path }))
      expect(inUse._tag).toBe("TemplateInUse")
      expect(field(inUse, "ruleIds")).toEqual(["external"])
      expect(field(inUse, "message")).toContain(`"external"`)

      yield* client.templates.update({ path, payload: { name: "Disclaimer 2" } })
      yield* client.rules.delete({ path: { tenantId: "tpl-d", ruleId: "external" } })
      yield* client.templates.delete({ path })
      expect((yield* errorOf(client.templates.get({ path })))._tag).toBe("TemplateNotFound")
      expect((yield* errorOf(client.templates.versions({ path })))._tag).toBe("TemplateNotFound")
      expect((yield* errorOf(client.templates.delete({ path })))._tag).toBe("TemplateNotFound")
    })
  )

  it.effect("render: the template filled from one directory user (by mail or proxy address); an unknown user is 404 naming them", () =>
    Effect.gen(function* () {
      yield* createContentTenant("tpl-r", "192.0.2.96/28")
      const client = yield* operatorClient
      const path = { tenantId: "tpl-r", templateId: "sig" }
      const alice = yield* client.templates.render({ path, payload: { mail: "alice@tpl-r.example" } })
      expect(alice).toMatchObject({ templateId: "sig", version: 1, mail: "alice@tpl-r.example" })
      expect(alice.html).toBe("<p>Alice Example | Engineer</p>")
      expect(alice.text).toBe("Alice Example | Engineer")
      const byAlias = yield* client.templates.render({ path, payload: { mail: "AL@tpl-r.example" } })
      expect(byAlias.mail).toBe("alice@tpl-r.example")
      const nobody = yield* errorOf(client.templates.render({ path, payload: { mail: "carol@tpl-r.example" } }))
      expect(nobody._tag).toBe("DirectoryUserNotFound")
      expect(field(nobody, "message")).toContain("carol@tpl-r.example")
    })
  )

  it.effect("the tenant's actor uses a saved template at once (no restart, no re-import)", () =>
    Effect.gen(function* () {
      yield* createContentTenant("tpl-live", "192.0.2.112/28")
      const client = yield* operatorClient
      const registry = yield* TenantRegistry
      const actor = yield* registry.actor(tid("tpl-live"))
      const before = yield* actor.previewRules({ sender: "alice@tpl-live.example", recipients: ["bob@tpl-live.example"], subject: "" })
      expect(JSON.stringify(before.decision)).toContain("Alice Example | Engineer")
      yield* client.templates.replace({ path: { tenantId: "tpl-live", templateId: "sig" }, payload: { name: "Sig", html: "<p>New: {{displayName}}</p>" } })
      const after = yield* actor.previewRules({ sender: "alice@tpl-live.example", recipients: ["bob@tpl-live.example"], subject: "" })
      expect(JSON.stringify(after.decision)).toContain("New: Alice Example")
    })
  )

  it.effect("every change is audited with the versions before and after", () =>
    Effect.gen(function* () {
      yield* createContentTenant("tpl-au", "192.0.2.128/28")
      const client = yield* operatorClient
      const path = { tenantId: "tpl-au", templateId: "sig" }
      yield* client.templates.create({ path: { tenantId: "tpl-au" }, payload: { id: "extra", name: "Extra", html: "<p>x</p>" } })
      yield* client.templates.update({ path, payload: { name: "Signature 2" } })
      yield* client.templates.restore({ path: { ...path, version: 2 } })
      yield* client.templates.delete({ path: { tenantId: "tpl-au", templateId: "extra" } })
      const audit = yield* AuditRepo
      const page = yield* audit.list("tpl-au", {})
      const entries = page.entries.map((e) => [e.action, e.target, e.before, e.after])
      expect(entries).toContainEqual(["template.create", "template/extra", undefined, "1"])
      expect(entries).toContainEqual(["template.update", "template/sig", "1", "2"])
      expect(entries).toContainEqual(["template.restore", "template/sig", "2", "3"])
      expect(entries).toContainEqual(["template.delete", "template/extra", "1", undefined])
      expect(page.entries.every((e) => e.actor.startsWith("operator:"))).toBe(true)
    })
  )

  describe("isolation and roles", () => {
    it.effect("another tenant's template id is 404; an unknown tenant is 404", () =>
      Effect.gen(function* () {
        yield* createContentTenant("tpl-x1", "192.0.2.144/28")
        yield* createContentTenant("tpl-x2", "192.0.2.160/28")
        const client = yield* operatorClient
        yield* client.templates.create({ path: { tenantId: "tpl-x2" }, payload: { id: "only-x2", name: "X2", html: "<p>x2</p>" } })
        const other = yield* errorOf(client.templates.get({ path: { tenantId: "tpl-x1", templateId: "only-x2" } }))
        expect(other._tag).toBe("TemplateNotFound")
        expect((yield* errorOf(client.templates.update({ path: { tenantId: "tpl-x1", templateId: "only-x2" }, payload: { name: "hijack" } })))._tag).toBe(
          "TemplateNotFound"
        )
        expect((yield* errorOf(client.templates.list({ path: { tenantId: "no-such-tenant" } })))._tag).toBe("TenantNotFound")
        // a path id that is not even a tenant id
        const headers = yield* operatorHeaders
        expect((yield* rawRequest("GET", "/tenants/%2E%2E/templates", { headers })).status).toBe(404)
      })
    )

    it.effect("an auditor reads but cannot write or render; an editor writes; a member of another tenant gets 404", () =>
      Effect.gen(function* () {
        yield* createContentTenant("tpl-role", "192.0.2.176/28")
        yield* createContentTenant("tpl-role2", "192.0.2.192/28")
        const path = { tenantId: "tpl-role", templateId: "sig" }
        const auditor = yield* memberClient("tpl-role", "auditor")
        expect((yield* auditor.templates.list({ path: { tenantId: "tpl-role" } })).length).toBe(2)
        expect((yield* auditor.templates.versions({ path })).length).toBe(0)
        const denied = yield* errorOf(auditor.templates.update({ path, payload: { name: "no" } }))
        expect(denied._tag).toBe("Forbidden")
        expect(field(denied, "message")).toContain("auditor")
        expect((yield* errorOf(auditor.templates.delete({ path: { tenantId: "tpl-role", templateId: "disc" } })))._tag).toBe("Forbidden")
        expect((yield* errorOf(auditor.templates.render({ path, payload: { mail: "alice@tpl-role.example" } })))._tag).toBe("Forbidden")

        const editor = yield* memberClient("tpl-role", "editor")
        const saved = yield* editor.templates.update({ path, payload: { name: "By the editor" } })
        expect(saved.template.version).toBe(2)
        expect((yield* editor.templates.versions({ path })).at(-1)!.savedBy).toBe("api-token:spec editor")

        const outsider = yield* memberClient("tpl-role2", "owner")
        expect((yield* errorOf(outsider.templates.get({ path })))._tag).toBe("TenantNotFound")
        expect((yield* errorOf(outsider.templates.update({ path, payload: { name: "no" } })))._tag).toBe("TenantNotFound")
      })
    )
  })
})
