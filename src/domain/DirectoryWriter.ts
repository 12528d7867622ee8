import { Context, Data, type Effect } from "effect"
import type { DirectoryUser } from "./Directory.js"
import type { TenantId } from "./Tenant.js"

/**
 * How the directory sync writes a tenant's directory: one batch of upserts and
 * removals (by mail, any case) in one transaction. The sync names this
 * interface; the tenant actors implement it (actors/DirectoryWriterLive.ts),
 * so each write reaches the actor whose snapshot the mail path reads, and the
 * composition root provides it, so sync/ does not import actors/.
 */

/** The write did not happen (the tenant is gone, or its actor could not answer); a later pass may succeed. */
export class DirectoryWriteFailed extends Data.TaggedError("DirectoryWriteFailed")<{ readonly message: string }> {}

export interface DirectoryWriterApi {
  readonly applyDelta: (
    tenantId: TenantId,
    delta: { readonly upsert: ReadonlyArray<DirectoryUser>; readonly remove: ReadonlyArray<string> }
  ) => Effect.Effect<void, DirectoryWriteFailed>
}

export class DirectoryWriter extends Context.Tag("imprint/DirectoryWriter")<DirectoryWriter, DirectoryWriterApi>() {}
