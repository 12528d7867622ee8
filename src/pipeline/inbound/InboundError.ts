/**
 * How the inbound stretch of the wire (the upstream's session: binding, limits,
 * the Microsoft 365 proof, the DATA deadline, shutdown) refuses a session or a
 * command. Each carries what its SMTP reply needs; the reply itself is made in
 * one place, RelayError's toReply, above the stages.
 */
import { Data } from "effect"

export class NoDownstream extends Data.TaggedError("NoDownstream")<{ tenant: string }> {}
export class NotBound extends Data.TaggedError("NotBound") {}
export class SenderNotAllowed extends Data.TaggedError("SenderNotAllowed")<{ sender: string }> {}
export class ShuttingDown extends Data.TaggedError("ShuttingDown") {}
/** A connection several tenants share cannot pick a tenant for the null sender (it has no domain). */
export class SharedNullSender extends Data.TaggedError("SharedNullSender") {}
/**
 * A Microsoft 365 session's message did not prove it comes from the selected
 * tenant's Microsoft 365 organisation (CrossTenant-Id header, onmicrosoft.com
 * DKIM signature): refused before its terminating dot reaches the downstream.
 */
export class TenantNotProven extends Data.TaggedError("TenantNotProven")<{ detail: string }> {}
/** The DKIM key of that proof could not be looked up just now. */
export class TenantProofDeferred extends Data.TaggedError("TenantProofDeferred")<{ detail: string }> {}
/** A new session refused by ConnectionLimits: the unbound share is full, or its address has too many sessions or too many new ones. */
export class TooManyConnections extends Data.TaggedError("TooManyConnections")<{
  reason: "clients" | "unbound-share" | "address-connections" | "address-rate"
}> {}
/** The upstream took longer than the DATA deadline, or sent below the minimum rate (DataDeadline): the session is closed. */
export class DataTooSlow extends Data.TaggedError("DataTooSlow")<{ reason: "deadline" | "rate"; limitMs: number; minRate: number }> {}

export type InboundError =
  NoDownstream | NotBound | SenderNotAllowed | ShuttingDown | SharedNullSender | TenantNotProven | TenantProofDeferred | TooManyConnections | DataTooSlow
