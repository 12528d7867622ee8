import { Context, Effect, Layer } from "effect"
import type { TenantActor } from "../../src/actors/TenantActor.js"
import { TenantRegistry } from "../../src/actors/TenantRegistry.js"
import { Store } from "../../src/store/Store.js"
import { TenantRepo } from "../../src/store/TenantRepo.js"
import { TempStorePath } from "../store/TempStore.js"

/** Store and TenantRepo over real LMDB in a temp folder (removed after). */
export const RepoLayer = Layer.mergeAll(TenantRepo.Default, Store.Default).pipe(Layer.provide(TempStorePath))

/** The same plus the registry, sharing one store. */
export const RegistryLayer = Layer.mergeAll(TenantRegistry.Default, TenantRepo.Default, Store.Default).pipe(Layer.provide(TempStorePath))

/**
 * Defects come from a dependency, as a failing disk's would (the actor's
 * protocol has no test-only message): `armDefect` makes the store's next
 * write die, once.
 */
export class StoreFaults extends Context.Tag("test/StoreFaults")<StoreFaults, { next: string | undefined }>() {}

const FaultyStore = Layer.effect(
  Store,
  Effect.gen(function* () {
    const real = yield* Store
    const faults = yield* StoreFaults
    return Store.make({
      ...real,
      batch: (ops) =>
        Effect.suspend(() => {
          const message = faults.next
          if (message === undefined) return real.batch(ops)
          faults.next = undefined
          return Effect.die(new Error(message))
        })
    })
  })
).pipe(Layer.provide(Store.Default))

/** RepoLayer whose store can be made to die on its next write. */
export const FaultyRepoLayer = TenantRepo.DefaultWithoutDependencies.pipe(
  Layer.provideMerge(FaultyStore),
  Layer.provideMerge(Layer.sync(StoreFaults, () => ({ next: undefined }))),
  Layer.provide(TempStorePath)
)

/** Makes the actor's loop die: a directory write whose store write dies. Fails with the caller's TenantActorUnavailable. */
export const injectDefect = (actor: TenantActor, message = "injected defect") =>
  Effect.flatMap(StoreFaults, (faults) => {
    faults.next = message
    return actor.applyDirectoryDelta({ upsert: [], remove: ["nobody@nowhere.example"] })
  })
