import { Context, Effect, Either, Option, Schema } from "effect"
import { NodeMesh } from "../domain/NodeMesh.js"
import { DEFAULT_TRACE_PAGE, MAX_TRACE_PAGE } from "../domain/Paging.js"
import { TraceRecord } from "../domain/Trace.js"
import { mergedExport, mergedSearch } from "./TraceFanout.js"
import { MAX_EXPORT, matcher, SCAN_BUDGET, TraceCursorInvalid, TraceExportTooLarge, type TracePage, type TraceQuery, type Stored } from "./TraceQuery.js"
import { ID_PATTERN, TraceStore } from "./TraceStore.js"

/**
 * Searching the trace: newest first, within a time range, one tenant's
 * records or (operators) every tenant's, filtered by sender, recipient,
 * Message-ID, outcome, decision, reason and rule. A page ends when it is full
 * or when SCAN_BUDGET records were looked at; either way `next` continues
 * exactly where it stopped, so a rare match in a long range costs the caller
 * more pages, never the server an unbounded scan. Filters read the stored
 * values as LMDB decoded them; only matches are Schema-decoded. With NodeMesh
 * in context (a cluster) search and export ask every node (TraceFanout).
 */

/** The secret each tenant's recipient-hashing key is derived from (TraceLayer). */
export class TraceHashKey extends Context.Tag("imprint/TraceHashKey")<TraceHashKey, Buffer>() {}

export * from "./TraceQuery.js"

const decodeRecord = Schema.decodeUnknownEither(TraceRecord)

const make = Effect.gen(function* () {
  const store = yield* TraceStore
  const hashSecret = yield* TraceHashKey

  /** One page of this node's records; `budget` bounds the records looked at (also what it answers other nodes: TraceFanout). */
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

  const mesh = yield* Effect.serviceOption(NodeMesh)
  const merged = Option.map(mesh, (m) => ({ search: mergedSearch(m, page, hashSecret), exportAll: mergedExport(m, page, hashSecret) }))

  /** One page: this node's records, or in a cluster every node's, merged (TraceFanout). */
  const search = Effect.fn("TraceSearch.search")(function* (q: TraceQuery) {
    const limit = Math.max(1, Math.min(q.limit ?? DEFAULT_TRACE_PAGE, MAX_TRACE_PAGE))
    const found: TracePage = Option.isSome(merged) ? yield* merged.value.search(q, limit) : yield* page(q, limit, SCAN_BUDGET)
    return found
  })

  /** Every match of `q` (from its cursor on), up to MAX_EXPORT; more is TraceExportTooLarge. */
  const exportAll = Effect.fn("TraceSearch.exportAll")(function* (q: TraceQuery) {
    if (Option.isSome(merged)) return yield* merged.value.exportAll(q)
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

  return { search, exportAll, local: page } as const
})

export class TraceSearch extends Effect.Service<TraceSearch>()("imprint/TraceSearch", { effect: make }) {}
