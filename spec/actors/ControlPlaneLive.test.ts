import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
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
