import { Effect, Layer } from "effect"
import { DirectoryWriteFailed, DirectoryWriter } from "../domain/DirectoryWriter.js"
import { TenantRegistry } from "./TenantRegistry.js"

/**
 * The directory sync's writes through the tenant's actor (ApplyDirectoryDelta):
 * the actor is asked for per batch, so a long pass never holds an actor the
 * registry stopped as idle.
 */
export const DirectoryWriterLive = Layer.effect(
  DirectoryWriter,
  Effect.map(TenantRegistry, (registry) => ({
    applyDelta: (tenantId, delta) =>
      Effect.flatMap(registry.actor(tenantId), (actor) => actor.applyDirectoryDelta(delta)).pipe(
        Effect.mapError((e) => new DirectoryWriteFailed({ message: e.message }))
      )
  }))
)
