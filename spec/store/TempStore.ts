import { Effect, Layer } from "effect"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { StorePath } from "../../src/store/Store.js"

/** A fresh folder under the OS temp dir, removed when the scope closes. */
export const tempDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "imprint-store-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

/** StorePath at a temp folder that lives as long as the layer (the store closes first, then the folder goes). */
export const TempStorePath = Layer.scoped(StorePath, tempDir)
