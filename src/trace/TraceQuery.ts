import { Data, Schema } from "effect"
import { TraceDecision, TraceOutcome, type TraceRecord } from "../domain/Trace.js"
import { hashAddress, tenantKey } from "./RecipientHash.js"

/**
 * What a trace search asks and answers (TraceSearch on one node, TraceFanout
 * across nodes): the query, the page, their errors and the record filter.
 */

/** one node's part of a merged page (TraceFanout) */
export interface NodeReport {
  readonly node: string
  readonly answered: boolean
  /** records this node looked at */
  readonly scanned?: number
  /** why it did not answer */
  readonly error?: string
}

/** records looked at per page at most */
export const SCAN_BUDGET = 100_000
/** records in one export at most; more is an error asking for a narrower range */
export const MAX_EXPORT = 50_000

export const TraceQuery = Schema.Struct({
  tenant: Schema.optional(Schema.String),
  sender: Schema.optional(Schema.String),
  recipient: Schema.optional(Schema.String),
  messageId: Schema.optional(Schema.String),
  /** epoch ms, inclusive */
  from: Schema.optional(Schema.Number),
  /** epoch ms, inclusive */
  to: Schema.optional(Schema.Number),
  outcome: Schema.optional(TraceOutcome),
  decision: Schema.optional(TraceDecision),
  reason: Schema.optional(Schema.String),
  rule: Schema.optional(Schema.String),
  limit: Schema.optional(Schema.Int),
  cursor: Schema.optional(Schema.String)
})
export type TraceQuery = typeof TraceQuery.Type

export interface TracePage {
  readonly records: ReadonlyArray<TraceRecord>
  /** pass as `cursor` for the next (older) page; absent when the range is exhausted */
  readonly next?: string
  /** records looked at for this page (every node's, in a cluster) */
  readonly scanned: number
  /** in a cluster: every node asked, and whether it answered */
  readonly nodes?: ReadonlyArray<NodeReport>
  /** in a cluster: true when a node did not answer (its records are missing from this page) */
  readonly partial?: boolean
}

export class TraceCursorInvalid extends Data.TaggedError("TraceCursorInvalid")<{ readonly cursor: string }> {}
/** In a cluster, an export with a node that did not answer: it would be silently incomplete. */
export class TraceNodesMissing extends Data.TaggedError("TraceNodesMissing")<{ readonly nodes: ReadonlyArray<string> }> {}
export class TraceExportTooLarge extends Data.TaggedError("TraceExportTooLarge")<{ readonly limit: number }> {}

/** `<id@host>`, `id@host` and ` <id@host> ` name the same message. */
export const normalizeMessageId = (s: string): string => s.trim().replace(/^<(.*)>$/, "$1")

export interface Stored {
  readonly tenant?: unknown
  readonly sender?: unknown
  readonly recipients?: ReadonlyArray<unknown>
  readonly messageId?: unknown
  readonly outcome?: unknown
  readonly decision?: unknown
  readonly reason?: unknown
  readonly copies?: ReadonlyArray<{ readonly rules?: ReadonlyArray<unknown> }>
}

export const matcher = (q: TraceQuery, hashSecret: Buffer) => {
  const sender = q.sender?.trim().toLowerCase()
  const recipient = q.recipient?.trim().toLowerCase()
  const messageId = q.messageId === undefined ? undefined : normalizeMessageId(q.messageId)
  const hashes = new Map<string, string>()
  const hashFor = (tenant: string) => {
    let h = hashes.get(tenant)
    if (h === undefined) hashes.set(tenant, (h = hashAddress(tenantKey(hashSecret, tenant), recipient!)))
    return h
  }
  return (v: Stored): boolean =>
    (sender === undefined || String(v.sender).toLowerCase() === sender) &&
    (messageId === undefined || (typeof v.messageId === "string" && normalizeMessageId(v.messageId) === messageId)) &&
    (q.outcome === undefined || v.outcome === q.outcome) &&
    (q.decision === undefined || v.decision === q.decision) &&
    (q.reason === undefined || v.reason === q.reason) &&
    (q.rule === undefined || (v.copies ?? []).some((c) => (c.rules ?? []).includes(q.rule!))) &&
    (recipient === undefined || (v.recipients ?? []).some((r) => typeof r === "string" && (r.toLowerCase() === recipient || r === hashFor(String(v.tenant)))))
}
