import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { DirectoryUser } from "../../src/domain/Directory.js"
import { Template } from "../../src/domain/Template.js"
import { Db, templateKey, userKey } from "../../src/store/Keys.js"
import { Store } from "../../src/store/Store.js"
import { ControlPlaneLive, TENANT_UNAVAILABLE } from "../../src/actors/ControlPlaneLive.js"
import { TenantRegistry } from "../../src/actors/TenantRegistry.js"
import type { TenantId } from "../../src/domain/Tenant.js"
import { ControlPlane } from "../../src/domain/ControlPlane.js"
import { TenantRepo } from "../../src/store/TenantRepo.js"
import { RegistryLayer } from "./ActorTestLayer.js"
import { element, envelope, header, signatureFile } from "./SignatureFixtures.js"
import { tenantImport } from "../../src/actors/TenantImport.js"

const TestLayer = ControlPlaneLive.pipe(Layer.provideMerge(RegistryLayer))

describe("ControlPlaneLive.resolveSignature", () => {
  it.scoped("asks the tenant's actor", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const controlPlane = yield* ControlPlane
      yield* tenantImport(repo).importTenant(signatureFile())
      const d = yield* controlPlane.resolveSignature("acme" as TenantId, envelope("alice@acme.example"), header())
      expect(element(d, "sig").text).toBe("Alice")
    }).pipe(Effect.provide(TestLayer))
  )

  it.scoped("answers NoSignature(tenant-unavailable) for an unknown tenant, and for a removed one", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const registry = yield* TenantRegistry
      const controlPlane = yield* ControlPlane
      expect(yield* controlPlane.resolveSignature("nobody" as TenantId, envelope("alice@acme.example"), header())).toMatchObject({
        _tag: "NoSignature",
        reason: TENANT_UNAVAILABLE
      })
      yield* tenantImport(repo).importTenant(signatureFile())
      yield* registry.actor("acme" as TenantId)
      yield* repo.removeTenant("acme" as TenantId)
      expect(yield* controlPlane.resolveSignature("acme" as TenantId, envelope("alice@acme.example"), header())).toMatchObject({
        _tag: "NoSignature",
        reason: TENANT_UNAVAILABLE
      })
    }).pipe(Effect.provide(TestLayer))
  )
})

/**
 * The mail path reads a running actor's published snapshot with a plain call
 * (relayState at MAIL, resolveSignature at DATA); a write to the store from
 * anywhere (the admin API, an import, another node's applier, another
 * process) must still reach the next message, before the change feed's reload.
 */
describe("ControlPlaneLive: the next message sees a change written to the store", () => {
  const acme = "acme" as TenantId

  it.scoped("relayState: a tenant suspended by an import is refused at the next MAIL", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const controlPlane = yield* ControlPlane
      yield* tenantImport(repo).importTenant(signatureFile())
      // twice: the second answer comes from the running actor's published snapshot
      expect(Option.isSome(yield* controlPlane.relayState(acme))).toBe(true)
      expect(Option.isSome(yield* controlPlane.relayState(acme))).toBe(true)
      yield* tenantImport(repo).importTenant(signatureFile({ suspended: true }))
      expect(Option.isNone(yield* controlPlane.relayState(acme))).toBe(true)
      yield* tenantImport(repo).importTenant(signatureFile())
      expect(Option.isSome(yield* controlPlane.relayState(acme))).toBe(true)
    }).pipe(Effect.provide(TestLayer))
  )

  it.scoped("resolveSignature: a directory entry and a template written to the store apply to the next message", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const store = yield* Store
      const controlPlane = yield* ControlPlane
      yield* tenantImport(repo).importTenant(signatureFile())
      const sig = () => Effect.map(controlPlane.resolveSignature(acme, envelope("alice@acme.example"), header()), (d) => element(d, "sig").text)
      expect(yield* sig()).toBe("Alice")
      expect(yield* sig()).toBe("Alice")
      yield* store.put(Db.users, DirectoryUser, userKey(acme, "alice@acme.example"), new DirectoryUser({ mail: "alice@acme.example", displayName: "Alice B" }))
      expect(yield* sig()).toBe("Alice B")
      const template = new Template({ id: "sig", name: "Signature", html: "<p>{{displayName}} (new)</p>", version: 2 })
      yield* store.put(Db.templates, Template, templateKey(acme, "sig"), template)
      expect(yield* sig()).toBe("Alice B (new)")
    }).pipe(Effect.provide(TestLayer))
  )
})
