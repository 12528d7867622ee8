import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Schema } from "effect"
import fc from "fast-check"
import * as DirectoryIndex from "../../src/actors/DirectoryIndex.js"
import * as TenantActor from "../../src/actors/TenantActor.js"
import { DirectoryUser } from "../../src/domain/Directory.js"
import type { TenantId } from "../../src/domain/Tenant.js"
import { Db, userKey } from "../../src/store/Keys.js"
import { CHANGE_LOG_WINDOW, Store, Write } from "../../src/store/Store.js"
import { TenantRepo } from "../../src/store/TenantRepo.js"
import { acmeFile } from "../store/TenantFixtures.js"
import { RepoLayer } from "./ActorTestLayer.js"
import { tenantImport } from "../../src/actors/TenantImport.js"

const acme = "acme" as TenantId

/** A small address universe, so that users fight over aliases and primaries often. */
const local = fc.constantFrom("a", "b", "c", "d", "e", "f")
const address = local.map((l) => `${l}@acme.example`)
const user = fc.record({
  mail: address,
  proxies: fc.array(
    fc.oneof(
      address.map((a) => `smtp:${a}`),
      address.map((a) => `SMTP:${a.toUpperCase()}`),
      fc.constant("X500:/o=x")
    ),
    { maxLength: 3 }
  )
})
const step = fc.oneof(
  user.map((u) => ({ _tag: "put" as const, ...u })),
  address.map((mail) => ({ _tag: "remove" as const, mail }))
)

const snapshot = (index: DirectoryIndex.DirectoryIndex) => ({
  addresses: Array.from(index.addresses).sort(([a], [b]) => (a < b ? -1 : 1)),
  users: index.users
})

describe("DirectoryIndex: changes applied in place", () => {
  it.effect("after any sequence of upserts and removals, the patched index equals a fresh build over the store", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const store = yield* Store
      yield* tenantImport(repo).importTenant(acmeFile({ directory: [] }))
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.array(fc.array(step, { minLength: 1, maxLength: 4 }), { maxLength: 8 }), (batches) =>
            Effect.runPromise(
              Effect.gen(function* () {
                yield* store.batch([Write.removePrefix(Db.users, `tenant/${acme}/user/`)])
                const patched = yield* DirectoryIndex.build(acme)
                for (const batch of batches) {
                  const touched = new Set<string>()
                  yield* store.batch(
                    batch.map((s) => {
                      touched.add(s.mail)
                      return s._tag === "remove"
                        ? Write.remove(Db.users, userKey(acme, s.mail))
                        : Write.put(Db.users, DirectoryUser, userKey(acme, s.mail), new DirectoryUser({ mail: s.mail, proxyAddresses: s.proxies }))
                    })
                  )
                  yield* DirectoryIndex.patch(patched, touched)
                  expect(snapshot(patched)).toEqual(snapshot(yield* DirectoryIndex.build(acme)))
                }
              }).pipe(Effect.provideService(Store, store))
            )
          ),
          { numRuns: 150 }
        )
      )
    }).pipe(Effect.provide(RepoLayer))
  )

  it.effect("a bad entry fails the patch and leaves the index as it was", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const store = yield* Store
      yield* tenantImport(repo).importTenant(acmeFile())
      const index = yield* DirectoryIndex.build(acme)
      const before = snapshot(index)
      yield* store.batch([
        Write.remove(Db.users, userKey(acme, "alice@acme.example")),
        Write.put(Db.users, DirectoryUser, userKey(acme, "zed@acme.example"), new DirectoryUser({ mail: "zed@acme.example" }))
      ])
      yield* store.put(Db.users, Schema.Unknown, userKey(acme, "broken@acme.example"), { displayName: "no mail" })
      const failed = yield* Effect.flip(DirectoryIndex.patch(index, ["alice@acme.example", "zed@acme.example", "broken@acme.example"]))
      expect(failed._tag).toBe("StoreDecodeError")
      expect(failed.message).toContain("tenant/acme/user/broken@acme.example")
      expect(snapshot(index)).toEqual(before)
    }).pipe(Effect.provide(RepoLayer))
  )
})

describe("TenantActor: a directory change is patched in, not reloaded", () => {
  it.scoped("upserts and removals through the actor and by another writer reach the next lookup without loading the tenant again", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const store = yield* Store
      yield* tenantImport(repo).importTenant(acmeFile())
      const actor = yield* TenantActor.make(acme)
      expect(yield* actor.loads).toBe(1)
      // through the actor (the admin API and sync do this)
      yield* actor.applyDirectoryDelta({
        upsert: [new DirectoryUser({ mail: "carol@acme.example", displayName: "Carol", proxyAddresses: ["smtp:c@acme.example"] })],
        remove: ["bob@acme.example"]
      })
      expect(Option.map(yield* actor.lookupUser("C@acme.example"), (u) => u.displayName)).toEqual(Option.some("Carol"))
      expect(yield* actor.lookupUser("bob@acme.example")).toEqual(Option.none())
      // an alias moves from one user to another, written past the actor (an applier, another process)
      expect(Option.map(yield* actor.lookupUser("ally@acme-mail.example"), (u) => u.mail)).toEqual(Option.some("Alice@acme.example"))
      yield* store.batch([
        Write.put(Db.users, DirectoryUser, userKey(acme, "alice@acme.example"), new DirectoryUser({ mail: "Alice@acme.example", displayName: "Alice 2" })),
        Write.put(
          Db.users,
          DirectoryUser,
          userKey(acme, "al@acme.example"),
          new DirectoryUser({ mail: "al@acme.example", proxyAddresses: ["smtp:ally@acme-mail.example"] })
        )
      ])
      expect(Option.map(yield* actor.lookupUser("ally@acme-mail.example"), (u) => u.mail)).toEqual(Option.some("al@acme.example"))
      expect(Option.map(yield* actor.lookupUser("alice@acme.example"), (u) => u.displayName)).toEqual(Option.some("Alice 2"))
      expect(yield* actor.loads).toBe(1)
      // anything else is a reload
      yield* tenantImport(repo).importTenant(acmeFile({ name: "Renamed" }))
      expect((yield* actor.relayState).name).toBe("Renamed")
      expect(yield* actor.loads).toBe(2)
    }).pipe(Effect.provide(RepoLayer))
  )

  it.scoped("an actor further behind than the change log reaches loads the tenant again", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const store = yield* Store
      yield* tenantImport(repo).importTenant(acmeFile())
      const actor = yield* TenantActor.make(acme)
      yield* actor.relayState
      // commits that do not touch the tenant move the window on without waking the actor
      // concurrent commits: lmdb writes them in few disk flushes
      yield* Effect.forEach(
        Array.from({ length: CHANGE_LOG_WINDOW + 1 }, (_, i) => i),
        (i) => store.put("scratch", Schema.Number, "x", i),
        {
          concurrency: "unbounded",
          discard: true
        }
      )
      yield* store.batch([Write.put(Db.users, DirectoryUser, userKey(acme, "late@acme.example"), new DirectoryUser({ mail: "late@acme.example" }))])
      expect(Option.isSome(yield* actor.lookupUser("late@acme.example"))).toBe(true)
      expect(yield* actor.loads).toBe(2)
    }).pipe(Effect.provide(RepoLayer))
  )
})
