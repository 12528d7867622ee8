import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Metric, Option, TestClock } from "effect"
import { ACTOR_BASE_BYTES } from "../../src/actors/ActorMemory.js"
import { actorsStopped, connectorIndexUpdates, IDLE_LIMIT, TenantRegistry, WarmTenantLimits } from "../../src/actors/TenantRegistry.js"
import type { TenantId } from "../../src/domain/Tenant.js"
import type { TenantFileJson } from "../../src/domain/TenantFile.js"
import { TenantRepo } from "../../src/store/TenantRepo.js"
import { acmeFile } from "../store/TenantFixtures.js"
import { RegistryLayer } from "./ActorTestLayer.js"
import { tenantImport } from "../../src/actors/TenantImport.js"

const cidrTenant = (id: string, cidrs: Array<string>, extra: Partial<TenantFileJson> = {}) =>
  acmeFile({ id, connectors: [{ type: "cidr", cidrs }], directory: [], ...extra })

const some = (id: string) => Option.some(id as TenantId)

describe("TenantRegistry", () => {
  it.scoped("binds by AUTH credentials only with the right password", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const registry = yield* TenantRegistry
      yield* tenantImport(repo).importTenant(acmeFile())
      expect(yield* registry.bindByCredentials("acme-relay", "s3cret-relay-password")).toEqual(some("acme"))
      expect(yield* registry.bindByCredentials("acme-relay", "wrong")).toEqual(Option.none())
      expect(yield* registry.bindByCredentials("nobody", "s3cret-relay-password")).toEqual(Option.none())
    }).pipe(Effect.provide(RegistryLayer))
  )

  it.scoped("binds by certificate fingerprint in any case, with or without colons", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const registry = yield* TenantRegistry
      yield* tenantImport(repo).importTenant(acmeFile())
      expect(yield* registry.bindByCertificate("AB:".repeat(31) + "AB")).toEqual(some("acme"))
      expect(yield* registry.bindByCertificate("ab".repeat(32))).toEqual(some("acme"))
      expect(yield* registry.bindByCertificate("CD".repeat(32))).toEqual(Option.none())
      expect(yield* registry.bindByCertificate("not a fingerprint")).toEqual(Option.none())
    }).pipe(Effect.provide(RegistryLayer))
  )

  it.scoped("binds a source address to the tenant with the most specific range (IPv4, IPv6, IPv4-mapped)", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const registry = yield* TenantRegistry
      yield* tenantImport(repo).importTenant(cidrTenant("wide", ["10.0.0.0/8", "2001:db8::/32"]))
      yield* tenantImport(repo).importTenant(cidrTenant("narrow", ["10.1.0.0/16", "2001:db8:1::/48"]))
      yield* tenantImport(repo).importTenant(cidrTenant("host", ["10.1.2.3"]))
      expect(yield* registry.bindBySourceAddress("10.2.0.1")).toEqual(some("wide"))
      expect(yield* registry.bindBySourceAddress("10.1.9.9")).toEqual(some("narrow"))
      expect(yield* registry.bindBySourceAddress("10.1.2.3")).toEqual(some("host"))
      expect(yield* registry.bindBySourceAddress("::ffff:10.1.9.9")).toEqual(some("narrow"))
      expect(yield* registry.bindBySourceAddress("::FFFF:10.2.0.1")).toEqual(some("wide"))
      expect(yield* registry.bindBySourceAddress("2001:db8:2::1")).toEqual(some("wide"))
      expect(yield* registry.bindBySourceAddress("2001:0db8:0001:0000::5")).toEqual(some("narrow"))
      expect(yield* registry.bindBySourceAddress("192.168.1.1")).toEqual(Option.none())
      expect(yield* registry.bindBySourceAddress("2001:db9::1")).toEqual(Option.none())
      expect(yield* registry.bindBySourceAddress("garbage")).toEqual(Option.none())
    }).pipe(Effect.provide(RegistryLayer))
  )

  it.scoped("binds neither of two tenants claiming equally specific ranges", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const registry = yield* TenantRegistry
      yield* tenantImport(repo).importTenant(cidrTenant("left", ["10.1.0.0/16"]))
      yield* tenantImport(repo).importTenant(cidrTenant("right", ["10.1.0.0/16", "10.9.0.0/16"]))
      expect(yield* registry.bindBySourceAddress("10.1.2.3")).toEqual(Option.none())
      // a range only one of them claims still binds
      expect(yield* registry.bindBySourceAddress("10.9.0.1")).toEqual(some("right"))
    }).pipe(Effect.provide(RegistryLayer))
  )

  it.scoped("a suspended tenant binds nothing", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const registry = yield* TenantRegistry
      yield* tenantImport(repo).importTenant(acmeFile({ suspended: true }))
      expect(yield* registry.bindByCredentials("acme-relay", "s3cret-relay-password")).toEqual(Option.none())
      expect(yield* registry.bindByCertificate("ab".repeat(32))).toEqual(Option.none())
      expect(yield* registry.bindBySourceAddress("192.0.2.7")).toEqual(Option.none())
    }).pipe(Effect.provide(RegistryLayer))
  )

  it.scoped("a re-import changes bindings for the next connection, without a restart", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const registry = yield* TenantRegistry
      yield* tenantImport(repo).importTenant(cidrTenant("moving", ["198.51.100.0/24"]))
      expect(yield* registry.bindBySourceAddress("198.51.100.1")).toEqual(some("moving"))
      expect((yield* registry.relayState("moving" as TenantId)).name).toBe("Acme Corp")
      yield* tenantImport(repo).importTenant(cidrTenant("moving", ["203.0.113.0/24"], { name: "Moved" }))
      expect(yield* registry.bindBySourceAddress("198.51.100.1")).toEqual(Option.none())
      expect(yield* registry.bindBySourceAddress("203.0.113.1")).toEqual(some("moving"))
      expect((yield* registry.relayState("moving" as TenantId)).name).toBe("Moved")
    }).pipe(Effect.provide(RegistryLayer))
  )

  it.scoped("starts one actor per tenant under concurrent first calls and stops it when idle", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const registry = yield* TenantRegistry
      yield* tenantImport(repo).importTenant(acmeFile())
      const actors = yield* Effect.all(
        Array.from({ length: 20 }, () => registry.actor("acme" as TenantId)),
        { concurrency: "unbounded" }
      )
      expect(new Set(actors).size).toBe(1)
      expect(yield* registry.running).toEqual(["acme"])
      yield* TestClock.adjust(IDLE_LIMIT)
      yield* registry.sweepIdle
      expect(yield* registry.running).toEqual([])
      expect(actors[0].isStopped()).toBe(true)
      // the next request starts a fresh one
      const again = yield* registry.actor("acme" as TenantId)
      expect(again).not.toBe(actors[0])
      expect((yield* again.relayState).id).toBe("acme")
    }).pipe(Effect.provide(RegistryLayer))
  )

  it.scoped("keeps a recently used actor and forgets a tenant that does not exist", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const registry = yield* TenantRegistry
      yield* tenantImport(repo).importTenant(acmeFile())
      yield* registry.actor("acme" as TenantId)
      const missing = yield* Effect.flip(registry.actor("ghost" as TenantId))
      expect(missing._tag).toBe("TenantNotFound")
      yield* registry.sweepIdle
      expect(yield* registry.running).toEqual(["acme"])
    }).pipe(Effect.provide(RegistryLayer))
  )
})

describe("TenantRegistry connector index (issue 21 item 4)", () => {
  const rebuilds = Effect.map(Metric.value(connectorIndexUpdates.rebuild), (s) => s.count)
  const patches = Effect.map(Metric.value(connectorIndexUpdates.patch), (s) => s.count)

  it.scoped("follows imports, updates, suspension and removal tenant by tenant, without reading every tenant again", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const registry = yield* TenantRegistry
      const rebuildsBefore = yield* rebuilds
      const patchesBefore = yield* patches
      yield* tenantImport(repo).importTenant(cidrTenant("one", ["10.1.0.0/16"]))
      expect(yield* registry.bindBySourceAddress("10.1.0.9")).toEqual(some("one"))
      yield* tenantImport(repo).importBatch(
        [
          { source: "a", input: cidrTenant("two", ["10.2.0.0/16"]) },
          { source: "b", input: cidrTenant("three", ["10.3.0.0/16"]) }
        ],
        "all-or-nothing"
      )
      expect(yield* registry.bindBySourceAddress("10.2.0.9")).toEqual(some("two"))
      expect(yield* registry.bindBySourceAddress("10.3.0.9")).toEqual(some("three"))
      // an update moves the range; the old one binds nobody
      yield* tenantImport(repo).importTenant(cidrTenant("one", ["10.9.0.0/16"]))
      expect(yield* registry.bindBySourceAddress("10.1.0.9")).toEqual(Option.none())
      expect(yield* registry.bindBySourceAddress("10.9.0.9")).toEqual(some("one"))
      yield* tenantImport(repo).importTenant(cidrTenant("two", ["10.2.0.0/16"], { suspended: true }))
      expect(yield* registry.bindBySourceAddress("10.2.0.9")).toEqual(Option.none())
      yield* repo.removeTenant("three" as TenantId)
      expect(yield* registry.bindBySourceAddress("10.3.0.9")).toEqual(Option.none())
      expect(yield* registry.bindBySourceAddress("10.9.0.9")).toEqual(some("one"))
      expect((yield* rebuilds) - rebuildsBefore).toBe(0)
      expect((yield* patches) - patchesBefore).toBeGreaterThanOrEqual(5)
    }).pipe(Effect.provide(RegistryLayer))
  )

  // the index once kept its old revision after a patch: every lookup patched (re-read) every tenant written since the start
  it.scoped("an index patched to the store's revision reads no tenant again on later lookups", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const registry = yield* TenantRegistry
      yield* tenantImport(repo).importBatch(
        [
          { source: "a", input: cidrTenant("four", ["10.4.0.0/16"]) },
          { source: "b", input: cidrTenant("five", ["10.5.0.0/16"]) }
        ],
        "all-or-nothing"
      )
      expect(yield* registry.bindBySourceAddress("10.4.0.9")).toEqual(some("four"))
      const patchesBefore = yield* patches
      for (let i = 0; i < 3; i++) expect(yield* registry.bindBySourceAddress("10.5.0.9")).toEqual(some("five"))
      expect((yield* patches) - patchesBefore).toBe(0)
    }).pipe(Effect.provide(RegistryLayer))
  )
})

describe("TenantRegistry warm budget (issue 21 item 5)", () => {
  const withLimits = (limits: Partial<{ maxWarm: number; memoryBudgetBytes: number; idleStop: Duration.Duration }>) =>
    Effect.provide(RegistryLayer.pipe(Layer.provide(Layer.succeed(WarmTenantLimits, { maxWarm: 0, memoryBudgetBytes: 0, idleStop: IDLE_LIMIT, ...limits }))))
  const budgetStops = Effect.map(Metric.value(actorsStopped.budget), (s) => s.count)
  const importThree = Effect.flatMap(TenantRepo, (repo) =>
    tenantImport(repo).importBatch(
      ["a", "b", "c"].map((id, i) => ({
        source: id,
        input: cidrTenant(id, [`10.${i}.0.0/16`], { name: `Tenant ${id}` })
      })),
      "all-or-nothing"
    )
  )
  /** uses each tenant in turn, a second apart, so their last use orders them */
  const warmUp = (ids: ReadonlyArray<string>) =>
    Effect.forEach(ids, (id) => Effect.flatMap(TenantRegistry, (r) => r.relayState(id as TenantId)).pipe(Effect.zipLeft(TestClock.adjust("1 second"))), {
      discard: true
    })
  const running = Effect.flatMap(TenantRegistry, (r) => r.running).pipe(Effect.map((ids) => [...ids].sort()))

  it.scoped("with a budget of 2 actors, warming a third stops the least recently used; that tenant still answers (cold start)", () =>
    Effect.gen(function* () {
      const registry = yield* TenantRegistry
      yield* importThree
      const before = yield* budgetStops
      yield* warmUp(["a", "b"])
      const first = yield* registry.actor("a" as TenantId)
      yield* TestClock.adjust("1 second")
      yield* warmUp(["c"])
      // b was used least recently: a was touched again after it
      expect(yield* running).toEqual(["a", "c"])
      expect((yield* budgetStops) - before).toBe(1)
      // the stopped tenant is served again, from a fresh actor; now a (used before c) is the least recently used
      expect(first.isStopped()).toBe(false)
      expect((yield* registry.relayState("b" as TenantId)).name).toBe("Tenant b")
      expect(yield* running).toEqual(["b", "c"])
      expect(first.isStopped()).toBe(true)
      expect((yield* budgetStops) - before).toBe(2)
    }).pipe(withLimits({ maxWarm: 2 }))
  )

  it.scoped("a memory budget stops the least recently used once the warm actors' estimate passes it", () =>
    Effect.gen(function* () {
      const registry = yield* TenantRegistry
      yield* importThree
      yield* warmUp(["a"])
      const one = yield* registry.warmEstimatedBytes
      expect(one).toBeGreaterThanOrEqual(ACTOR_BASE_BYTES)
      expect(one).toBeLessThan(ACTOR_BASE_BYTES * 1.2)
      yield* warmUp(["b", "c"])
      // room for two such actors, not three
      expect(yield* running).toEqual(["b", "c"])
      expect(yield* registry.warmEstimatedBytes).toBeLessThanOrEqual(ACTOR_BASE_BYTES * 2.5)
    }).pipe(withLimits({ memoryBudgetBytes: ACTOR_BASE_BYTES * 2.5 }))
  )

  it.scoped("the idle stop is configurable", () =>
    Effect.gen(function* () {
      const registry = yield* TenantRegistry
      yield* importThree
      yield* warmUp(["a"])
      yield* TestClock.adjust("28 seconds")
      yield* registry.sweepIdle
      expect(yield* running).toEqual(["a"])
      yield* TestClock.adjust("1 second")
      yield* registry.sweepIdle
      expect(yield* running).toEqual([])
    }).pipe(withLimits({ idleStop: Duration.seconds(30) }))
  )
})
