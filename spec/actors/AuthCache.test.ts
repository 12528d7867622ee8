import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric, Option, TestClock } from "effect"
import { AUTH_CACHE_TTL_MS, authVerificationBy } from "../../src/actors/AuthCache.js"
import { TenantRegistry } from "../../src/actors/TenantRegistry.js"
import type { TenantId } from "../../src/domain/Tenant.js"
import { TenantRepo } from "../../src/store/TenantRepo.js"
import { acmeFile } from "../store/TenantFixtures.js"
import { RegistryLayer } from "./ActorTestLayer.js"
import { tenantImport } from "../../src/actors/TenantImport.js"

/**
 * Issue 21.3: successful AUTH verifications are cached (keyed hash of
 * username and password, short TTL); the cache never outlives the credential.
 * How each check was answered is counted in imprint_smtp_auth_verifications_total.
 */

const withPassword = (password: string, extra = {}) => acmeFile({ connectors: [{ type: "auth", username: "acme-relay", password }], directory: [], ...extra })

/** the counters' growth while `effect` runs */
const counted = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const before = [(yield* Metric.value(authVerificationBy.scrypt)).count, (yield* Metric.value(authVerificationBy.cached)).count]
    const result = yield* effect
    const after = [(yield* Metric.value(authVerificationBy.scrypt)).count, (yield* Metric.value(authVerificationBy.cached)).count]
    return { result, scrypt: after[0] - before[0], cached: after[1] - before[1] }
  })

const acme = Option.some("acme" as TenantId)

describe("AUTH verification cache", () => {
  it.scoped("a success is answered from the cache until its TTL ends; failures always cost scrypt", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const registry = yield* TenantRegistry
      yield* tenantImport(repo).importTenant(withPassword("first-Password-1"))
      const bind = (password: string) => counted(registry.bindByCredentials("acme-relay", password))
      expect(yield* bind("first-Password-1")).toEqual({ result: acme, scrypt: 1, cached: 0 })
      expect(yield* bind("first-Password-1")).toEqual({ result: acme, scrypt: 0, cached: 1 })
      expect(yield* bind("wrong")).toEqual({ result: Option.none(), scrypt: 1, cached: 0 })
      expect(yield* bind("wrong")).toEqual({ result: Option.none(), scrypt: 1, cached: 0 })
      expect((yield* counted(registry.bindByCredentials("someone-else", "first-Password-1"))).scrypt).toBe(1)
      yield* TestClock.adjust(AUTH_CACHE_TTL_MS)
      expect(yield* bind("first-Password-1")).toEqual({ result: acme, scrypt: 1, cached: 0 })
    }).pipe(Effect.provide(RegistryLayer))
  )

  it.scoped("after a password change the old password fails at once, and the new one binds", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const registry = yield* TenantRegistry
      yield* tenantImport(repo).importTenant(withPassword("first-Password-1"))
      expect(yield* registry.bindByCredentials("acme-relay", "first-Password-1")).toEqual(acme)
      expect((yield* counted(registry.bindByCredentials("acme-relay", "first-Password-1"))).cached).toBe(1)
      yield* tenantImport(repo).importTenant(withPassword("second-Password-2"))
      expect(yield* counted(registry.bindByCredentials("acme-relay", "first-Password-1"))).toEqual({ result: Option.none(), scrypt: 1, cached: 0 })
      expect(yield* registry.bindByCredentials("acme-relay", "second-Password-2")).toEqual(acme)
    }).pipe(Effect.provide(RegistryLayer))
  )

  it.scoped("suspending the tenant ends its cached logins at once", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const registry = yield* TenantRegistry
      yield* tenantImport(repo).importTenant(withPassword("first-Password-1"))
      expect(yield* registry.bindByCredentials("acme-relay", "first-Password-1")).toEqual(acme)
      yield* tenantImport(repo).importTenant(withPassword("first-Password-1", { suspended: true }))
      expect(yield* registry.bindByCredentials("acme-relay", "first-Password-1")).toEqual(Option.none())
    }).pipe(Effect.provide(RegistryLayer))
  )
})
