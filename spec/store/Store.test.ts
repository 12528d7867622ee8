import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Option, Queue, Schema } from "effect"
import { Store, Write } from "../../src/store/Store.js"
import { storeAt, tempDir } from "./TempStore.js"

const Item = Schema.Struct({ name: Schema.String, count: Schema.NumberFromString })
const DB = "items"

/** The store open at `dir` for the duration of `f`, closed after. */
const withStoreAt = <A, E>(dir: string, f: (store: Store) => Effect.Effect<A, E>) => Effect.provide(Effect.flatMap(Store, f), storeAt(dir))

describe("Store", () => {
  it.scoped("round-trips values through their encoded form", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      yield* withStoreAt(dir, (store) =>
        Effect.gen(function* () {
          yield* store.put(DB, Item, "tenant/a/item/1", { name: "one", count: 1 })
          expect(yield* store.get(DB, Item, "tenant/a/item/1")).toEqual(Option.some({ name: "one", count: 1 }))
          // the stored form is the encoded one (NumberFromString → string)
          expect(yield* store.get(DB, Schema.Unknown, "tenant/a/item/1")).toEqual(Option.some({ name: "one", count: "1" }))
          expect(store.getSync(DB, Item, "tenant/a/item/1")).toEqual(Either.right(Option.some({ name: "one", count: 1 })))
          expect(yield* store.get(DB, Item, "tenant/a/item/2")).toEqual(Option.none())
          yield* store.remove(DB, "tenant/a/item/1")
          expect(yield* store.get(DB, Item, "tenant/a/item/1")).toEqual(Option.none())
        })
      )
    })
  )

  it.scoped("keeps tenant a apart from tenant ab in prefix scans and prefix removal", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      yield* withStoreAt(dir, (store) =>
        Effect.gen(function* () {
          yield* store.batch([
            Write.put(DB, Item, "tenant/a/item/1", { name: "a1", count: 1 }),
            Write.put(DB, Item, "tenant/a/item/2", { name: "a2", count: 2 }),
            Write.put(DB, Item, "tenant/ab/item/1", { name: "ab1", count: 3 }),
            Write.put(DB, Item, "tenant/a0/item/1", { name: "a0", count: 4 })
          ])
          const a = yield* store.list(DB, Item, "tenant/a/")
          expect(a.map((e) => e.value.name)).toEqual(["a1", "a2"])
          expect(yield* store.keys(DB, "tenant/ab/")).toEqual(["tenant/ab/item/1"])
          yield* store.batch([Write.removePrefix(DB, "tenant/a/")])
          expect(yield* store.keys(DB, "tenant/")).toEqual(["tenant/a0/item/1", "tenant/ab/item/1"])
        })
      )
    })
  )

  it.scoped("reports a value that does not decode with its key, not a crash", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      yield* withStoreAt(dir, (store) =>
        Effect.gen(function* () {
          yield* store.put(DB, Schema.Unknown, "tenant/a/item/bad", { name: 7 })
          const error = yield* Effect.flip(store.get(DB, Item, "tenant/a/item/bad"))
          expect(error._tag).toBe("StoreDecodeError")
          expect(error.message).toContain("tenant/a/item/bad")
          expect(error.message).toContain("name")
          const listed = yield* Effect.flip(store.list(DB, Item, "tenant/a/"))
          expect(listed._tag).toBe("StoreDecodeError")
          expect(Either.isLeft(store.getSync(DB, Item, "tenant/a/item/bad"))).toBe(true)
        })
      )
    })
  )

  it.scoped("publishes one change per tenant and entity after each commit", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      yield* withStoreAt(dir, (store) =>
        Effect.scoped(
          Effect.gen(function* () {
            const changes = yield* store.subscribe
            expect(store.tenantRevision("a" as never)).toBe(0)
            yield* store.batch([
              Write.put(DB, Item, "tenant/a/item/1", { name: "x", count: 1 }),
              Write.put(DB, Item, "tenant/a/item/2", { name: "y", count: 2 }),
              Write.put("other", Item, "tenant/b/thing", { name: "z", count: 3 })
            ])
            const got = yield* Queue.takeAll(changes)
            expect(
              Array.from(got)
                .map((c) => [c.entity, c.tenantId])
                .sort()
            ).toEqual([
              [DB, "a"],
              ["other", "b"]
            ])
            expect(store.tenantRevision("a" as never)).toBeGreaterThan(0)
            expect(store.tenantRevision("ab" as never)).toBe(0)
            yield* store.remove(DB, "tenant/a/item/1")
            const next = yield* Queue.take(changes)
            expect([next.entity, next.tenantId]).toEqual([DB, "a"])
            expect(next.revision).toBeGreaterThan(Array.from(got)[0].revision)
          })
        )
      )
    })
  )

  it.scoped("hears of commits made by another store on the same folder (the CLI next to a running server)", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      yield* withStoreAt(dir, (server) =>
        Effect.scoped(
          Effect.gen(function* () {
            const changes = yield* server.subscribe
            yield* withStoreAt(dir, (cli) => cli.put("tenants", Item, "tenant/a/tenant", { name: "from cli", count: 1 }))
            // read-your-writes across processes: the revision is in LMDB
            expect(server.tenantRevision("a" as never)).toBeGreaterThan(0)
            expect(yield* server.get("tenants", Item, "tenant/a/tenant")).toEqual(Option.some({ name: "from cli", count: 1 }))
            yield* server.pollExternalChanges
            const got = yield* Queue.takeAll(changes)
            expect(Array.from(got).map((c) => [c.entity, c.tenantId])).toEqual([["tenants", "a"]])
            // its own writes are not replayed
            yield* server.put("tenants", Item, "tenant/b/tenant", { name: "own", count: 2 })
            yield* Queue.takeAll(changes)
            yield* server.pollExternalChanges
            expect(yield* Queue.takeAll(changes).pipe(Effect.map((c) => Array.from(c)))).toEqual([])
          })
        )
      )
    })
  )

  it.scoped("keeps data across a close and reopen", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      yield* withStoreAt(dir, (store) => store.put(DB, Item, "tenant/a/item/1", { name: "kept", count: 9 }))
      const again = yield* withStoreAt(dir, (store) => store.get(DB, Item, "tenant/a/item/1"))
      expect(again).toEqual(Option.some({ name: "kept", count: 9 }))
    })
  )

  it.scoped("rejects a value its schema cannot encode, writing nothing of the batch", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      yield* withStoreAt(dir, (store) =>
        Effect.gen(function* () {
          const Positive = Schema.Struct({ n: Schema.Number.pipe(Schema.positive()) })
          const error = yield* Effect.flip(store.batch([Write.put(DB, Positive, "tenant/a/p/1", { n: 1 }), Write.put(DB, Positive, "tenant/a/p/2", { n: -1 })]))
          expect(error._tag).toBe("StoreError")
          expect(error.message).toContain("tenant/a/p/2")
          expect(yield* store.keys(DB, "tenant/a/")).toEqual([])
        })
      )
    })
  )
})
