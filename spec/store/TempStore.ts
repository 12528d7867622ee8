import { Effect, Layer } from "effect"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Store, StorePath } from "../../src/store/Store.js"
import { TracePath, TraceStore } from "../../src/trace/TraceStore.js"

/** A fresh folder under the OS temp dir, removed when the scope closes. */
export const tempDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "imprint-store-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

/** StorePath at a temp folder that lives as long as the layer (the store closes first, then the folder goes). */
export const TempStorePath = Layer.scoped(StorePath, tempDir)

/** The Store at `dir`, given its StorePath as the composition root gives it (Server.ts liveLayer). */
export const storeAt = (dir: string) => Store.Default.pipe(Layer.provide(Layer.succeed(StorePath, dir)))

/** The trace's store at `dir`, given its TracePath as the composition root gives it (Server.ts traceSearchLayer). */
export const traceStoreAt = (dir: string) => TraceStore.Default.pipe(Layer.provide(Layer.succeed(TracePath, dir)))
