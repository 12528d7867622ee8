import { Context, Data, Effect, Either, Schema } from "effect"
import { TraceDecision, TraceOutcome, TraceRecord } from "../domain/Trace.js"
import { hashAddress, tenantKey } from "./RecipientHash.js"
import { ID_PATTERN, TraceStore } from "./TraceStore.js"

/**
 * Searching the trace: newest first, within a time range, one tenant's
 * records or (operators) every tenant's, filtered by sender, recipient,
 * Message-ID, outcome, decision, reason and rule. A page ends when it is full
 * or when SCAN_BUDGET records were looked at; either way `next` continues
 * exactly where it stopped, so a rare match in a long range costs the caller
 * more pages, never the server an unbounded scan. Filters read the stored
 * values as LMDB decoded them; only matches are Schema-decoded.
 */

/** The secret each tenant's recipient-hashing key is derived from (TraceLayer). */
export class TraceHashKey extends Context.Tag("imprint/TraceHashKey")<TraceHashKey, Buffer>() {}

export const DEFAULT_PAGE = 50
export const MAX_PAGE = 500
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
  /** records looked at for this page */
  readonly scanned: number
}

export class TraceCursorInvalid extends Data.TaggedError("TraceCursorInvalid")<{ readonly cursor: string }> {}
export class TraceExportTooLarge extends Data.TaggedError("TraceExportTooLarge")<{ readonly limit: number }> {}

/** `<id@host>`, `id@host` and ` <id@host> ` name the same message. */
export const normalizeMessageId = (s: string): string => s.trim().replace(/^<(.*)>$/, "$1")

interface Stored {
  readonly tenant?: unknown
  readonly sender?: unknown
  readonly recipients?: ReadonlyArray<unknown>
  readonly messageId?: unknown
  readonly outcome?: unknown
  readonly decision?: unknown
  readonly reason?: unknown
  readonly copies?: ReadonlyArray<{ readonly rules?: ReadonlyArray<unknown> }>
}

const matcher = (q: TraceQuery, hashSecret: Buffer) => {
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
    (recipient === undefined ||
      (v.recipients ?? []).some((r) => typeof r === "string" && (r.toLowerCase() === recipient || r === hashFor(String(v.tenant)))))
}

const decodeRecord = Schema.decodeUnknownEither(TraceRecord)

const make = Effect.gen(function* () {
  const store = yield* TraceStore
  const hashSecret = yield* TraceHashKey

  /** One page; `budget` bounds the records looked at. */
  const page = (q: TraceQuery, limit: number, budget: number) =>
    Effect.gen(function* () {
      if (q.cursor !== undefined && !ID_PATTERN.test(q.cursor)) return yield* new TraceCursorInvalid({ cursor: q.cursor })
      const matches = matcher(q, hashSecret)
      const records: Array<TraceRecord> = []
      let scanned = 0
      let last: string | undefined
      let full = false
      let undecodable = 0
      yield* store.scan({ tenant: q.tenant, from: q.from, to: q.to, before: q.cursor }, (key, value) => {
        if (records.length === limit || scanned === budget) {
          full = true
          return false
        }
        scanned++
        last = key.id
        if (typeof value !== "object" || value === null || !matches(value as Stored)) return true
        const decoded = decodeRecord(value)
        if (Either.isRight(decoded)) records.push(decoded.right)
        else undecodable++
        return true
      })
      if (undecodable > 0) yield* Effect.logWarning("message trace: records that do not decode were skipped").pipe(Effect.annotateLogs({ undecodable }))
      return (full && last !== undefined ? { records, next: last, scanned } : { records, scanned }) satisfies TracePage
    })

  const search = Effect.fn("TraceSearch.search")(function* (q: TraceQuery) {
    return yield* page(q, Math.max(1, Math.min(q.limit ?? DEFAULT_PAGE, MAX_PAGE)), SCAN_BUDGET)
  })

  /** Every match of `q` (from its cursor on), up to MAX_EXPORT; more is TraceExportTooLarge. */
  const exportAll = Effect.fn("TraceSearch.exportAll")(function* (q: TraceQuery) {
    const out: Array<TraceRecord> = []
    let cursor = q.cursor
    for (;;) {
      const p = yield* page({ ...q, cursor }, MAX_EXPORT + 1 - out.length, Number.MAX_SAFE_INTEGER)
      out.push(...p.records)
      if (out.length > MAX_EXPORT) return yield* new TraceExportTooLarge({ limit: MAX_EXPORT })
      if (p.next === undefined) return out as ReadonlyArray<TraceRecord>
      cursor = p.next
    }
  })

  return { search, exportAll } as const
})

export class TraceSearch extends Effect.Service<TraceSearch>()("imprint/TraceSearch", { effect: make }) {}
