import { describe, expect, it } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Logger, Metric, TestClock } from "effect"
import type { TraceSettings } from "../../src/domain/Trace.js"
import { dropped, evicted, ruleCopies, transactions } from "../../src/trace/TraceMetrics.js"
import { TraceStore } from "../../src/trace/TraceStore.js"
import { DAY_MS, TraceOptions, type TraceOptionsShape, TraceSettingsSource, TraceWriter } from "../../src/trace/TraceWriter.js"
import { tempDir, traceStoreAt } from "../store/TempStore.js"
import { entry } from "./TraceFixtures.js"

/**
 * The trace's writer on a real LMDB in a temp folder: retention expiry driven
 * by the TestClock (keys ordered by time, per tenant), the storage bound
 * (oldest first, with a metric and a log line), and a full queue dropping
 * entries (counted) instead of making anyone wait.
 */

const options = (overrides: Partial<TraceOptionsShape> = {}): TraceOptionsShape => ({
  node: "node-1",
  queueCapacity: 1000,
  batchSize: 100,
  flushInterval: Duration.zero,
  maxRecords: 1_000_000,
  maxBytes: 1024 ** 3,
  retentionDays: 30,
  expiryInterval: Duration.hours(1),
  hashKey: Buffer.alloc(32, 7),
  tenantLabels: false,
  ...overrides
})

const settings: Record<string, TraceSettings> = { short: { retentionDays: 1 } as TraceSettings }

/** The writer over a store in a fresh temp folder, for one test's scope. */
const writerLayer = (overrides: Partial<TraceOptionsShape> = {}, logLines?: Array<string>) =>
  TraceWriter.Default.pipe(
    Layer.provide(
      logLines === undefined
        ? Layer.empty
        : Logger.replace(
            Logger.defaultLogger,
            Logger.make(({ message }) => logLines.push(String(message)))
          )
    ),
    Layer.provideMerge(Layer.unwrapScoped(Effect.map(tempDir, traceStoreAt))),
    Layer.provide(Layer.succeed(TraceOptions, options(overrides))),
    Layer.provide(Layer.succeed(TraceSettingsSource, (tenant: string) => Effect.succeed(settings[tenant])))
  )

const ids = (tenant?: string) =>
  Effect.flatMap(TraceStore, (store) =>
    Effect.suspend(() => {
      const out: Array<string> = []
      return Effect.as(
        store.scan({ tenant }, (key) => (out.push(`${key.tenant}/${key.id.slice(0, 13)}`), true)),
        out
      )
    })
  )

/** Real time passing (the writer's LMDB commits finish on another thread), bounded. */
const settle = (done: Effect.Effect<boolean, unknown, TraceStore>) =>
  Effect.gen(function* () {
    for (let i = 0; i < 1000 && !(yield* done); i++) yield* Effect.promise(() => new Promise((r) => setTimeout(r, 10)))
  })

const counterValue = (m: Metric.Metric.Counter<number>, reason: string) => Effect.map(Metric.value(Metric.tagged(m, "reason", reason)), (s) => s.count)

describe("TraceWriter", () => {
  const boundLines: Array<string> = []

  it.scoped("expires each tenant's records past its retention, by the clock, on its schedule", () =>
    Effect.gen(function* () {
      const writer = yield* TraceWriter
      // the clock starts at 0; records at day 0 for a 1-day tenant and a 30-day (default) tenant
      for (const t of ["short", "long"]) yield* writer.record(entry(t, 0))
      yield* writer.flush
      expect(yield* ids()).toHaveLength(2)

      yield* TestClock.adjust(Duration.hours(23))
      yield* writer.record(entry("short", 23 * 3_600_000))
      yield* writer.flush
      expect(yield* writer.expire).toBe(0)

      // at 36 h the scheduled expiry (every 12 h) removes short's day-0 record, nothing else
      const before = yield* counterValue(evicted, "retention")
      yield* TestClock.adjust(Duration.hours(14))
      yield* settle(Effect.map(counterValue(evicted, "retention"), (n) => n > before))
      // newest first, across tenants
      expect(yield* ids()).toEqual([`short/${String(23 * 3_600_000).padStart(13, "0")}`, `long/${"0".repeat(13)}`])
      expect((yield* counterValue(evicted, "retention")) - before).toBe(1)

      // past 30 days everything recorded at day 0 or 1 is gone
      // (a run that waited for LMDB sleeps from where the clock then was: step it on until the next run)
      yield* TestClock.adjust(Duration.days(30))
      yield* settle(
        Effect.zipRight(
          TestClock.adjust(Duration.hours(12)),
          Effect.map(counterValue(evicted, "retention"), (n) => n - before === 3)
        )
      )
      expect(yield* ids()).toEqual([])
      expect((yield* counterValue(evicted, "retention")) - before).toBe(3)
    }).pipe(Effect.provide(writerLayer({ expiryInterval: Duration.hours(12) })))
  )

  it.scoped("keeps records within retention untouched, also for a tenant whose id prefixes another's", () =>
    Effect.gen(function* () {
      const writer = yield* TraceWriter
      yield* TestClock.adjust(Duration.days(40))
      const now = 40 * DAY_MS
      yield* writer.record(entry("short", now - 2 * DAY_MS))
      yield* writer.record(entry("shorter", now - 2 * DAY_MS))
      yield* writer.record(entry("short", now - 1000))
      yield* writer.flush
      expect(yield* writer.expire).toBe(1)
      expect((yield* ids("short")).length).toBe(1)
      expect((yield* ids("shorter")).length).toBe(1)
    }).pipe(Effect.provide(writerLayer({ expiryInterval: Duration.days(365) })))
  )

  it.scoped("past maxRecords deletes the oldest records of all tenants first, with a metric and a log line", () =>
    Effect.gen(function* () {
      const writer = yield* TraceWriter
      const before = yield* counterValue(evicted, "bound")
      for (let i = 0; i < 25; i++) {
        yield* writer.record(entry(i % 2 === 0 ? "a" : "b", 1_000 + i))
        // batches of one: the bound is checked after each
        yield* writer.flush
      }
      const left = yield* ids()
      expect(left.length).toBeLessThanOrEqual(10)
      expect(left.length).toBeGreaterThanOrEqual(9)
      // the newest survive
      expect(left[0]).toBe(`a/${String(1_024).padStart(13, "0")}`)
      const times = left.map((k) => Number(k.slice(-13)))
      expect(Math.min(...times)).toBe(1_025 - left.length)
      expect((yield* counterValue(evicted, "bound")) - before).toBe(25 - left.length)
      expect(boundLines.some((l) => l.includes("storage bound reached"))).toBe(true)
    }).pipe(Effect.provide(writerLayer({ maxRecords: 10 }, boundLines)))
  )

  it.scoped("past maxBytes deletes the oldest records too", () =>
    Effect.gen(function* () {
      const writer = yield* TraceWriter
      for (let i = 0; i < 400; i++) yield* writer.record(entry("a", 1_000 + i, { messageId: `<${"x".repeat(200)}-${i}@example>` }))
      yield* writer.flush
      const store = yield* TraceStore
      const use = yield* store.usage()
      expect(use.records).toBeLessThan(400)
      expect(use.bytes).toBeLessThanOrEqual(64 * 1024)
      expect((yield* ids())[0]).toBe(`a/${String(1_399).padStart(13, "0")}`)
    }).pipe(Effect.provide(writerLayer({ maxBytes: 64 * 1024, batchSize: 10 })))
  )

  it.scoped("a full queue drops entries and counts them; nobody waits", () =>
    Effect.gen(function* () {
      const writer = yield* TraceWriter
      const before = yield* counterValue(dropped, "queue-full")
      // offered in one go, before the writer's fiber runs again
      yield* Effect.forEach(
        Array.from({ length: 100 }, (_, i) => entry("a", 1_000 + i)),
        writer.record,
        { discard: true }
      )
      yield* writer.flush
      const kept = (yield* ids()).length
      expect(kept).toBeLessThanOrEqual(3)
      expect((yield* counterValue(dropped, "queue-full")) - before).toBe(100 - kept)
    }).pipe(Effect.provide(writerLayer({ queueCapacity: 2 })))
  )

  it.scoped("counts what it writes per tenant, outcome and decision, and per rule only with tenant labels", () =>
    Effect.gen(function* () {
      const writer = yield* TraceWriter
      const value = (m: Metric.Metric.Counter<number>, tags: ReadonlyArray<readonly [string, string]>) =>
        Effect.map(Metric.value(tags.reduce((acc, [k, v]) => Metric.tagged(acc, k, v), m)), (s) => s.count)
      const stampedTags = [
        ["tenant", "metrics"],
        ["outcome", "relayed"],
        ["decision", "stamped"]
      ] as const
      const refusedTags = [
        ["tenant", "metrics"],
        ["outcome", "rejected"],
        ["decision", "sender-not-in-directory"]
      ] as const
      const ruleTags = [
        ["tenant", "metrics"],
        ["rule", "legal"],
        ["outcome", "relayed"]
      ] as const
      const before = [yield* value(transactions, stampedTags), yield* value(transactions, refusedTags), yield* value(ruleCopies, ruleTags)]
      const copy = { recipients: ["bob@example.org"], rules: ["sig", "legal"], templates: [], stamped: ["html"] as const, durationMs: 1 }
      for (let i = 0; i < 3; i++) yield* writer.record(entry("metrics", 1_000 + i, { decision: "stamped", reason: undefined, copies: [copy, copy] }))
      yield* writer.record(entry("metrics", 2_000, { outcome: "rejected" }))
      yield* writer.flush
      const after = [yield* value(transactions, stampedTags), yield* value(transactions, refusedTags), yield* value(ruleCopies, ruleTags)]
      // two copies × three messages with the rule
      expect(after.map((n, i) => n - before[i])).toEqual([3, 1, 6])
    }).pipe(Effect.provide(writerLayer({ tenantLabels: true })))
  )

  it.scoped("keeps no per-rule counts without tenant labels", () =>
    Effect.gen(function* () {
      const writer = yield* TraceWriter
      const before = (yield* Metric.value(Metric.tagged(Metric.tagged(Metric.tagged(ruleCopies, "tenant", "nolabels"), "rule", "sig"), "outcome", "relayed")))
        .count
      yield* writer.record(
        entry("nolabels", 1_000, { decision: "stamped", reason: undefined, copies: [{ recipients: [], rules: ["sig"], templates: [], stamped: ["text"] }] })
      )
      yield* writer.flush
      expect(
        (yield* Metric.value(Metric.tagged(Metric.tagged(Metric.tagged(ruleCopies, "tenant", "nolabels"), "rule", "sig"), "outcome", "relayed"))).count - before
      ).toBe(0)
    }).pipe(Effect.provide(writerLayer({ tenantLabels: false })))
  )

  it.scoped("writes what is still queued when its scope closes", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const store = traceStoreAt(dir)
      yield* Effect.scoped(
        Effect.gen(function* () {
          const writer = yield* TraceWriter
          yield* Effect.forEach(
            Array.from({ length: 50 }, (_, i) => entry("a", 1_000 + i)),
            writer.record,
            { discard: true }
          )
        }).pipe(
          Effect.provide(
            TraceWriter.Default.pipe(
              Layer.provide(store),
              Layer.provide(Layer.succeed(TraceOptions, options())),
              Layer.provide(Layer.succeed(TraceSettingsSource, () => Effect.succeed(undefined)))
            )
          )
        )
      )
      expect((yield* Effect.provide(ids(), store)).length).toBe(50)
    })
  )

  it.scoped("two workers' writers on one trace folder keep both records made in the same millisecond", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      // as `workers: 2` runs them: one trace folder, a writer per process, each with its share of the record ids
      const writerAt = (slot: number) =>
        Layer.build(
          TraceWriter.Default.pipe(
            Layer.provideMerge(traceStoreAt(dir)),
            Layer.provide(Layer.succeed(TraceOptions, options({ idSequence: { offset: slot, stride: 3 } }))),
            Layer.provide(Layer.succeed(TraceSettingsSource, () => Effect.succeed(undefined)))
          )
        )
      const one = yield* writerAt(1)
      const two = yield* writerAt(2)
      for (const ctx of [one, two]) {
        const writer = Context.get(ctx, TraceWriter)
        yield* writer.record(entry("acme", 5_000))
        yield* writer.flush
      }
      // the first writer's store reads through its own LMDB read snapshot, which may predate the
      // second writer's commit for a moment (a CI run saw one record): wait, bounded, for both
      yield* Effect.provide(settle(Effect.map(ids("acme"), (found) => found.length >= 2)), one)
      expect(yield* Effect.provide(ids("acme"), one)).toHaveLength(2)
    })
  )
})
