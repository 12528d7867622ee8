import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option, Schedule, Schema, TestClock } from "effect"
import * as TenantActor from "../../src/actors/TenantActor.js"
import type { TenantId } from "../../src/domain/Tenant.js"
import { Db, userKey } from "../../src/store/Keys.js"
import { Store } from "../../src/store/Store.js"
import { TenantRepo } from "../../src/store/TenantRepo.js"
import { acmeFile } from "../store/TenantFixtures.js"
// the store may be armed to die on its next write (injectDefect); otherwise it is the real one
import { FaultyRepoLayer as RepoLayer, injectDefect } from "./ActorTestLayer.js"
import { tenantImport } from "../../src/actors/TenantImport.js"

const acme = "acme" as TenantId

/** Lets every ready fiber run; nothing here waits on real time. */
const settle = Effect.repeatN(Effect.yieldNow(), 50)

describe("TenantActor", () => {
  it.scoped("answers relay state and directory lookups by mail and alias, case-insensitively", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      yield* tenantImport(repo).importTenant(acmeFile())
      const actor = yield* TenantActor.make(acme)
      const tenant = yield* actor.relayState
      expect(tenant.name).toBe("Acme Corp")
      expect(tenant.downstream?.port).toBe(2525)
      const byMail = yield* actor.lookupUser("ALICE@acme.example")
      expect(Option.map(byMail, (u) => u.displayName)).toEqual(Option.some("Alice"))
      const byAlias = yield* actor.lookupUser("ally@acme-mail.EXAMPLE")
      expect(Option.map(byAlias, (u) => u.mail)).toEqual(Option.some("Alice@acme.example"))
      // X500 and other non-smtp proxy addresses are not mail addresses
      expect(yield* actor.lookupUser("/o=acme/cn=alice")).toEqual(Option.none())
      expect(yield* actor.lookupUser("carol@acme.example")).toEqual(Option.none())
    }).pipe(Effect.provide(RepoLayer))
  )

  it.scoped("sees a re-import at once, without a restart", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      yield* tenantImport(repo).importTenant(acmeFile())
      const actor = yield* TenantActor.make(acme)
      expect((yield* actor.relayState).name).toBe("Acme Corp")
      yield* tenantImport(repo).importTenant(
        acmeFile({ name: "Acme Renamed", directory: [{ mail: "carol@acme.example", proxyAddresses: ["smtp:c@acme.example"] }] })
      )
      expect((yield* actor.relayState).name).toBe("Acme Renamed")
      expect(Option.isSome(yield* actor.lookupUser("C@acme.example"))).toBe(true)
      expect(yield* actor.lookupUser("alice@acme.example")).toEqual(Option.none())
      expect(yield* actor.restarts).toBe(0)
    }).pipe(Effect.provide(RepoLayer))
  )

  it.live("reloads on the change feed, before anyone asks", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const repo = yield* TenantRepo
        yield* tenantImport(repo).importTenant(acmeFile())
        const actor = yield* TenantActor.make(acme)
        expect(yield* actor.loads).toBe(1)
        yield* tenantImport(repo).importTenant(acmeFile({ name: "Fed" }))
        // bounded wait for the feed's Reload; no request is sent meanwhile
        yield* actor.loads.pipe(Effect.repeat({ until: (n) => n > 1, schedule: Schedule.spaced("10 millis").pipe(Schedule.upTo("20 seconds")) }))
        expect(yield* actor.loads).toBe(2)
        expect((yield* actor.relayState).name).toBe("Fed")
        // a write to another tenant is not this actor's business
        yield* tenantImport(repo).importTenant(acmeFile({ id: "other", connectors: [] }))
        yield* Effect.sleep("50 millis")
        yield* actor.relayState
        expect(yield* actor.loads).toBe(2)
      })
    ).pipe(Effect.provide(RepoLayer))
  )

  it.scoped("refuses to start for an unknown tenant and reports a removed one", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const unknown = yield* Effect.flip(TenantActor.make("nobody" as TenantId))
      expect(unknown._tag).toBe("TenantNotFound")
      yield* tenantImport(repo).importTenant(acmeFile())
      const actor = yield* TenantActor.make(acme)
      yield* repo.removeTenant(acme)
      expect((yield* Effect.flip(actor.relayState))._tag).toBe("TenantNotFound")
    }).pipe(Effect.provide(RepoLayer))
  )

  it.scoped("names the key of a directory entry it cannot read", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const store = yield* Store
      yield* tenantImport(repo).importTenant(acmeFile())
      yield* store.put(Db.users, Schema.Unknown, userKey(acme, "broken@acme.example"), { displayName: "no mail" })
      const failed = yield* Effect.flip(TenantActor.make(acme))
      expect(failed._tag).toBe("TenantActorUnavailable")
      expect(failed.message).toContain("tenant/acme/user/broken@acme.example")
    }).pipe(Effect.provide(RepoLayer))
  )

  it.scoped("restarts from the store after a defect, with growing backoff, and counts the restarts", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      yield* tenantImport(repo).importTenant(acmeFile())
      const actor = yield* TenantActor.make(acme)

      const crash = yield* Effect.flip(injectDefect(actor))
      expect(crash).toMatchObject({ _tag: "TenantActorUnavailable", reason: "crashed on ApplyDirectoryDelta" })
      // the store changes while the actor is down: the restarted loop must load it
      yield* tenantImport(repo).importTenant(acmeFile({ name: "After Crash" }))
      const waiting = yield* Effect.fork(actor.relayState)
      yield* settle
      expect(Option.isNone(yield* Fiber.poll(waiting))).toBe(true)
      expect(yield* actor.restarts).toBe(0)
      yield* TestClock.adjust(TenantActor.RESTART_BASE_DELAY)
      expect((yield* Fiber.join(waiting)).name).toBe("After Crash")
      expect(yield* actor.restarts).toBe(1)

      // the second restart waits twice as long, and loads the state again though nothing changed
      const loadsBefore = yield* actor.loads
      yield* Effect.flip(injectDefect(actor))
      const second = yield* Effect.fork(actor.relayState)
      yield* TestClock.adjust(TenantActor.RESTART_BASE_DELAY)
      yield* settle
      expect(Option.isNone(yield* Fiber.poll(second))).toBe(true)
      yield* TestClock.adjust(TenantActor.RESTART_BASE_DELAY)
      yield* Fiber.join(second)
      expect(yield* actor.restarts).toBe(2)
      expect(yield* actor.loads).toBe(loadsBefore + 1)
    }).pipe(Effect.provide(RepoLayer))
  )

  it.scoped("stops after RESTART_INTENSITY restarts without a quiet period", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      yield* tenantImport(repo).importTenant(acmeFile())
      const actor = yield* TenantActor.make(acme)
      for (let i = 0; i < TenantActor.RESTART_INTENSITY; i++) {
        yield* Effect.flip(injectDefect(actor))
        const next = yield* Effect.fork(actor.relayState)
        yield* TestClock.adjust(TenantActor.RESTART_MAX_DELAY)
        yield* Fiber.join(next)
      }
      expect(yield* actor.restarts).toBe(TenantActor.RESTART_INTENSITY)
      yield* Effect.flip(injectDefect(actor))
      yield* settle
      expect(actor.isStopped()).toBe(true)
      expect(yield* Effect.flip(actor.relayState)).toMatchObject({ _tag: "TenantActorUnavailable", reason: "stopped" })
    }).pipe(Effect.provide(RepoLayer))
  )

  it.scoped("a quiet RESTART_PERIOD resets the restart budget", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      yield* tenantImport(repo).importTenant(acmeFile())
      const actor = yield* TenantActor.make(acme)
      for (let i = 0; i < TenantActor.RESTART_INTENSITY + 2; i++) {
        yield* Effect.flip(injectDefect(actor))
        const next = yield* Effect.fork(actor.relayState)
        yield* TestClock.adjust(TenantActor.RESTART_MAX_DELAY)
        yield* Fiber.join(next)
        yield* TestClock.adjust(TenantActor.RESTART_PERIOD)
      }
      expect(actor.isStopped()).toBe(false)
      expect(yield* actor.restarts).toBe(TenantActor.RESTART_INTENSITY + 2)
    }).pipe(Effect.provide(RepoLayer))
  )
})
