import { Console, Effect, Schema } from "effect"
import { MAX_TRACE_PAGE } from "../domain/Paging.js"
import { TraceDecision, TraceOutcome, type TraceRecord } from "../domain/Trace.js"
import { traceCsv } from "./TraceCsv.js"
import { type TraceQuery, TraceSearch } from "./TraceSearch.js"

/**
 * `imprint trace search|export …`: the message trace from the command line,
 * read from the data folder's trace store (also while the server runs: LMDB
 * allows readers in other processes). The same filters as the admin API.
 */

export class TraceUsageError extends Schema.TaggedError<TraceUsageError>()("TraceUsageError", { message: Schema.String }) {}

const moment = (name: string, s: string | undefined) => {
  if (s === undefined) return Effect.succeed(undefined)
  const ms = /^\d{1,15}$/.test(s) ? Number(s) : Date.parse(s)
  return Number.isNaN(ms)
    ? Effect.fail(new TraceUsageError({ message: `--${name} ${s}: expected an ISO 8601 time such as 2026-12-06T10:00:00Z, or epoch milliseconds` }))
    : Effect.succeed(ms)
}

const literal = <A extends string>(name: string, schema: Schema.Schema<A>, s: string | undefined) =>
  s === undefined
    ? Effect.succeed(undefined)
    : Schema.decodeUnknown(schema)(s).pipe(Effect.mapError(() => new TraceUsageError({ message: `--${name} ${s}: not one of the allowed values` })))

/** The query the flags describe; wrong values are a usage error naming the flag. */
export const queryFromFlags = (flags: Readonly<Record<string, string>>) =>
  Effect.gen(function* () {
    const limit = flags.limit === undefined ? undefined : Number(flags.limit)
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= MAX_TRACE_PAGE)) {
      return yield* new TraceUsageError({ message: `--limit ${flags.limit}: expected a whole number from 1 to ${MAX_TRACE_PAGE}` })
    }
    const query: TraceQuery = {
      tenant: flags.tenant,
      sender: flags.sender,
      recipient: flags.recipient,
      messageId: flags["message-id"],
      from: yield* moment("from", flags.from),
      to: yield* moment("to", flags.to),
      outcome: yield* literal("outcome", TraceOutcome, flags.outcome),
      decision: yield* literal("decision", TraceDecision, flags.decision),
      reason: flags.reason,
      rule: flags.rule,
      limit,
      cursor: flags.cursor
    }
    return query
  })

/** One line per record: time, tenant, sender → recipients, Message-ID, decision, outcome, reply. */
export const tableLine = (r: TraceRecord): string =>
  [
    new Date(r.at).toISOString(),
    r.tenant,
    `${r.sender || "<>"} -> ${r.recipients.join(",")}`,
    r.messageId ?? "-",
    r.decision === "stamped" ? `stamped:${[...new Set(r.copies.flatMap((c) => c.rules))].join("+")}` : (r.reason ?? r.decision),
    r.outcome,
    `${r.reply.code} ${r.reply.enhanced ?? ""}`.trim()
  ].join("\t")

export const traceCommand = (args: ReadonlyArray<string>, flags: Readonly<Record<string, string>>, usage: string) =>
  Effect.gen(function* () {
    const [sub] = args
    if (sub !== "search" && sub !== "export") return yield* new TraceUsageError({ message: usage })
    const format = flags.format ?? (sub === "export" ? "csv" : "table")
    if (format !== "table" && format !== "json" && format !== "csv") return yield* new TraceUsageError({ message: `--format ${format}: table, json or csv` })
    const query = yield* queryFromFlags(flags)
    const trace = yield* TraceSearch
    if (sub === "export") {
      const records = yield* trace.exportAll(query)
      return yield* Console.log(format === "json" ? JSON.stringify(records, null, 2) : traceCsv(records).trimEnd())
    }
    const page = yield* trace.search(query)
    if (format === "json") return yield* Console.log(JSON.stringify(page, null, 2))
    if (format === "csv") yield* Console.log(traceCsv(page.records).trimEnd())
    else for (const r of page.records) yield* Console.log(tableLine(r))
    if (page.next !== undefined) yield* Console.error(`more: --cursor ${page.next}`)
  }).pipe(
    Effect.catchTags({
      TraceCursorInvalid: (e) => new TraceUsageError({ message: `--cursor ${e.cursor}: not a cursor this command printed` }),
      TraceExportTooLarge: (e) => new TraceUsageError({ message: `more than ${e.limit} records match: narrow --from/--to or add filters` })
    })
  )
