import { Clock, Context, Deferred, Duration, Effect, Layer, Metric, Schedule } from "effect"
import { type TraceEntry, type TraceRecord, type TraceSettings, TraceSink } from "../domain/Trace.js"
import { hashRecipients, tenantKey } from "./RecipientHash.js"
import { countDropped, countEvicted, countRecords, storedBytes, storedRecords } from "./TraceMetrics.js"
import type { StoreError } from "../store/StoreError.js"
import { makeId, type TraceKey, TraceStore } from "./TraceStore.js"

/**
 * The trace's writer: the data plane offers each transaction's entry to a
 * bounded queue and goes on (a full queue drops the entry and counts it: mail
 * never waits for the trace). One scoped fiber takes the first entry, lets more
 * gather for `flushInterval` (up to `batchSize`) and writes them in one LMDB
 * transaction, so a commit's cost is shared by every record of the interval.
 * Hashing recipients, ids and metrics happen here, off the mail path.
 *
 * A second fiber deletes records past their tenant's retention every
 * `expiryInterval`: keys are ordered by time, so that is a range of keys per
 * tenant, never a scan. After each batch the store's size (LMDB's own
 * counters, O(1)) is checked against `maxRecords` and `maxBytes`; over either,
 * the oldest records of all tenants go first, down to BOUND_LOW_WATER of it.
 */

export interface TraceOptionsShape {
  /** names this node in every record (multi-node search merges by it) */
  readonly node: string
  readonly queueCapacity: number
  readonly batchSize: number
  /**
   * After the first entry of a batch, how long more may gather before it is
   * written: a commit costs ~1 ms of CPU (LMDB syncs it to disk), so under
   * load one commit carries many records. A flush cuts it short.
   */
  readonly flushInterval: Duration.Duration
  readonly maxRecords: number
  readonly maxBytes: number
  /** days kept for a tenant without its own `trace.retentionDays` */
  readonly retentionDays: number
  readonly expiryInterval: Duration.Duration
  /** the node's secret from which each tenant's recipient-hashing key is derived */
  readonly hashKey: Buffer
  /**
   * This process's share of record ids when several processes write one
   * trace folder (`workers: N`): sequence numbers `offset`, `offset + stride`, …
   * so two workers never make the same id in the same millisecond. Absent: all of them.
   */
  readonly idSequence?: { readonly offset: number; readonly stride: number } | undefined
  /** keep per-rule counters (admin.metricsTenantLabels) */
  readonly tenantLabels: boolean
}

export class TraceOptions extends Context.Tag("imprint/TraceOptions")<TraceOptions, TraceOptionsShape>() {}

/** A tenant's trace settings (from the tenant file); undefined: the defaults. Never fails. */
export class TraceSettingsSource extends Context.Tag("imprint/TraceSettingsSource")<
  TraceSettingsSource,
  (tenant: string) => Effect.Effect<TraceSettings | undefined>
>() {}

export const DAY_MS = 86_400_000
/** after the bound is hit, delete down to this fraction of it, so a full store does not evict on every batch */
export const BOUND_LOW_WATER = 0.95
/** records removed per LMDB transaction by expiry and eviction */
export const REMOVE_CHUNK = 10_000

const make = Effect.gen(function* () {
  const store = yield* TraceStore
  const options = yield* TraceOptions
  const settingsOf = yield* TraceSettingsSource
  /**
   * The bounded queue, as a plain array: Effect's Queue rebuilds a Chunk per
   * take, which cost more than the rest of the writer per record (profiled).
   * `ready` is open while it holds entries.
   */
  let pending: Array<TraceEntry> = []
  const ready = Effect.unsafeMakeLatch(false)
  const takeUpTo = (n: number): Array<TraceEntry> => {
    const taken = pending.length <= n ? pending : pending.slice(0, n)
    pending = pending.length <= n ? [] : pending.slice(n)
    if (pending.length === 0) ready.unsafeClose()
    return taken
  }

  let written = 0
  const { offset, stride } = options.idSequence ?? { offset: 0, stride: 1 }
  /** entries accepted by the queue / taken and written (or lost to a failed write) */
  let offered = 0
  let settled = 0
  let waiters: Array<{ readonly until: number; readonly done: Deferred.Deferred<void> }> = []
  /** opened by flush: the batch being gathered is written now */
  const hurry = yield* Effect.makeLatch(false)
  const keys = new Map<string, Buffer>()
  const keyOf = (tenant: string) => {
    let key = keys.get(tenant)
    if (key === undefined) keys.set(tenant, (key = tenantKey(options.hashKey, tenant)))
    return key
  }

  const toRecord = (entry: TraceEntry, settings: TraceSettings | undefined): TraceRecord => {
    const kept = settings?.hashRecipients === true ? hashRecipients(entry, keyOf(entry.tenant)) : entry
    written = (written + 1) % 1_000_000_000
    return { id: makeId(entry.at, written * stride + offset), node: options.node, ...kept } as TraceRecord
  }

  /** Removes what `next` lists, chunk by chunk, until it lists less than a chunk. */
  const removeAll = (next: Effect.Effect<ReadonlyArray<TraceKey>, StoreError>) =>
    Effect.gen(function* () {
      let removed = 0
      for (;;) {
        const keys = yield* next
        yield* store.remove(keys)
        removed += keys.length
        if (keys.length < REMOVE_CHUNK) return removed
      }
    })

  const enforceBound = Effect.gen(function* () {
    const use = yield* store.usage()
    yield* Metric.set(storedRecords, use.records)
    yield* Metric.set(storedBytes, use.bytes)
    if (use.records <= options.maxRecords && use.bytes <= options.maxBytes) return
    const byRecords = use.records - Math.floor(options.maxRecords * BOUND_LOW_WATER)
    const byBytes = use.bytes > options.maxBytes ? Math.ceil(use.records * (1 - (options.maxBytes * BOUND_LOW_WATER) / use.bytes)) : 0
    const wanted = Math.max(byRecords, byBytes, 1)
    let removed = 0
    while (removed < wanted) {
      const keys = yield* store.oldest(Math.min(REMOVE_CHUNK, wanted - removed))
      if (keys.length === 0) break
      yield* store.remove(keys)
      removed += keys.length
    }
    yield* countEvicted("bound", removed)
    yield* Effect.logWarning("message trace: storage bound reached, oldest records deleted").pipe(
      Effect.annotateLogs({
        removed,
        records: use.records,
        bytes: use.bytes,
        maxRecords: options.maxRecords,
        maxBytes: options.maxBytes
      })
    )
  })

  const writeBatch = (entries: ReadonlyArray<TraceEntry>) =>
    Effect.gen(function* () {
      const settings = new Map<string, TraceSettings | undefined>()
      for (const e of entries) if (!settings.has(e.tenant)) settings.set(e.tenant, yield* settingsOf(e.tenant))
      const batch = entries.map((e) => toRecord(e, settings.get(e.tenant)))
      yield* store.write(batch)
      yield* countRecords(batch, options.tenantLabels)
      yield* enforceBound
    }).pipe(
      Effect.catchAllCause((cause) =>
        Effect.logError("message trace: a batch could not be written", cause).pipe(Effect.zipRight(countDropped("write-failed", entries.length)))
      ),
      Effect.ensuring(
        Effect.suspend(() => {
          settled += entries.length
          const ready = waiters.filter((w) => w.until <= settled)
          waiters = waiters.filter((w) => w.until > settled)
          return Effect.forEach(ready, (w) => Deferred.succeed(w.done, undefined), { discard: true })
        })
      )
    )

  /** Deletes every tenant's records older than its retention; answers how many. */
  const expire = Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    let removed = 0
    for (const tenant of yield* store.tenants()) {
      const days = (yield* settingsOf(tenant))?.retentionDays ?? options.retentionDays
      removed += yield* removeAll(store.olderThan(tenant, now - days * DAY_MS, REMOVE_CHUNK))
    }
    if (removed > 0) {
      yield* countEvicted("retention", removed)
      yield* Effect.logInfo("message trace: records past their retention deleted").pipe(Effect.annotateLogs({ removed }))
    }
    return removed
  })

  // A batch, once taken, is written whole even when the scope closes; what is
  // still queued then is written by the finalizer below, before the store closes.
  yield* Effect.addFinalizer(() => Effect.suspend(() => writeBatch(takeUpTo(Number.MAX_SAFE_INTEGER))))
  const gather = Effect.gen(function* () {
    yield* ready.await
    if (pending.length < options.batchSize && Duration.toMillis(options.flushInterval) > 0) {
      yield* Effect.raceFirst(Effect.sleep(options.flushInterval), hurry.await)
    }
    return takeUpTo(options.batchSize)
  })
  yield* gather.pipe(
    Effect.flatMap((batch) => Effect.uninterruptible(Effect.zipRight(hurry.close, writeBatch(batch)))),
    Effect.forever,
    Effect.forkScoped
  )
  yield* expire.pipe(
    Effect.catchAllCause((cause) => Effect.logError("message trace: expiry failed", cause)),
    Effect.repeat(Schedule.spaced(options.expiryInterval)),
    Effect.forkScoped
  )

  return {
    record: (entry: TraceEntry): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (pending.length >= options.queueCapacity) return countDropped("queue-full", 1)
        pending.push(entry)
        offered++
        if (pending.length === 1) ready.unsafeOpen()
        return Effect.void
      }),
    /** Waits until every entry offered so far is written (tests, shutdown checks). */
    flush: Effect.suspend(() => {
      if (settled >= offered) return Effect.void
      return Effect.flatMap(Deferred.make<void>(), (done) => {
        waiters.push({ until: offered, done })
        return Effect.zipRight(hurry.open, Deferred.await(done))
      })
    }),
    expire
  } as const
})

export class TraceWriter extends Effect.Service<TraceWriter>()("imprint/TraceWriter", { scoped: make }) {}

/** The data plane's sink: the writer, or (trace off) nothing at all. */
export const TraceSinkLive = Layer.effect(
  TraceSink,
  Effect.map(TraceWriter, (w) => ({ record: w.record }))
)
export const TraceSinkOff = Layer.succeed(TraceSink, { record: () => Effect.void })
