import { Layer } from "effect"
import { TenantRegistry } from "../../src/actors/TenantRegistry.js"
import { Store } from "../../src/store/Store.js"
import { TenantRepo } from "../../src/store/TenantRepo.js"
import { TempStorePath } from "../store/TempStore.js"

/** Store and TenantRepo over real LMDB in a temp folder (removed after). */
export const RepoLayer = Layer.mergeAll(TenantRepo.Default, Store.Default).pipe(Layer.provide(TempStorePath))

/** The same plus the registry, sharing one store. */
export const RegistryLayer = Layer.mergeAll(TenantRegistry.Default, TenantRepo.Default, Store.Default).pipe(Layer.provide(TempStorePath))
