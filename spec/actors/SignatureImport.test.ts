import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as TenantActor from "../../src/actors/TenantActor.js"
import type { TenantId } from "../../src/domain/Tenant.js"
import { DEMO_SENDER, DEMO_TENANT_ID, demoTenantFile } from "../../src/demo/DemoTenant.js"
import { MARKER_ATTRIBUTE } from "../../src/signature/SignatureResolver.js"
import { TenantRepo } from "../../src/store/TenantRepo.js"
import { RepoLayer } from "./ActorTestLayer.js"
import { asStamp, element, envelope, header, signatureFile } from "./SignatureFixtures.js"
import { tenantImport } from "../../src/actors/TenantImport.js"

const acme = "acme" as TenantId

describe("tenant import: signature content", () => {
  it.scoped("stores templates sanitized and reports what was removed", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const file = signatureFile()
      const summary = yield* tenantImport(repo).importTenant({
        ...file,
        templates: file.templates!.map((t) =>
          t.id === "sig" ? { ...t, html: '<p onclick="steal()">{{displayName}}</p><script>fetch("https://evil.example")</script>' } : t
        )
      })
      expect(summary.removed).toEqual([
        {
          templateId: "sig",
          removed: [expect.objectContaining({ kind: "attribute", name: "onclick" }), expect.objectContaining({ kind: "element", name: "script" })]
        }
      ])
      const stored = (yield* repo.templates(acme)).find((t) => t.id === "sig")!
      expect(stored.html).toBe("<p>{{displayName}}</p>")
      const d = yield* (yield* TenantActor.make(acme)).resolveSignature(envelope("alice@acme.example"), header())
      expect(element(d, "sig").html).toBe(`<div ${MARKER_ATTRIBUTE}="sig"><p>Alice</p></div>`)
    }).pipe(Effect.provide(RepoLayer))
  )

  it.scoped("refuses a template that does not compile, naming it, and writes nothing", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const file = signatureFile()
      const error = yield* Effect.flip(
        tenantImport(repo).importTenant({
          ...file,
          templates: file.templates!.map((t) => (t.id === "disc" ? { ...t, html: "<script>{{mail}}</script><p>{{constructor}}</p>" } : t))
        })
      )
      expect(error._tag).toBe("TenantFileInvalid")
      expect(error.message).toContain('templates[1] "disc": html does not compile: unknown placeholder {{constructor}}')
      expect(yield* repo.getTenant(acme)).toEqual(Option.none())
    }).pipe(Effect.provide(RepoLayer))
  )

  it.scoped("refuses broken rules, one line per problem naming the rule, and keeps the stored tenant", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      yield* tenantImport(repo).importTenant(signatureFile())
      const file = signatureFile()
      const error = yield* Effect.flip(
        tenantImport(repo).importTenant({
          ...file,
          name: "Must not be written",
          rules: [
            ...file.rules!,
            { id: "winter", name: "Winter", templateId: "banner", conditions: { dateWindow: { start: "2026-12-31", end: "2026-12-01" } } },
            { id: "vip", name: "VIP", templateId: "sig", conditions: { attributes: [{ name: "costCentre", op: "equals", value: "1" }] } }
          ]
        })
      )
      expect(error._tag).toBe("TenantFileInvalid")
      expect(error.message.split("\n")).toEqual([
        'rules[3] "winter": conditions.dateWindow: the end (2026-12-01) is not after the start (2026-12-31)',
        'rules[4] "vip": conditions.attributes[0].name: "costCentre" is not a directory attribute (displayName, title, …) or custom.<name>'
      ])
      expect(Option.map(yield* repo.getTenant(acme), (t) => t.name)).toEqual(Option.some("Acme Corp"))
    }).pipe(Effect.provide(RepoLayer))
  )

  it.scoped("the demo tenant stamps its demo sender", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const summary = yield* tenantImport(repo).importTenant(demoTenantFile())
      expect(summary.removed).toEqual([])
      expect(summary.users).toBeGreaterThan(0)
      const actor = yield* TenantActor.make(DEMO_TENANT_ID as TenantId)
      const d = asStamp(yield* actor.resolveSignature(envelope(DEMO_SENDER, ["someone@example.org"]), header()))
      expect(d.groups[0]!.elements.map((e) => e.ruleId)).toContain("everyone")
      expect(element(d, "everyone").text).toContain("Alice Martin")
    }).pipe(Effect.provide(RepoLayer))
  )
})
