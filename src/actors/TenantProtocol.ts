import { Schema } from "effect"
import { DirectoryUser } from "../domain/Directory.js"
import { TenantNotFound } from "../domain/Errors.js"
import { MessageKind } from "../domain/Rule.js"
import { HeaderSummary, MessageEnvelope, SignatureDecision } from "../domain/Signature.js"
import { Tenant } from "../domain/Tenant.js"
import { PreviewResult } from "./RulesPreview.js"

/**
 * What a tenant actor can be asked. Tagged Schema requests, so the protocol is
 * serialisable and the actor can later live behind @effect/cluster without
 * its callers changing. Each request has one arm in TenantActor's `handle`.
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

/**
 * Which signature a message gets, rendered for its sender (looked up by the
 * envelope's MAIL FROM, never by a header), or NoSignature with the reason.
 */
export class ResolveSignature extends Schema.TaggedRequest<ResolveSignature>()("ResolveSignature", {
  failure: TenantActorError,
  success: SignatureDecision,
  payload: { envelope: MessageEnvelope, header: HeaderSummary }
}) {}

/** The rules tester: for a made-up message, which rule wins per recipient, why the others did not, and the result. */
export class PreviewRules extends Schema.TaggedRequest<PreviewRules>()("PreviewRules", {
  failure: TenantActorError,
  success: PreviewResult,
  payload: {
    sender: Schema.String,
    recipients: Schema.Array(Schema.String),
    subject: Schema.String,
    /** absent: read from the subject's prefix, as for a real message */
    kind: Schema.optional(MessageKind),
    /** epoch milliseconds to evaluate date windows at; absent: now */
    at: Schema.optional(Schema.Number)
  }
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

export type TenantRequest =
  | GetRelayState | Reload | LookupUser | InjectDefect | ResolveSignature | PreviewRules | ReplaceDirectory | ApplyDirectoryDelta
