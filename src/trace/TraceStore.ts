import { Context, Effect } from "effect"
import { open, type Database, type RootDatabase } from "lmdb"
import type { TraceRecord } from "../domain/Trace.js"
import { prefixEnd } from "../store/Keys.js"
import { StoreError } from "../store/StoreError.js"

/**
 * The trace's own LMDB environment (`<dataDir>/trace`), apart from the
 * Store's: one write per message must not queue behind the Store's single
 * writer (tenant imports, directory syncs), the trace's size is bounded on its
 * own, and it is per node — never replicated (README "Message trace").
 *
 * Two databases, both ordered by time so that expiry and the storage bound
 * delete key ranges from the old end:
 *   records  `<tenant>/<id>` → the record (msgpack; Schema-decoded when searched)
 *   time     `<id>`          → the tenant (the all-tenants order, oldest first)
 * An id is `<epoch ms, 13 digits>-<sequence, 9 digits>`, so key order is time
 * order; the trailing "/" of a tenant prefix keeps tenant "a" from seeing "ab".
 */

export class TracePath extends Context.Tag("imprint/TracePath")<TracePath, string>() {}

export const RECORDS_DB = "trace-records"
export const TIME_DB = "trace-time"

const TIME_DIGITS = 13
const SEQUENCE_DIGITS = 9
const MAX_SEQUENCE = 10 ** SEQUENCE_DIGITS

/** The id prefix of a moment: every id of that millisecond or later sorts at or above it. */
export const timeKey = (ms: number): string => String(Math.max(0, Math.floor(ms))).padStart(TIME_DIGITS, "0")
export const makeId = (ms: number, sequence: number): string => `${timeKey(ms)}-${String(sequence % MAX_SEQUENCE).padStart(SEQUENCE_DIGITS, "0")}`
export const ID_PATTERN = /^\d{13}-\d{9}$/
export const tenantPrefix = (tenant: string): string => `${tenant}/`
export const recordKey = (tenant: string, id: string): string => `${tenantPrefix(tenant)}${id}`

/** A record's place in both databases. */
export interface TraceKey {
  readonly tenant: string
  readonly id: string
}

/** Newest-first scan bounds: ids in [from, to], below `before` when given (a cursor). */
export interface ScanRange {
  /** one tenant's records; absent: every tenant's, in time order */
  readonly tenant?: string | undefined
  /** epoch ms, inclusive */
  readonly from?: number | undefined
  /** epoch ms, inclusive */
  readonly to?: number | undefined
  /** an id: continue strictly below it */
  readonly before?: string | undefined
}

const storeError = (op: "read" | "write", message: string) => (cause: unknown) => new StoreError({ op, message: `${message}: ${String(cause)}`, cause })

const make = Effect.gen(function* () {
  const path = yield* TracePath
  const env: RootDatabase = yield* Effect.acquireRelease(
    Effect.try({
      try: () => open({ path, maxDbs: 4 }),
      catch: (cause) => new StoreError({ op: "open", message: `cannot open the trace's LMDB at ${path}: ${String(cause)}`, cause })
    }),
    (env) => Effect.promise(() => env.close()).pipe(Effect.catchAllDefect((e) => Effect.logError("closing the trace store failed", e)))
  )
  const records: Database = env.openDB({ name: RECORDS_DB })
  const time: Database<string, string> = env.openDB({ name: TIME_DB })

  /** One LMDB transaction for the whole batch: the writer's only commit per batch. */
  const write = (batch: ReadonlyArray<TraceRecord>) =>
    Effect.tryPromise({
      try: () =>
        env.transaction(() => {
          for (const r of batch) {
            records.put(recordKey(r.tenant, r.id), r)
            time.put(r.id, r.tenant)
          }
        }),
      catch: storeError("write", `writing ${batch.length} trace records failed`)
    })

  const remove = (keys: ReadonlyArray<TraceKey>) =>
    keys.length === 0
      ? Effect.void
      : Effect.tryPromise({
          try: () =>
            env.transaction(() => {
              for (const k of keys) {
                records.remove(recordKey(k.tenant, k.id))
                time.remove(k.id)
              }
            }),
          catch: storeError("write", `removing ${keys.length} trace records failed`)
        })

  /** Records and bytes in use (pages of both databases); O(1), read from LMDB's own counters. */
  const usage = () =>
    Effect.try({
      try: () => {
        const pages = (s: Record<string, number>) => (s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages) * s.pageSize
        const r = records.getStats() as Record<string, number>
        const t = time.getStats() as Record<string, number>
        return { records: t.entryCount, bytes: pages(r) + pages(t) }
      },
      catch: storeError("read", "reading the trace store's size failed")
    })

  /** The `limit` oldest records of every tenant. */
  const oldest = (limit: number) =>
    Effect.try({
      try: () => Array.from(time.getRange({ limit }), ({ key, value }): TraceKey => ({ id: String(key), tenant: value })),
      catch: storeError("read", "reading the oldest trace records failed")
    })

  /** Up to `limit` records of `tenant` older than `beforeMs`, oldest first. */
  const olderThan = (tenant: string, beforeMs: number, limit: number) =>
    Effect.try({
      try: () =>
        Array.from(records.getKeys({ start: tenantPrefix(tenant), end: recordKey(tenant, timeKey(beforeMs)), limit }), (key): TraceKey => ({
          tenant,
          id: String(key).slice(tenantPrefix(tenant).length)
        })),
      catch: storeError("read", `reading ${tenant}'s expired trace records failed`)
    })

  /** The tenants that have records: one seek per tenant, never a scan of their records. */
  const tenants = () =>
    Effect.try({
      try: () => {
        const out: Array<string> = []
        let start = ""
        for (;;) {
          const [key] = Array.from(records.getKeys({ start, limit: 1 }))
          if (key === undefined) return out
          const tenant = String(key).slice(0, String(key).indexOf("/"))
          out.push(tenant)
          start = prefixEnd(tenantPrefix(tenant))
        }
      },
      catch: storeError("read", "listing the trace's tenants failed")
    })

  /**
   * Visits records newest first within `range`; `visit` returns false to stop.
   * Values are msgpack-decoded by LMDB, not Schema-decoded: the caller filters
   * on plain fields and decodes what it keeps.
   */
  const scan = (range: ScanRange, visit: (key: TraceKey, value: unknown) => boolean) =>
    Effect.try({
      try: () => {
        const upper = range.to === undefined ? "\u{10FFFF}" : timeKey(range.to + 1)
        const high = range.before !== undefined && range.before < upper ? range.before : upper
        const low = range.from === undefined ? "" : timeKey(range.from)
        if (range.tenant !== undefined) {
          const prefix = tenantPrefix(range.tenant)
          for (const { key, value } of records.getRange({ start: prefix + high, end: prefix + low, reverse: true })) {
            const id = String(key).slice(prefix.length)
            if (id === range.before) continue
            if (!visit({ tenant: range.tenant, id }, value)) return
          }
          return
        }
        for (const { key, value: tenant } of time.getRange({ start: high, end: low, reverse: true })) {
          const id = String(key)
          if (id === range.before) continue
          const value = records.get(recordKey(tenant, id))
          if (value !== undefined && !visit({ tenant, id }, value)) return
        }
      },
      catch: storeError("read", "searching the trace failed")
    })

  return { write, remove, usage, oldest, olderThan, tenants, scan } as const
})

/** The trace's store; `TraceStore.Default` needs TracePath, which the composition root provides (Server.ts traceSearchLayer). */
export class TraceStore extends Effect.Service<TraceStore>()("imprint/TraceStore", { scoped: make }) {}
