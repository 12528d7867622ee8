import { Schema } from "effect"
import { DirectoryUser } from "../domain/Directory.js"
import { TenantNotFound } from "../domain/Errors.js"
import { Tenant } from "../domain/Tenant.js"

/**
 * What a tenant actor can be asked. Tagged Schema requests, so the protocol is
 * serialisable and the actor can later live behind @effect/cluster without
 * its callers changing. The signature engine adds `ResolveSignature`,
 * `ReplaceDirectory`, `ApplyDirectoryDelta` here and one arm each in
 * TenantActor's `handle`.
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

/** The tenant's relay state: domains, connectors, downstream. */
export class GetRelayState extends Schema.TaggedRequest<GetRelayState>()("GetRelayState", {
  failure: TenantActorError,
  success: Tenant,
  payload: {}
}) {}

/** Reload the state from the store (`onlyIfStale`: skip when nothing was written since the last load). */
export class Reload extends Schema.TaggedRequest<Reload>()("Reload", {
  failure: TenantActorError,
  success: Schema.Void,
  payload: { onlyIfStale: Schema.optionalWith(Schema.Boolean, { default: () => false }) }
}) {}

/** The directory entry whose mail or proxy address is `address` (case-insensitive, "smtp:" ignored). */
export class LookupUser extends Schema.TaggedRequest<LookupUser>()("LookupUser", {
  failure: TenantActorError,
  success: Schema.Option(DirectoryUser),
  payload: { address: Schema.String }
}) {}

/** Tests only: the handler dies, which must restart the actor from the store. */
export class InjectDefect extends Schema.TaggedRequest<InjectDefect>()("InjectDefect", {
  failure: TenantActorError,
  success: Schema.Void,
  payload: { message: Schema.String }
}) {}

export type TenantRequest = GetRelayState | Reload | LookupUser | InjectDefect
