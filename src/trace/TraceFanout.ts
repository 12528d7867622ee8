import { Effect, Either, Schema } from "effect"
import type { NodeMeshShape } from "../domain/NodeMesh.js"
import { MAX_TRACE_PAGE } from "../domain/Paging.js"
import { TraceRecord } from "../domain/Trace.js"
import type { StoreError } from "../store/StoreError.js"
import { decodeCursor, encodeCursor, type MergedCursor, mergePages, type NodePage, positionOf } from "./TraceMerge.js"
import {
  MAX_EXPORT,
  matcher,
  type NodeReport,
  SCAN_BUDGET,
  TraceCursorInvalid,
  TraceExportTooLarge,
  TraceNodesMissing,
  type TracePage,
  TraceQuery
} from "./TraceQuery.js"
import { ID_PATTERN, timeKey } from "./TraceStore.js"

/**
 * The trace search across a cluster's nodes (README "Message trace",
 * "Several nodes"). Each node keeps its own records; the node serving the API
 * asks every announced node for a page below that node's position in the
 * cursor (itself without the network), waits at most NODE_ANSWER_TIMEOUT_MS
 * for each, re-checks what came back against the query (tenant, time range,
 * filters: a node's answer is never trusted to be scoped) and merges the
 * pages (TraceMerge). A node that did not answer is named in `nodes` and the
 * page says `partial: true`; an export refuses to be silently incomplete.
 */

export const TRACE_TOPIC = "trace.search"
/** how long a search waits for each node's page */
export const NODE_ANSWER_TIMEOUT_MS = 2_000
/** a reply stays below NATS's default max_payload (1 MiB): a larger page is cut, its `next` says where */
export const MAX_REPLY_BYTES = 900_000

type LocalPage = (q: TraceQuery, limit: number, budget: number) => Effect.Effect<TracePage, StoreError | TraceCursorInvalid>

const PageRequest = Schema.parseJson(Schema.Struct({ query: TraceQuery, before: Schema.optional(Schema.String), limit: Schema.Int }))
const PageReply = Schema.parseJson(
  Schema.Struct({
    records: Schema.optional(Schema.Array(TraceRecord)),
    next: Schema.optional(Schema.String),
    scanned: Schema.optional(Schema.Int),
    error: Schema.optional(Schema.String)
  })
)
const encodeRequest = Schema.encodeSync(PageRequest)
const decodeRequest = Schema.decodeUnknownEither(PageRequest)
const encodeReply = Schema.encodeSync(PageReply)
const decodeReply = Schema.decodeUnknownEither(PageReply)

const bytes = (s: string) => new TextEncoder().encode(s)
const text = (b: Uint8Array) => new TextDecoder().decode(b)

/** The reply to another node: this node's page, cut below MAX_REPLY_BYTES (its `next` then the last record kept). */
export const replyFor = (page: TracePage): string => {
  let records = page.records
  let next = page.next
  for (;;) {
    const json = encodeReply({ records, next, scanned: page.scanned })
    if (Buffer.byteLength(json) <= MAX_REPLY_BYTES || records.length <= 1) return json
    records = records.slice(0, Math.ceil(records.length / 2))
    next = records[records.length - 1].id
  }
}

/** Answers the other nodes' page requests with this node's records, for as long as the scope lives. */
export const serveTracePages = (mesh: NodeMeshShape, page: LocalPage) =>
  mesh.answer(TRACE_TOPIC, (request) => {
    const decoded = decodeRequest(text(request))
    if (Either.isLeft(decoded)) return Effect.succeed(bytes(encodeReply({ error: "not a trace page request" })))
    const { query, before, limit } = decoded.right
    return page({ ...query, cursor: before }, Math.max(1, Math.min(limit, MAX_TRACE_PAGE)), SCAN_BUDGET).pipe(
      Effect.map(replyFor),
      Effect.catchAll((e) => Effect.succeed(encodeReply({ error: e._tag === "StoreError" ? e.message : `cursor ${e.cursor} refused` }))),
      Effect.map(bytes)
    )
  })

interface Answer {
  readonly report: NodeReport
  readonly page?: NodePage
}

const missing = (node: string, error: string): Answer => ({ report: { node, answered: false, error } })

/** A record another node sent is kept only if this node's own search would have kept it. */
const recheck = (q: TraceQuery, hashSecret: Buffer, before: string | undefined) => {
  const matches = matcher(q, hashSecret)
  const low = q.from === undefined ? "" : timeKey(q.from)
  const high = q.to === undefined ? undefined : timeKey(q.to + 1)
  return (r: TraceRecord) =>
    (q.tenant === undefined || r.tenant === q.tenant) &&
    ID_PATTERN.test(r.id) &&
    r.id >= low &&
    (high === undefined || r.id < high) &&
    (before === undefined || r.id < before) &&
    matches(r)
}

const askNode =
  (mesh: NodeMeshShape, page: LocalPage, hashSecret: Buffer, q: TraceQuery, limit: number, prior: MergedCursor | undefined) =>
  (node: string): Effect.Effect<Answer, StoreError | TraceCursorInvalid> => {
    const position = positionOf(prior, node)
    if (position === "done") return Effect.succeed({ report: { node, answered: true, scanned: 0 } })
    const before = position === "top" ? undefined : position
    if (node === mesh.self) {
      return Effect.map(page({ ...q, cursor: before }, limit, SCAN_BUDGET), (p) => ({
        report: { node, answered: true, scanned: p.scanned },
        page: { node, before, records: p.records, next: p.next }
      }))
    }
    return mesh.ask(node, TRACE_TOPIC, bytes(encodeRequest({ query: q, before, limit })), NODE_ANSWER_TIMEOUT_MS).pipe(
      Effect.flatMap((reply) => {
        const decoded = decodeReply(text(reply))
        if (Either.isLeft(decoded)) return Effect.succeed(missing(node, "its answer was not a trace page"))
        const r = decoded.right
        if (r.error !== undefined) return Effect.succeed(missing(node, r.error))
        if (r.next !== undefined && !(ID_PATTERN.test(r.next) && (before === undefined || r.next < before))) {
          return Effect.succeed(missing(node, "its answer did not go on below its position"))
        }
        const keep = recheck(q, hashSecret, before)
        const records = (r.records ?? []).filter(keep)
        const dropped = (r.records ?? []).length - records.length
        const log =
          dropped === 0
            ? Effect.void
            : Effect.logWarning("message trace: records from another node outside the query were dropped").pipe(Effect.annotateLogs({ node, dropped }))
        return Effect.as(log, { report: { node, answered: true, scanned: r.scanned ?? 0 }, page: { node, before, records, next: r.next } })
      }),
      Effect.catchTag("NodeUnreachable", (e) => Effect.succeed(missing(node, e.message)))
    )
  }

/** One merged page of every node's records (TraceSearch.search in a cluster). */
export const mergedSearch = (mesh: NodeMeshShape, page: LocalPage, hashSecret: Buffer) =>
  Effect.fn("TraceFanout.search")(function* (q: TraceQuery, limit: number) {
    const prior = q.cursor === undefined ? undefined : decodeCursor(q.cursor)
    if (q.cursor !== undefined && prior === undefined) return yield* new TraceCursorInvalid({ cursor: q.cursor })
    const { cursor: _c, limit: _l, ...query } = q
    const listed = yield* Effect.either(mesh.nodes())
    const names = Either.isRight(listed) ? listed.right : [mesh.self]
    const answers = yield* Effect.forEach(names, askNode(mesh, page, hashSecret, query, limit, prior), { concurrency: "unbounded" })
    const reports = answers.map((a) => a.report)
    if (Either.isLeft(listed)) reports.push({ node: "*", answered: false, error: `the list of nodes could not be read: ${listed.left.message}` })
    const merged = mergePages(
      answers.flatMap((a) => (a.page === undefined ? [] : [a.page])),
      limit,
      prior
    )
    return {
      records: merged.records,
      ...(merged.next === undefined ? {} : { next: encodeCursor(merged.next) }),
      scanned: reports.reduce((n, r) => n + (r.scanned ?? 0), 0),
      nodes: reports,
      partial: reports.some((r) => !r.answered)
    } satisfies TracePage
  })

/** Every match across the nodes, up to MAX_EXPORT; a node that did not answer fails it (TraceNodesMissing). */
export const mergedExport = (mesh: NodeMeshShape, page: LocalPage, hashSecret: Buffer) => {
  const search = mergedSearch(mesh, page, hashSecret)
  return Effect.fn("TraceFanout.exportAll")(function* (q: TraceQuery) {
    const out: Array<TraceRecord> = []
    let cursor = q.cursor
    for (;;) {
      const p = yield* search({ ...q, cursor }, MAX_TRACE_PAGE)
      if (p.partial === true) return yield* new TraceNodesMissing({ nodes: (p.nodes ?? []).filter((n) => !n.answered).map((n) => n.node) })
      out.push(...p.records)
      if (out.length > MAX_EXPORT) return yield* new TraceExportTooLarge({ limit: MAX_EXPORT })
      if (p.next === undefined) return out as ReadonlyArray<TraceRecord>
      cursor = p.next
    }
  })
}
