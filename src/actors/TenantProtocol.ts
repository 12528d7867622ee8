import { Schema } from "effect"
import { DirectoryUser } from "../domain/Directory.js"
import { TenantNotFound } from "../domain/Errors.js"

/**
 * What a tenant actor's loop can be asked: writes and lifecycle only. Reads
 * (relay state, lookups, signatures, the rules tester) use the snapshot the
 * loop publishes, never the mailbox. Tagged Schema requests, so the protocol
 * is serialisable. Each request has one arm in TenantActor's `handle`.
 */

/** The actor could not answer: it crashed on this request, was stopped, or could not load its state. */
export class TenantActorUnavailable extends Schema.TaggedError<TenantActorUnavailable>()("TenantActorUnavailable", {
  tenantId: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `tenant actor ${this.tenantId} unavailable: ${this.reason}`
  }
}

export const TenantActorError = Schema.Union(TenantNotFound, TenantActorUnavailable)
export type TenantActorError = typeof TenantActorError.Type

/** Reload the state from the store (`onlyIfStale`: only catch up with what was written since, patching directory changes in). */
export class Reload extends Schema.TaggedRequest<Reload>()("Reload", {
  failure: TenantActorError,
  success: Schema.Void,
  payload: { onlyIfStale: Schema.optionalWith(Schema.Boolean, { default: () => false }) }
}) {}

/** A full directory sync: the tenant's directory becomes `users`, in one transaction. */
export class ReplaceDirectory extends Schema.TaggedRequest<ReplaceDirectory>()("ReplaceDirectory", {
  failure: TenantActorError,
  success: Schema.Void,
  payload: { users: Schema.Array(DirectoryUser) }
}) {}

/** An incremental directory sync: upsert entries, remove entries by mail (any case), in one transaction. */
export class ApplyDirectoryDelta extends Schema.TaggedRequest<ApplyDirectoryDelta>()("ApplyDirectoryDelta", {
  failure: TenantActorError,
  success: Schema.Void,
  payload: { upsert: Schema.Array(DirectoryUser), remove: Schema.Array(Schema.String) }
}) {}

export type TenantRequest = Reload | ReplaceDirectory | ApplyDirectoryDelta
