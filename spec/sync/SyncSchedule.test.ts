import { expect, layer } from "@effect/vitest"
import { Duration, Effect, Option, TestClock } from "effect"
import { DirectorySync, FIRST_RUN_SPREAD } from "../../src/sync/DirectorySync.js"
import { SyncRepo } from "../../src/sync/SyncRepo.js"
import { TenantSyncSettings } from "../../src/domain/SyncSettings.js"
import { graphUser } from "./GraphStandIn.js"
import { graphSettings, standIn, syncTestLayer, tenantWithSources } from "./SyncHarness.js"

/** short: the store's 1-second change poll also sleeps on the TestClock, so every simulated second costs real work */
const INTERVAL = Duration.minutes(2)
const JITTER = 0.1

/** real-time polls of 10 ms: generous, because a loaded CI machine can take seconds to run a pass */
const MAX_POLLS = 2_500

/** Waits (in real time, bounded) until a pass finished after `after` (a lastFinishedAt, or undefined). */
const nextPass = (tenantId: string, after: string | undefined) =>
  Effect.gen(function* () {
    const sync = yield* DirectorySync
    for (let i = 0; i < MAX_POLLS; i++) {
      const running = yield* sync.running(tenantId)
      if (Option.isSome(running)) return yield* running.value
      const status = yield* sync.status(tenantId)
      if (status.state !== "running" && status.lastFinishedAt !== undefined && status.lastFinishedAt !== after) return status
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 10)))
    }
    throw new Error("the scheduler started no pass")
  })

const millis = (iso: string | undefined) => (iso === undefined ? Number.NaN : Date.parse(iso))

layer(syncTestLayer({ enabled: true, defaultInterval: INTERVAL, jitter: JITTER }))("directory sync schedule", (it) => {
  it.scoped("a tenant syncs within the first-run spread, then every interval ± jitter; removing its sources stops it", () =>
    Effect.gen(function* () {
      const graph = yield* standIn({ pageSize: 50 })
      for (let i = 0; i < 5; i++) graph.put(graphUser(i, "sched.example"))
      const tenantId = yield* tenantWithSources("s-sched", [graphSettings(graph)])
      const sync = yield* DirectorySync
      yield* sync.start()
      expect(yield* sync.scheduled).toContain(tenantId)
      const first = millis((yield* sync.status(tenantId)).nextRunAt)
      expect(first).toBeGreaterThanOrEqual(0)
      // the spread is the shorter of FIRST_RUN_SPREAD and the interval
      expect(first).toBeLessThanOrEqual(Duration.toMillis(Duration.min(FIRST_RUN_SPREAD, INTERVAL)))
      expect(graph.counts.deltaPages).toBe(0)

      // just past the first run: a longer jump could also reach the second run (due one interval
      // after a quick first pass) while the test has not yet changed the source
      yield* TestClock.adjust(Duration.millis(first - (yield* TestClock.currentTimeMillis) + 1_000))
      const firstPass = yield* nextPass(tenantId, undefined)
      expect(firstPass).toMatchObject({ state: "idle", mode: "full" })
      expect(graph.counts.deltaPages).toBe(1)

      // the next run is one jittered interval after the pass
      let next = Number.NaN
      for (let i = 0; i < MAX_POLLS && Number.isNaN(next); i++) {
        next = millis((yield* sync.status(tenantId)).nextRunAt)
        if (Number.isNaN(next)) yield* Effect.promise(() => new Promise((r) => setTimeout(r, 10)))
      }
      const gap = next - millis(firstPass.lastFinishedAt)
      expect(gap).toBeGreaterThanOrEqual(Duration.toMillis(INTERVAL) * (1 - JITTER))
      expect(gap).toBeLessThanOrEqual(Duration.toMillis(INTERVAL) * (1 + JITTER))

      graph.put(graphUser(99, "sched.example"))
      yield* TestClock.adjust(Duration.times(INTERVAL, 1 + JITTER))
      const second = yield* nextPass(tenantId, firstPass.lastFinishedAt)
      expect(second).toMatchObject({ state: "idle", mode: "delta", counts: { upserted: 1 } })

      // no sources left: the scheduler stops
      yield* (yield* SyncRepo).putSettings(tenantId, TenantSyncSettings.make({ sources: [] }))
      yield* sync.reschedule(tenantId)
      expect(yield* sync.scheduled).not.toContain(tenantId)
      yield* TestClock.adjust(Duration.times(INTERVAL, 3))
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 50)))
      expect(Option.isNone(yield* sync.running(tenantId))).toBe(true)
      expect(graph.counts.deltaPages).toBe(2)
    })
  )
})
