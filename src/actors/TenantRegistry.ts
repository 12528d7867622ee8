import { Clock, Context, Deferred, Duration, Effect, ExecutionStrategy, Exit, Metric, Option, Queue, Ref, Scope } from "effect"
import { randomBytes } from "node:crypto"
import type { SessionBinding } from "../domain/Binding.js"
import { Tenant, type TenantId } from "../domain/Tenant.js"
import * as Keys from "../store/Keys.js"
import { Db } from "../store/Keys.js"
import * as PasswordHash from "../store/PasswordHash.js"
import { Store } from "../store/Store.js"
import { TenantRepo } from "../store/TenantRepo.js"
import { AuthCache, authVerificationBy } from "./AuthCache.js"
import * as ConnectorIndex from "./ConnectorIndex.js"
import type { AuthEntry } from "./ConnectorIndex.js"
import * as TenantActor from "./TenantActor.js"
import type { TenantActorError } from "./TenantProtocol.js"

/**
 * Finds the actor of a tenant (starting it on first use, one per tenant even
 * under concurrent first calls; stopping it after the idle stop without use,
 * or as least recently used past the warm budget: WarmTenantLimits) and
 * binds SMTP sessions to tenants by connector. The connector index is kept in
 * memory and patched for the tenants each change names (the store's change
 * log); a bind also checks the store's revision first, so the connection
 * after an import already sees it.
 */

const connectorIndexUpdatesTotal = Metric.counter("imprint_connector_index_updates_total", {
  description: "connector index updates: `patch` re-reads the tenants a change named, `rebuild` reads every tenant",
  incremental: true
})
/** how the connector index caught up with the store (specs and perf count the rebuilds) */
export const connectorIndexUpdates = {
  patch: Metric.tagged(connectorIndexUpdatesTotal, "kind", "patch"),
  rebuild: Metric.tagged(connectorIndexUpdatesTotal, "kind", "rebuild")
}

/** the default idle stop (config `tenants.idleStopSeconds`) */
export const IDLE_LIMIT = Duration.minutes(10)
/** the idle sweep runs this often at most, and at least four times per idle stop */
export const IDLE_SWEEP_INTERVAL = Duration.minutes(1)

/**
 * How many tenant actors stay warm (config `tenants`): past `maxWarm` actors
 * or `memoryBudgetBytes` of their estimated memory (ActorMemory.ts), the
 * least recently used idle ones are stopped when another starts; an actor
 * unused for `idleStop` is stopped by the sweep. 0: no limit. A stopped
 * tenant starts again on its next message (a cold start).
 */
export class WarmTenantLimits extends Context.Tag("imprint/WarmTenantLimits")<
  WarmTenantLimits,
  {
    readonly maxWarm: number
    readonly memoryBudgetBytes: number
    readonly idleStop: Duration.Duration
  }
>() {}

const DEFAULT_LIMITS = { maxWarm: 0, memoryBudgetBytes: 0, idleStop: IDLE_LIMIT }

const warmGauge = Metric.gauge("imprint_tenant_actors_warm", { description: "tenant actors running (warm)" })
const warmBytesGauge = Metric.gauge("imprint_tenant_actors_estimated_bytes", {
  description: "estimated memory the warm tenant actors hold (directory index, compiled templates, caches; src/actors/ActorMemory.ts)"
})
const stoppedTotal = Metric.counter("imprint_tenant_actors_stopped_total", {
  description: "tenant actors stopped: `idle` by the idle stop, `budget` as least recently used past the warm budget",
  incremental: true
})
export const actorsStopped = {
  idle: Metric.tagged(stoppedTotal, "reason", "idle"),
  budget: Metric.tagged(stoppedTotal, "reason", "budget")
}

interface Slot {
  readonly scope: Scope.CloseableScope
  readonly actor: Deferred.Deferred<TenantActor.TenantActor, TenantActorError>
  /** the actor once started: what the per-message fast path hands out without the slot lock */
  started: TenantActor.TenantActor | undefined
  lastUsed: number
}

const make = Effect.gen(function* () {
  const store = yield* Store
  const repo = yield* TenantRepo
  const registryScope = yield* Effect.scope
  const limits = Option.getOrElse(yield* Effect.serviceOption(WarmTenantLimits), () => DEFAULT_LIMITS)
  const context = yield* Effect.context<Store | TenantRepo>()

  // ---- actors -------------------------------------------------------------
  const slots = new Map<TenantId, Slot>()
  const slotLock = yield* Effect.makeSemaphore(1)

  const closeSlot = (tenantId: TenantId, slot: Slot) =>
    Effect.suspend(() => {
      if (slots.get(tenantId) === slot) slots.delete(tenantId)
      return Scope.close(slot.scope, Exit.void)
    })

  /**
   * The tenant's running actor, started on first use. Called twice per
   * message, so a running actor is handed out without the lock or a span;
   * starting, restarting and the idle sweep go through the lock.
   */
  const actor = (tenantId: TenantId): Effect.Effect<TenantActor.TenantActor, TenantActorError> =>
    Effect.clockWith((clock) => {
      const running = runningActor(tenantId, clock.unsafeCurrentTimeMillis())
      return running !== undefined ? Effect.succeed(running) : startOrWait(tenantId)
    })

  /** `actor` as a plain call when the tenant's actor runs (marked used at `now`); undefined: ask `actor`, which starts it */
  const runningActor = (tenantId: TenantId, now: number): TenantActor.TenantActor | undefined => {
    const slot = slots.get(tenantId)
    const running = slot?.started
    if (running === undefined || running.isStopped()) return undefined
    slot!.lastUsed = now
    return running
  }

  const startOrWait = Effect.fn("TenantRegistry.actor")(function* (tenantId: TenantId) {
    const now = yield* Clock.currentTimeMillis
    const [slot, isNew] = yield* slotLock.withPermits(1)(
      Effect.gen(function* () {
        const existing = slots.get(tenantId)
        if (existing !== undefined) {
          const started = yield* Deferred.poll(existing.actor)
          const exit = Option.isSome(started) ? yield* Effect.exit(started.value) : undefined
          const dead = exit !== undefined && Exit.isSuccess(exit) && exit.value.isStopped()
          if (!dead) {
            existing.lastUsed = now
            return [existing, false] as const
          }
          // crashed too often: a fresh actor on the next request
          yield* closeSlot(tenantId, existing)
        }
        const fresh: Slot = {
          scope: yield* Scope.fork(registryScope, ExecutionStrategy.sequential),
          actor: yield* Deferred.make<TenantActor.TenantActor, TenantActorError>(),
          started: undefined,
          lastUsed: now
        }
        slots.set(tenantId, fresh)
        return [fresh, true] as const
      })
    )
    if (isNew) {
      // started in the registry's scope, so a caller interrupted mid-start leaves no half-made slot
      yield* TenantActor.make(tenantId).pipe(
        Scope.extend(slot.scope),
        Effect.provide(context),
        Effect.exit,
        Effect.tap((exit) => {
          if (Exit.isSuccess(exit)) slot.started = exit.value
          return Exit.isFailure(exit) ? slotLock.withPermits(1)(closeSlot(tenantId, slot)) : enforceBudget(tenantId)
        }),
        Effect.flatMap((exit) => Deferred.done(slot.actor, exit)),
        Effect.forkIn(registryScope)
      )
    }
    return yield* Deferred.await(slot.actor)
  })

  /** the warm actors (started, not stopped) with their slots */
  const warm = () => {
    const out: Array<{ tenantId: TenantId; slot: Slot; actor: TenantActor.TenantActor }> = []
    for (const [tenantId, slot] of slots) {
      if (slot.started !== undefined && !slot.started.isStopped()) out.push({ tenantId, slot, actor: slot.started })
    }
    return out
  }

  const publishGauges = Effect.suspend(() => {
    const actors = warm()
    return Metric.set(warmGauge, actors.length).pipe(
      Effect.zipRight(
        Metric.set(
          warmBytesGauge,
          actors.reduce((sum, a) => sum + a.actor.estimatedBytes(), 0)
        )
      )
    )
  })

  /**
   * Past the warm budget: stops the least recently used idle actors (never
   * `keep`, the one just started, nor one with requests in flight) until the
   * count and the estimated memory are within it.
   */
  const enforceBudget = (keep: TenantId) =>
    slotLock
      .withPermits(1)(
        Effect.gen(function* () {
          const actors = warm()
          let count = actors.length
          const overCount = () => limits.maxWarm > 0 && count > limits.maxWarm
          let bytes = limits.memoryBudgetBytes > 0 ? actors.reduce((sum, a) => sum + a.actor.estimatedBytes(), 0) : 0
          const overBytes = () => limits.memoryBudgetBytes > 0 && bytes > limits.memoryBudgetBytes
          if (!overCount() && !overBytes()) return
          const candidates = actors.filter((a) => a.tenantId !== keep && a.actor.inFlight() === 0).sort((a, b) => a.slot.lastUsed - b.slot.lastUsed)
          for (const a of candidates) {
            if (!overCount() && !overBytes()) break
            bytes -= a.actor.estimatedBytes()
            count--
            yield* closeSlot(a.tenantId, a.slot)
            yield* Metric.increment(actorsStopped.budget)
            yield* Effect.logDebug("stopped least recently used tenant actor (warm budget)").pipe(Effect.annotateLogs({ tenant: a.tenantId }))
          }
        })
      )
      .pipe(Effect.zipRight(publishGauges))

  const sweepIdle = slotLock
    .withPermits(1)(
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        for (const [tenantId, slot] of Array.from(slots)) {
          const started = yield* Deferred.poll(slot.actor)
          if (Option.isNone(started)) continue
          const busy = yield* started.value.pipe(
            Effect.map((a) => a.inFlight() > 0),
            Effect.orElseSucceed(() => false)
          )
          if (!busy && now - slot.lastUsed >= Duration.toMillis(limits.idleStop)) {
            yield* closeSlot(tenantId, slot)
            yield* Metric.increment(actorsStopped.idle)
            yield* Effect.logDebug("stopped idle tenant actor").pipe(Effect.annotateLogs({ tenant: tenantId }))
          }
        }
      })
    )
    .pipe(Effect.zipRight(publishGauges))
  const sweepInterval = Duration.max(
    Duration.seconds(1),
    Duration.min(IDLE_SWEEP_INTERVAL, Duration.divide(limits.idleStop, 4).pipe(Option.getOrElse(() => IDLE_SWEEP_INTERVAL)))
  )
  yield* sweepIdle.pipe(Effect.delay(sweepInterval), Effect.forever, Effect.forkScoped)

  // ---- connector index ----------------------------------------------------
  const index = yield* Ref.make(ConnectorIndex.empty)
  const rebuildLock = yield* Effect.makeSemaphore(1)

  /** One bad tenant record is skipped (and logged), not a reason to bind nobody. */
  const readTenants = Effect.gen(function* () {
    const keys = yield* store.keys(Db.tenants, Keys.TENANT_KEY_ROOT)
    const tenants: Array<Tenant> = []
    for (const key of keys) {
      const tenant = yield* store.get(Db.tenants, repo.storedTenant, key).pipe(
        Effect.tapError((e) => Effect.logError("tenant record skipped by the connector index", e)),
        Effect.orElseSucceed(() => Option.none<Tenant>())
      )
      if (Option.isSome(tenant)) tenants.push(tenant.value)
    }
    return tenants
  })

  /**
   * Brings the index to the store's revision: the tenants rewritten since
   * (the store's change log names them) are read and patched in, one record
   * each; a whole rebuild only at start or when the log does not reach back.
   */
  const rebuild = rebuildLock
    .withPermits(1)(
      Effect.gen(function* () {
        const revision = store.dbRevision(Db.tenants)
        const current = yield* Ref.get(index)
        if (current.revision === revision) return
        const changed = current.revision < 0 ? undefined : store.tenantsRewrittenSince(current.revision, revision)
        if (changed === undefined) {
          yield* Ref.set(index, ConnectorIndex.build(yield* readTenants, revision))
          yield* Metric.increment(connectorIndexUpdates.rebuild)
          return
        }
        const records = new Map<TenantId, Tenant | undefined>()
        for (const id of changed) {
          const tenant = yield* store.get(Db.tenants, Tenant, Keys.tenantKey(id)).pipe(
            Effect.tapError((e) => Effect.logError("tenant record skipped by the connector index", e)),
            Effect.orElseSucceed(() => Option.none<Tenant>())
          )
          records.set(id, Option.getOrUndefined(tenant))
        }
        yield* Ref.set(index, ConnectorIndex.patch(current, records, revision))
        yield* Metric.increment(connectorIndexUpdates.patch)
      })
    )
    .pipe(Effect.catchAll((e) => Effect.logError("connector index update failed; keeping the previous one", e)))

  const freshIndex = Effect.suspend(() =>
    Ref.get(index).pipe(
      Effect.flatMap((current) => (current.revision === store.dbRevision(Db.tenants) ? Effect.succeed(current) : rebuild.pipe(Effect.zipRight(Ref.get(index)))))
    )
  )

  const changes = yield* store.subscribe
  yield* rebuild
  const dirty = yield* Queue.sliding<void>(1)
  yield* Queue.take(changes).pipe(
    Effect.flatMap((c) => (c.entity === Db.tenants ? Queue.offer(dirty, undefined) : Effect.void)),
    Effect.forever,
    Effect.forkScoped
  )
  yield* Queue.take(dirty).pipe(Effect.zipRight(rebuild), Effect.forever, Effect.forkScoped)

  // a dummy hash with the real parameters: an unknown user costs the same scrypt as a wrong password
  const dummyHash = yield* PasswordHash.hash(randomBytes(16).toString("base64"))

  const authCache = new AuthCache()

  const bindByCredentials = Effect.fn("TenantRegistry.bindByCredentials")(function* (username: string, password: string) {
    const entries = (yield* freshIndex).byUsername.get(username) ?? []
    const now = yield* Clock.currentTimeMillis
    const cached = authCache.lookup(username, password, entries, now)
    if (cached !== undefined) {
      yield* Metric.increment(authVerificationBy.cached)
      return Option.some(cached)
    }
    yield* Metric.increment(authVerificationBy.scrypt)
    if (entries.length === 0) {
      yield* PasswordHash.verify(password, dummyHash)
      return Option.none<TenantId>()
    }
    const matching: Array<AuthEntry> = []
    for (const entry of entries) {
      if (yield* PasswordHash.verify(password, entry.passwordHash)) matching.push(entry)
    }
    if (matching.length > 1) {
      yield* Effect.logWarning("auth username matches several tenants; binding none").pipe(
        Effect.annotateLogs({ tenants: matching.map((m) => m.tenantId).join(",") })
      )
    }
    if (matching.length !== 1) return Option.none<TenantId>()
    if (entries.length === 1) authCache.remember(username, password, matching[0], now)
    return Option.some(matching[0].tenantId)
  })

  const bindByCertificate = Effect.fn("TenantRegistry.bindByCertificate")(function* (fingerprint256: string) {
    const tenants = ConnectorIndex.matchFingerprint(yield* freshIndex, fingerprint256)
    if (tenants.length > 1) {
      yield* Effect.logWarning("certificate matches several tenants; binding none").pipe(Effect.annotateLogs({ tenants: tenants.join(",") }))
    }
    return tenants.length === 1 ? Option.some(tenants[0]) : Option.none<TenantId>()
  })

  const bindBySourceAddress = Effect.fn("TenantRegistry.bindBySourceAddress")(function* (ip: string) {
    const match = ConnectorIndex.matchSource(yield* freshIndex, ip)
    switch (match._tag) {
      case "Bound":
        return Option.some(match.tenantId)
      case "Unmatched":
        return Option.none<TenantId>()
      case "Tie":
        // several tenants: the sender's domain picks one at MAIL (sourceBinding, selectBySender)
        return Option.none<TenantId>()
    }
  })

  /** per connection: one tenant, or the tenants sharing the address's most specific range */
  const sourceBinding = (ip: string): Effect.Effect<SessionBinding> => Effect.map(freshIndex, (index) => ConnectorIndex.sourceBinding(index, ip))

  /** per MAIL on a shared binding: the tenant owning the sender's domain, if the binding covers it */
  const selectBySender = (binding: SessionBinding, domain: string): Effect.Effect<Option.Option<TenantId>> =>
    Effect.map(freshIndex, (index) => Option.fromNullable(ConnectorIndex.selectBySender(index, binding, domain)))

  /** per message (MAIL): no span */
  const relayState = (tenantId: TenantId) => Effect.flatMap(actor(tenantId), (a) => a.relayState)

  /** Stops a tenant's actor now (tests, tenant removal); false when none was running. */
  const stop = Effect.fn("TenantRegistry.stop")(function* (tenantId: TenantId) {
    return yield* slotLock
      .withPermits(1)(
        Effect.suspend(() => {
          const slot = slots.get(tenantId)
          return slot === undefined ? Effect.succeed(false) : closeSlot(tenantId, slot).pipe(Effect.as(true))
        })
      )
      .pipe(Effect.tap(() => publishGauges))
  })

  return {
    actor,
    runningActor,
    relayState,
    bindByCredentials,
    bindByCertificate,
    bindBySourceAddress,
    sourceBinding,
    selectBySender,
    stop,
    /** ids of tenants whose actors are running or starting */
    running: Effect.sync(() => Array.from(slots.keys())),
    /** runs the idle sweep now (tests drive it with TestClock instead of waiting IDLE_SWEEP_INTERVAL) */
    sweepIdle,
    /** the warm actors' estimated memory, in bytes (ActorMemory.ts) */
    warmEstimatedBytes: Effect.sync(() => warm().reduce((sum, a) => sum + a.actor.estimatedBytes(), 0))
  } as const
})

export class TenantRegistry extends Effect.Service<TenantRegistry>()("imprint/TenantRegistry", {
  scoped: make,
  dependencies: [TenantRepo.Default, Store.Default]
}) {}
