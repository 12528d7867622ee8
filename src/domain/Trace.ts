import { Context, type Effect, Schema } from "effect"

/**
 * The message trace (issue 19): what happened to each relayed transaction,
 * kept without its content. One record per transaction, with one entry per
 * downstream copy. It holds the envelope, the Message-ID, the size, the
 * decision (rule ids and template versions, or why nothing was stamped), the
 * replies and the durations — never a subject, a body or any other header.
 *
 * A MAIL FROM or RCPT TO that Imprint refused is a record too (`phase`),
 * with the reason, the reply given and no message at all; a session bound to
 * no tenant files it under UNBOUND_TENANT, which only operators search.
 *
 * The data plane hands a `TraceEntry` to the `TraceSink` (a non-blocking
 * offer); the trace room (src/trace/) turns it into a `TraceRecord` in the
 * background: recipients hashed when the tenant asks for it, an id, the node.
 */

/** A tenant's trace settings (the tenant file's `trace`). */
export class TraceSettings extends Schema.Class<TraceSettings>("TraceSettings")({
  /** days this tenant's records are kept; absent: the server's `trace.retentionDays` (30) */
  retentionDays: Schema.optional(Schema.Int.pipe(Schema.between(1, 3650))),
  /** store recipient addresses as a keyed hash (HMAC-SHA256, a key per tenant) instead of in clear */
  hashRecipients: Schema.optional(Schema.Boolean)
}) {}

/** An SMTP reply as the trace keeps it. */
export const TraceReply = Schema.Struct({
  code: Schema.Int,
  enhanced: Schema.optional(Schema.String),
  text: Schema.String
})
export type TraceReply = typeof TraceReply.Type

/** The tenant of a refusal from a session bound to no tenant: not a valid tenant id, so no tenant admin sees it. */
export const UNBOUND_TENANT = "(unbound)"

/** The command a refusal answered; a record without it is a DATA transaction. */
export const TracePhase = Schema.Literal("mail", "rcpt")
export type TracePhase = typeof TracePhase.Type

export const TraceOutcome = Schema.Literal("relayed", "deferred", "rejected")
export type TraceOutcome = typeof TraceOutcome.Type

/**
 * stamped: at least one copy was to carry (relayed: carries) a signature;
 * unstamped: relayed without one, `reason` says why;
 * none: the transaction failed before its headers were read.
 */
export const TraceDecision = Schema.Literal("stamped", "unstamped", "none")
export type TraceDecision = typeof TraceDecision.Type

/** One downstream copy: a recipient group with its own transaction. */
export const TraceCopy = Schema.Struct({
  /** addresses, or `hmac:<base64url>` when the tenant hashes recipients */
  recipients: Schema.Array(Schema.String),
  /** the rules applied to this copy, in order */
  rules: Schema.Array(Schema.String),
  /** their templates as `id@version` */
  templates: Schema.Array(Schema.String),
  /** the body parts that received the signature (empty: none) */
  stamped: Schema.Array(Schema.Literal("html", "text")),
  /** why this copy carries no signature although one was planned (already-signed, undecodable, …) */
  skipped: Schema.optional(Schema.String),
  /** the downstream's reply to this copy's DATA */
  reply: Schema.optional(TraceReply),
  /** milliseconds from the start of DATA to that reply */
  durationMs: Schema.optional(Schema.Number)
})
export type TraceCopy = typeof TraceCopy.Type

const entryFields = {
  /** epoch milliseconds: when the upstream's DATA began (a refusal: when its command came) */
  at: Schema.Number,
  /** "mail" or "rcpt": a refused command, not a transaction (decision "none", no Message-ID, no copies) */
  phase: Schema.optional(TracePhase),
  tenant: Schema.String,
  /** how the session was bound: "address", "certificate" or "auth:<username>" */
  connector: Schema.String,
  /** the upstream client's IP address */
  client: Schema.String,
  /** the envelope sender (MAIL FROM; empty for the null sender) */
  sender: Schema.String,
  /** the envelope recipients (RCPT TO), hashed like the copies' */
  recipients: Schema.Array(Schema.String),
  /** the Message-ID header, the only header value kept */
  messageId: Schema.optional(Schema.String),
  /** bytes received from the upstream (absent when the message broke off) */
  size: Schema.optional(Schema.Number),
  decision: TraceDecision,
  /**
   * why nothing was stamped: loop, signed, calendar, report, sender-not-in-directory, failsafe-retry, …;
   * for a refused MAIL or RCPT why it was refused: unbound, relay-denied, shared-null-sender, no-downstream,
   * shutting-down, downstream-refused, downstream-unavailable, downstream-timeout, downstream-tls, downstream-protocol
   */
  reason: Schema.optional(Schema.String),
  outcome: TraceOutcome,
  /** what failed, for a transaction that was not relayed (DownstreamRefused, DownstreamUnavailable, StampingFailed, …) */
  error: Schema.optional(Schema.String),
  /** the reply Imprint gave the upstream */
  reply: TraceReply,
  copies: Schema.Array(TraceCopy),
  /** milliseconds from the start of DATA (a refusal: of its command) to the upstream reply */
  durationMs: Schema.Number
}

export class TraceRecord extends Schema.Class<TraceRecord>("TraceRecord")({
  /** time-ordered and unique on its node; also the paging cursor */
  id: Schema.String,
  /** the node that relayed it (`trace.node`, default `smtp.name`) */
  node: Schema.String,
  ...entryFields
}) {}

/** What the data plane reports: a record before the trace gave it an id and hashed its recipients. */
export type TraceEntry = Omit<TraceRecord, "id" | "node">

export interface TraceSinkApi {
  /**
   * Hands one transaction's entry to the trace. Never waits and never fails:
   * when the trace's queue is full the entry is dropped and counted.
   */
  readonly record: (entry: TraceEntry) => Effect.Effect<void>
}

export class TraceSink extends Context.Tag("imprint/TraceSink")<TraceSink, TraceSinkApi>() {}
