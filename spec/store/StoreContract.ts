/**
 * What every Store backend must do, whatever holds the truth behind it (LMDB
 * alone, or NATS JetStream KV replicated into LMDB): one suite, run by a spec
 * per backend (spec/store/StoreLmdb.test.ts, spec/peers/StoreReplicated.test.ts).
 * `layer` gives a fresh, empty store per test.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Queue, Schema } from "effect"
import type { Layer } from "effect"
import type { TenantId } from "../../src/domain/Tenant.js"
import { Db, userKey, userPrefix } from "../../src/store/Keys.js"
import { Store, Write } from "../../src/store/Store.js"

const Item = Schema.Struct({ name: Schema.String, count: Schema.NumberFromString })
const User = Schema.Struct({ mail: Schema.String })
const DB = "items"
const a = "a" as TenantId

export const storeContract = <E>(backend: string, layer: () => Layer.Layer<Store, E>) =>
  describe(`Store contract: ${backend}`, () => {
    it.scoped("round-trips values through their encoded form; a removed key is gone", () =>
      Effect.gen(function* () {
        const store = yield* Store
        yield* store.put(DB, Item, "tenant/a/item/1", { name: "one", count: 1 })
        expect(yield* store.get(DB, Item, "tenant/a/item/1")).toEqual(Option.some({ name: "one", count: 1 }))
        expect(yield* store.get(DB, Schema.Unknown, "tenant/a/item/1")).toEqual(Option.some({ name: "one", count: "1" }))
        yield* store.put(DB, Item, "tenant/a/item/1", { name: "one", count: 2 })
        expect(yield* store.get(DB, Item, "tenant/a/item/1")).toEqual(Option.some({ name: "one", count: 2 }))
        yield* store.remove(DB, "tenant/a/item/1")
        expect(yield* store.get(DB, Item, "tenant/a/item/1")).toEqual(Option.none())
        // a removed key can be written again
        yield* store.put(DB, Item, "tenant/a/item/1", { name: "again", count: 3 })
        expect(yield* store.get(DB, Item, "tenant/a/item/1")).toEqual(Option.some({ name: "again", count: 3 }))
      }).pipe(Effect.provide(layer()))
    )

    it.scoped("a batch writes every op; prefix removal keeps tenant a apart from tenant ab", () =>
      Effect.gen(function* () {
        const store = yield* Store
        yield* store.batch([
          Write.put(DB, Item, "tenant/a/item/1", { name: "a1", count: 1 }),
          Write.put(DB, Item, "tenant/a/item/2", { name: "a2", count: 2 }),
          Write.put(DB, Item, "tenant/ab/item/1", { name: "ab1", count: 3 }),
          Write.put("other", Item, "tenant/a/x", { name: "x", count: 4 })
        ])
        expect((yield* store.keys(DB, "tenant/a/")).length).toBe(2)
        yield* store.batch([Write.removePrefix(DB, "tenant/a/"), Write.put(DB, Item, "tenant/a/item/3", { name: "a3", count: 5 })])
        expect(yield* store.keys(DB, "tenant/a/")).toEqual(["tenant/a/item/3"])
        expect(yield* store.keys(DB, "tenant/ab/")).toEqual(["tenant/ab/item/1"])
        expect(yield* store.get("other", Item, "tenant/a/x")).toEqual(Option.some({ name: "x", count: 4 }))
      }).pipe(Effect.provide(layer()))
    )

    it.scoped("a value that does not encode fails the batch and writes nothing of it", () =>
      Effect.gen(function* () {
        const store = yield* Store
        const failed = yield* Effect.flip(
          store.batch([Write.put(DB, Item, "tenant/a/item/1", { name: "ok", count: 1 }), Write.put(DB, Item, "tenant/a/item/2", { name: 7 } as never)])
        )
        expect(failed).toMatchObject({ _tag: "StoreError", op: "encode", key: "tenant/a/item/2" })
        expect(yield* store.keys(DB, "tenant/a/")).toEqual([])
      }).pipe(Effect.provide(layer()))
    )

    it.scoped("a stored value that no longer decodes names its key", () =>
      Effect.gen(function* () {
        const store = yield* Store
        yield* store.put(DB, Schema.Unknown, "tenant/a/item/1", { name: 1 })
        const failed = yield* Effect.flip(store.get(DB, Item, "tenant/a/item/1"))
        expect(failed._tag).toBe("StoreDecodeError")
        expect(failed.message).toContain("items:tenant/a/item/1")
      }).pipe(Effect.provide(layer()))
    )

    it.scoped("revisions move with each write of the tenant; the change feed tells subscribers after the commit", () =>
      Effect.gen(function* () {
        const store = yield* Store
        const changes = yield* store.subscribe
        const before = store.tenantRevision(a)
        yield* store.put(Db.users, User, userKey(a, "ann@a.example"), { mail: "ann@a.example" })
        const after = store.tenantRevision(a)
        expect(after).toBeGreaterThan(before)
        expect(store.dbRevision(Db.users)).toBe(after)
        const change = yield* Queue.take(changes)
        expect(change).toMatchObject({ entity: Db.users, tenantId: a, revision: after })
        expect(store.tenantRevision("b" as TenantId)).toBe(0)
      }).pipe(Effect.provide(layer()))
    )

    it.scoped("the change log names the directory entries a tenant's commits wrote; anything else asks for a reload", () =>
      Effect.gen(function* () {
        const store = yield* Store
        const start = store.tenantRevision(a)
        yield* store.put(Db.users, User, userKey(a, "ann@a.example"), { mail: "ann@a.example" })
        yield* store.batch([
          Write.put(Db.users, User, userKey(a, "Bob@a.example"), { mail: "Bob@a.example" }),
          Write.remove(Db.users, userKey(a, "ann@a.example"))
        ])
        const now = store.tenantRevision(a)
        expect(Array.from(store.directoryChangesSince(a, start, now) ?? []).sort()).toEqual(["ann@a.example", "bob@a.example"])
        yield* store.batch([Write.removePrefix(Db.users, userPrefix(a))])
        // a prefix removal: a reload (LMDB), or the entries it removed (a replicated store removes key by key)
        const removed = store.directoryChangesSince(a, start, store.tenantRevision(a))
        expect(removed === undefined || removed.has("bob@a.example")).toBe(true)
        yield* store.put(Db.tenants, User, `tenant/${a}/tenant`, { mail: "not a user" })
        expect(store.directoryChangesSince(a, start, store.tenantRevision(a))).toBeUndefined()
      }).pipe(Effect.provide(layer()))
    )
  })
