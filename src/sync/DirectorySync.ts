import { Cause, Clock, Context, Data, Deferred, Duration, Effect, Either, Exit, FiberMap, Layer, Metric, Option, Random, Schedule } from "effect"
import { DirectoryWriter } from "../domain/DirectoryWriter.js"
import { PhotoNormaliser } from "../domain/Photos.js"
import type { TenantId } from "../domain/Tenant.js"
import { makeSource } from "./Sources.js"
import { type PassResult, type PassSource, runPass, SyncFailed } from "./SyncPass.js"
import { SyncRepo } from "./SyncRepo.js"
import { DEFAULT_SYNC_INTERVAL_SECONDS, isScheduled, SyncStatus, type SyncCounts, type TenantSyncSettings } from "../domain/SyncSettings.js"

/**
 * One sync supervisor per tenant with sources (once `start` ran): a scheduler fiber (in a
 * FiberMap keyed by tenant) that runs a pass every interval, jittered so
 * tenants do not all sync at once, and restarts with backoff on a defect.
 * "Sync now" joins a running pass instead of starting a second one. Status
 * (with progress while running) is stored under sync/<tenant>/status, so the
 * CLI's passes show in the server's answers too.
 */

export interface SyncOptionsShape {
  /** off: no scheduled passes (sync now and the CLI still work) */
  readonly enabled: boolean
  readonly defaultInterval: Duration.Duration
  /** ±fraction of the interval, e.g. 0.1 */
  readonly jitter: number
}
export class SyncOptions extends Context.Tag("imprint/SyncOptions")<SyncOptions, SyncOptionsShape>() {
  static readonly defaults: SyncOptionsShape = { enabled: true, defaultInterval: Duration.seconds(DEFAULT_SYNC_INTERVAL_SECONDS), jitter: 0.1 }
  static readonly layer = (options: Partial<SyncOptionsShape> = {}) => Layer.succeed(SyncOptions, { ...SyncOptions.defaults, ...options })
}

/** a tenant that never synced (or is overdue) syncs within this spread of start-up, not all at the same instant */
export const FIRST_RUN_SPREAD = Duration.minutes(5)
/** after a failed pass the next attempt comes this soon (or at the interval, if shorter) */
export const RETRY_AFTER_FAILURE = Duration.minutes(15)
/** a progress log line every this many users seen (the status is updated more often) */
export const PROGRESS_LOG_EVERY = 10_000
/** the scheduler's restart backoff after a defect */
const SCHEDULER_RESTART = Schedule.exponential(Duration.seconds(1)).pipe(Schedule.union(Schedule.spaced(Duration.minutes(5))))

/** "Sync now" for a tenant without a (scheduled) source: the API answers 409 with this. */
export class NoSourceConfigured extends Data.TaggedError("NoSourceConfigured")<{ readonly tenantId: string }> {
  override get message() {
    return `tenant ${this.tenantId} has no directory source; configure one with PUT /tenants/${this.tenantId}/directory/sources`
  }
}

// ---- metrics (the tenant tag is dropped by the exporter unless admin.metricsTenantLabels) ----
const runs = Metric.counter("imprint_directory_sync_runs_total", { description: "directory sync passes, by result" })
const upserted = Metric.counter("imprint_directory_sync_users_upserted_total", { description: "directory entries written by sync" })
const removed = Metric.counter("imprint_directory_sync_users_removed_total", { description: "directory entries removed by sync" })
const rejected = Metric.counter("imprint_directory_sync_users_rejected_total", { description: "source entries refused by the mapping" })
const lastSuccess = Metric.gauge("imprint_directory_sync_last_success_timestamp_seconds", { description: "end of the last successful sync pass" })

const iso = (millis: number) => new Date(millis).toISOString()

const make = Effect.gen(function* () {
  const repo = yield* SyncRepo
  const options = yield* SyncOptions
  const scope = yield* Effect.scope
  const context = yield* Effect.context<SyncRepo | DirectoryWriter | PhotoNormaliser>()
  const running = new Map<string, Deferred.Deferred<SyncStatus>>()
  const nextRun = new Map<string, number>()
  const lock = yield* Effect.makeSemaphore(1)
  const schedulers = yield* FiberMap.make<string>()

  const status = Effect.fn("DirectorySync.status")(function* (tenantId: string) {
    const stored = Option.getOrElse(yield* repo.getStatus(tenantId), () =>
      SyncStatus.make({ state: "idle", counts: { seen: 0, upserted: 0, removed: 0, rejected: 0 } })
    )
    const next = nextRun.get(tenantId)
    return next === undefined ? stored : SyncStatus.make({ ...stored, nextRunAt: iso(next) })
  })

  const scheduledSources = (settings: Option.Option<TenantSyncSettings>) =>
    Option.match(settings, { onNone: () => [], onSome: (s) => s.sources.filter(isScheduled) })

  /** One pass with its status, metrics and log line; never fails (the failure is the status). */
  const passWithStatus = (tenantId: string) =>
    Effect.gen(function* () {
      const started = yield* Clock.currentTimeMillis
      const before = yield* status(tenantId)
      const put = (s: SyncStatus) => repo.putStatus(tenantId, s).pipe(Effect.catchAll((e) => Effect.logError("directory sync status not saved", e)))
      const runningStatus = (counts: SyncCounts, source: string) =>
        SyncStatus.make({ ...before, state: "running", lastStartedAt: iso(started), counts, currentSource: source || undefined, nextRunAt: undefined })
      yield* put(runningStatus({ seen: 0, upserted: 0, removed: 0, rejected: 0 }, ""))
      const progress = (counts: SyncCounts, source: string) =>
        put(runningStatus({ ...counts }, source)).pipe(
          Effect.zipRight(
            counts.seen > 0 && source !== "" && counts.seen % PROGRESS_LOG_EVERY === 0
              ? Effect.logInfo("directory sync progress").pipe(Effect.annotateLogs({ tenant: tenantId, source, ...counts }))
              : Effect.void
          )
        )
      const counts = { seen: 0, upserted: 0, removed: 0, rejected: 0 }
      const exit = yield* Effect.exit(
        Effect.gen(function* () {
          const settings = yield* repo.getSettings(tenantId).pipe(Effect.mapError((e) => new SyncFailed({ message: e.message, retryable: false })))
          const sources: Array<PassSource> = []
          for (const s of scheduledSources(settings)) {
            const made = makeSource(s)
            if (Either.isLeft(made)) return yield* new SyncFailed({ message: `${made.left.source}: ${made.left.message}`, retryable: false })
            sources.push({ name: s.name, source: made.right })
          }
          if (sources.length === 0) return yield* new SyncFailed({ message: new NoSourceConfigured({ tenantId }).message, retryable: false })
          return yield* runPass(tenantId as TenantId, sources, progress, counts)
        })
      )
      const finished = yield* Clock.currentTimeMillis
      const tags = (m: Metric.Metric.Counter<number>) => Metric.tagged(m, "tenant", tenantId)
      const seconds = ((finished - started) / 1000).toFixed(1)
      if (Exit.isSuccess(exit)) {
        const r: PassResult = exit.value
        const done = SyncStatus.make({
          state: "idle",
          mode: r.mode,
          lastStartedAt: iso(started),
          lastFinishedAt: iso(finished),
          lastSuccessAt: iso(finished),
          counts: r.counts
        })
        yield* put(done)
        yield* Metric.increment(Metric.tagged(tags(runs), "result", "success"))
        yield* Metric.incrementBy(tags(upserted), r.counts.upserted)
        yield* Metric.incrementBy(tags(removed), r.counts.removed)
        yield* Metric.incrementBy(tags(rejected), r.counts.rejected)
        yield* Metric.set(Metric.tagged(lastSuccess, "tenant", tenantId), finished / 1000)
        yield* Effect.logInfo(`directory sync done (${r.mode}) in ${seconds} s`).pipe(Effect.annotateLogs({ tenant: tenantId, ...r.counts }))
        return done
      }
      const error = Cause.failureOption(exit.cause).pipe(
        Option.map((e) => e.message),
        Option.getOrElse(() => Cause.pretty(exit.cause).split("\n")[0])
      )
      const failedStatus = SyncStatus.make({
        ...before,
        state: "failed",
        mode: undefined,
        lastStartedAt: iso(started),
        lastFinishedAt: iso(finished),
        lastError: error,
        counts: { ...counts },
        currentSource: undefined,
        nextRunAt: undefined
      })
      yield* put(failedStatus)
      yield* Metric.increment(Metric.tagged(tags(runs), "result", "failure"))
      yield* Effect.logWarning(`directory sync failed after ${seconds} s; the cached directory is kept: ${error}`).pipe(
        Effect.annotateLogs({ tenant: tenantId, ...counts })
      )
      return failedStatus
    }).pipe(Effect.withSpan("DirectorySync.pass", { attributes: { tenant: tenantId } }))

  /** Starts a pass unless one runs; either way, the pass's Deferred. */
  const trigger = (tenantId: string) =>
    lock.withPermits(1)(
      Effect.gen(function* () {
        const existing = running.get(tenantId)
        if (existing !== undefined) return existing
        const done = yield* Deferred.make<SyncStatus>()
        running.set(tenantId, done)
        yield* passWithStatus(tenantId).pipe(
          Effect.catchAllCause((cause) => Effect.logError("directory sync pass died", cause).pipe(Effect.zipRight(status(tenantId)), Effect.orDie)),
          Effect.flatMap((s) => Deferred.succeed(done, s)),
          Effect.ensuring(Effect.sync(() => running.delete(tenantId))),
          Effect.provide(context),
          Effect.forkIn(scope)
        )
        return done
      })
    )

  const requireSource = (tenantId: string) =>
    Effect.flatMap(repo.getSettings(tenantId).pipe(Effect.orElseSucceed(() => Option.none<TenantSyncSettings>())), (s) =>
      scheduledSources(s).length === 0 ? Effect.fail(new NoSourceConfigured({ tenantId })) : Effect.void
    )

  /** Starts a pass (or joins the running one) and answers at once with the running status. */
  const syncNow = Effect.fn("DirectorySync.syncNow")(function* (tenantId: string) {
    yield* requireSource(tenantId)
    yield* trigger(tenantId)
    const s = yield* status(tenantId)
    // the pass may not have written its first status yet
    return s.state === "running" ? s : SyncStatus.make({ ...s, state: "running", nextRunAt: undefined })
  })

  /** Runs a pass (or joins the running one) and answers with the final status (CLI, tests). */
  const runOnce = Effect.fn("DirectorySync.runOnce")(function* (tenantId: string) {
    yield* requireSource(tenantId)
    return yield* Deferred.await(yield* trigger(tenantId))
  })

  const jittered = (interval: Duration.Duration) =>
    Effect.map(Random.nextRange(-options.jitter, options.jitter), (f) => Duration.millis(Math.max(0, Duration.toMillis(interval) * (1 + f))))

  const intervalOf = (settings: Option.Option<TenantSyncSettings>) =>
    Option.flatMap(settings, (s) => Option.fromNullable(s.intervalSeconds)).pipe(
      Option.map(Duration.seconds),
      Option.getOrElse(() => options.defaultInterval)
    )

  const scheduler = (tenantId: string) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const settings = yield* repo.getSettings(tenantId).pipe(Effect.orElseSucceed(() => Option.none<TenantSyncSettings>()))
      const last = (yield* status(tenantId)).lastFinishedAt
      const spread = yield* Random.nextRange(0, Duration.toMillis(Duration.min(FIRST_RUN_SPREAD, intervalOf(settings))))
      // resume the rhythm after a restart: due one (jittered) interval after the last pass
      const due = last === undefined ? now : Date.parse(last) + Duration.toMillis(yield* jittered(intervalOf(settings)))
      let delay = Duration.millis(Math.max(0, due - now) + (due <= now ? spread : 0))
      while (true) {
        nextRun.set(tenantId, (yield* Clock.currentTimeMillis) + Duration.toMillis(delay))
        yield* Effect.sleep(delay)
        nextRun.delete(tenantId)
        const result = yield* Deferred.await(yield* trigger(tenantId))
        const interval = intervalOf(yield* repo.getSettings(tenantId).pipe(Effect.orElseSucceed(() => Option.none<TenantSyncSettings>())))
        delay = result.state === "failed" ? Duration.min(RETRY_AFTER_FAILURE, yield* jittered(interval)) : yield* jittered(interval)
      }
    }).pipe(
      Effect.catchAllDefect((defect) => Effect.logError("directory sync scheduler crashed; restarting", defect).pipe(Effect.zipRight(Effect.fail(defect)))),
      Effect.retry(SCHEDULER_RESTART),
      Effect.ensuring(Effect.sync(() => nextRun.delete(tenantId))),
      Effect.orDie
    )

  let started = false

  /** (Re)starts the tenant's scheduler after its sources changed, or stops it when none is left. */
  const reschedule = Effect.fn("DirectorySync.reschedule")(function* (tenantId: string) {
    if (!started) return
    const settings = yield* repo.getSettings(tenantId).pipe(Effect.orElseSucceed(() => Option.none<TenantSyncSettings>()))
    if (scheduledSources(settings).length === 0) yield* FiberMap.remove(schedulers, tenantId)
    else yield* FiberMap.run(schedulers, tenantId, scheduler(tenantId).pipe(Effect.provide(context)))
  })

  /**
   * Starts the schedulers (the server does; CLI one-shots and tests that only
   * want "sync now" do not). Idempotent; nothing when sync.enabled is off.
   */
  const start = Effect.fn("DirectorySync.start")(function* () {
    if (started || !options.enabled) return
    started = true
    const tenants = yield* repo.tenantsWithSettings().pipe(Effect.orElseSucceed(() => [] as ReadonlyArray<string>))
    for (const tenantId of tenants) yield* reschedule(tenantId)
    yield* Effect.logInfo(`directory sync scheduled for ${tenants.length} tenant(s)`)
  })

  return {
    start,
    /** the interval of tenants whose settings name none */
    defaultInterval: options.defaultInterval,
    status,
    syncNow,
    runOnce,
    reschedule,
    /** the running pass's final status, if a pass runs (tests wait on it instead of sleeping) */
    running: (tenantId: string) => Effect.sync(() => Option.fromNullable(running.get(tenantId)).pipe(Option.map(Deferred.await))),
    /** tenants with a scheduler */
    scheduled: Effect.sync(() => Array.from(nextRun.keys()))
  } as const
})

export class DirectorySync extends Effect.Service<DirectorySync>()("imprint/DirectorySync", {
  scoped: make,
  dependencies: [SyncRepo.Default]
}) {}
