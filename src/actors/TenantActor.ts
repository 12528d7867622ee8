import { Cause, Data, Deferred, Duration, Effect, Exit, FiberId, Match, Metric, Option, Queue, Schedule } from "effect"
import type { Schema } from "effect"
import type { DirectoryUser } from "../domain/Directory.js"
import { TenantNotFound } from "../domain/Errors.js"
import type { HeaderSummary, MessageEnvelope, SignatureDecision } from "../domain/Signature.js"
import type { Tenant, TenantId } from "../domain/Tenant.js"
import { estimateBytes } from "./ActorMemory.js"
import { ReplyDeadlines } from "./ReplyDeadlines.js"
import { ImageDelivery } from "../domain/Images.js"
import { makePhotoRepo } from "../store/PhotoRepo.js"
import { Store } from "../store/Store.js"
import type { StoreDecodeError, StoreError } from "../store/StoreError.js"
import { TenantRepo } from "../store/TenantRepo.js"
import type { PreviewResult } from "../domain/RulesPreview.js"
import { makeReads, type PreviewInput } from "./TenantReads.js"
import { ApplyDirectoryDelta, Reload, ReplaceDirectory, TenantActorUnavailable, type TenantActorError, type TenantRequest } from "./TenantProtocol.js"
import * as TenantState from "./TenantState.js"

export type { PreviewInput } from "./TenantReads.js"
export { DECODED_USER_CACHE_CAPACITY } from "./TenantReads.js"

/**
 * One tenant, one actor (DESIGN.md "Tenant actors"), in two halves:
 *
 * - a supervised loop for writes and lifecycle: a bounded mailbox of
 *   directory writes and refreshes (TenantProtocol), read by one scoped
 *   fiber that owns the tenant's state. A defect restarts the loop from the
 *   store with exponential backoff; more than RESTART_INTENSITY restarts
 *   without a quiet RESTART_PERIOD between them stops the actor (OTP's
 *   intensity/period), and the registry starts a fresh one on the next
 *   request;
 * - the immutable snapshot (TenantState) the loop publishes after each
 *   change, which the mail path reads in its own fiber (TenantReads): relay
 *   state at MAIL, the signature at DATA, with no mailbox round trip. A read
 *   that finds the store newer than the snapshot (read-your-writes), or the
 *   loop restarting, asks the loop to refresh first.
 *
 * A directory change patches the snapshot's address index in place (the
 * store's change log names the entries); anything else loads the tenant
 * again. Rendered elements are kept in one RenderCache per actor, which
 * survives refreshes (its keys carry the template version and the user's
 * values) and is cleared when templates change.
 */

export const MAILBOX_CAPACITY = 256
/** The longest a message waits for its signature (a tenant reloading a huge directory, a stuck actor); then it goes unsigned. */
export const RESOLVE_TIMEOUT = Duration.seconds(10)
export const RESTART_BASE_DELAY = Duration.millis(100)
export const RESTART_MAX_DELAY = Duration.seconds(10)
export const RESTART_INTENSITY = 5
export const RESTART_PERIOD = Duration.minutes(1)

/** 100 ms, 200 ms, 400 ms … capped at 10 s; at most 5 restarts until a minute passes without a crash. */
export const restartPolicy = Schedule.exponential(RESTART_BASE_DELAY).pipe(
  Schedule.either(Schedule.spaced(RESTART_MAX_DELAY)),
  Schedule.intersect(Schedule.recurs(RESTART_INTENSITY)),
  Schedule.resetAfter(RESTART_PERIOD)
)

export const restartsTotal = Metric.counter("imprint_tenant_actor_restarts_total", {
  description: "tenant actor loops restarted after a defect",
  incremental: true
})

class ActorCrashed extends Data.TaggedError("ActorCrashed")<{ readonly cause: Cause.Cause<unknown> }> {}

interface Envelope {
  readonly request: TenantRequest
  readonly reply: Deferred.Deferred<unknown, TenantActorError>
}

type Current =
  | { readonly _tag: "Loaded"; readonly state: TenantState.TenantState }
  /** the tenant was removed from the store */
  | { readonly _tag: "Missing"; readonly tenantId: TenantId; readonly revision: number }

export interface TenantActor {
  readonly tenantId: TenantId
  /** Asks the loop; fails with TenantActorUnavailable if it stops before answering, or is not answered `within`. */
  readonly send: <R extends TenantRequest>(
    request: R,
    within?: Duration.DurationInput
  ) => Effect.Effect<Schema.WithResult.Success<R>, Schema.WithResult.Failure<R>>
  /** the published snapshot, refreshed first when the store is newer */
  readonly snapshot: Effect.Effect<TenantState.TenantState, TenantActorError>
  readonly relayState: Effect.Effect<Tenant, TenantActorError>
  /** `relayState` as a plain call when the published snapshot is current (the usual case); undefined: ask `relayState` */
  readonly readyRelayState: () => Tenant | undefined
  readonly lookupUser: (address: string) => Effect.Effect<Option.Option<DirectoryUser>, TenantActorError>
  readonly reload: Effect.Effect<void, TenantActorError>
  /** the signature for a message, decided and rendered for the envelope's sender; unavailable after RESOLVE_TIMEOUT */
  readonly resolveSignature: (envelope: MessageEnvelope, header: HeaderSummary) => Effect.Effect<SignatureDecision, TenantActorError>
  /**
   * `resolveSignature` as a plain call when the published snapshot is current and no directory
   * entry must be read from the store (the usual case); undefined: ask `resolveSignature`
   */
  readonly readySignature: (envelope: MessageEnvelope, header: HeaderSummary, now: number) => SignatureDecision | undefined
  /** the rules tester (admin preview) */
  readonly previewRules: (input: PreviewInput) => Effect.Effect<PreviewResult, TenantActorError>
  /** full directory sync, one transaction; the next request sees it */
  readonly replaceDirectory: (users: ReadonlyArray<DirectoryUser>) => Effect.Effect<void, TenantActorError>
  /** incremental directory sync (upserts, removals by mail), one transaction; the next request sees it */
  readonly applyDirectoryDelta: (delta: DirectoryDelta) => Effect.Effect<void, TenantActorError>
  /** the render cache's counters (tests, metrics) */
  readonly renderCacheStats: Effect.Effect<RenderCacheStats>
  /** loop restarts after defects since the actor started */
  readonly restarts: Effect.Effect<number>
  /** state loads from the store, the first one included */
  readonly loads: Effect.Effect<number>
  /** requests sent and not yet answered (the registry never stops a busy actor) */
  readonly inFlight: () => number
  readonly isStopped: () => boolean
  /** what the actor holds, in bytes, estimated (ActorMemory.ts): the registry's memory budget sums it */
  readonly estimatedBytes: () => number
}

export interface DirectoryDelta {
  readonly upsert: ReadonlyArray<DirectoryUser>
  /** mail addresses, any case */
  readonly remove: ReadonlyArray<string>
}

export interface RenderCacheStats {
  readonly hits: number
  readonly misses: number
  readonly size: number
}

const unavailable = (tenantId: TenantId, reason: string) => new TenantActorUnavailable({ tenantId, reason })

export const make = Effect.fn("TenantActor.make")(function* (tenantId: TenantId) {
  const store = yield* Store
  const repo = yield* TenantRepo
  const photos = yield* makePhotoRepo
  const reads = makeReads(tenantId, yield* ImageDelivery, (sha256) => photos.bytesSync(tenantId, sha256))
  // subscribe before the first load, so no change can fall between them
  const changes = yield* store.subscribe
  /** A store that cannot be read makes the actor unavailable for this request, not crashed. */
  const storeUnavailable = <A, E, R>(effect: Effect.Effect<A, E | StoreError | StoreDecodeError, R>) =>
    Effect.catchIf(
      effect,
      (e): e is StoreError | StoreDecodeError =>
        typeof e === "object" && e !== null && "_tag" in e && (e._tag === "StoreError" || e._tag === "StoreDecodeError"),
      (e) => Effect.fail(unavailable(tenantId, e.message))
    ) as Effect.Effect<A, Exclude<E, StoreError | StoreDecodeError> | TenantActorUnavailable, R>
  let loads = 0
  const countedLoad = (previous: TenantState.TenantState | undefined) =>
    storeUnavailable(TenantState.load(tenantId, previous)).pipe(Effect.tap(() => void loads++))
  let current: Current = { _tag: "Loaded", state: yield* countedLoad(undefined) }
  let started = false
  let restarts = 0
  let inFlight = 0
  let stoppedFlag = false
  /** false from a crash until the restarted loop reloaded: reads go through the mailbox meanwhile */
  let healthy = true
  const mailbox = yield* Queue.bounded<Envelope>(MAILBOX_CAPACITY)
  const deadlines = new ReplyDeadlines<TenantActorError>(yield* Effect.clock, () => unavailable(tenantId, "timed out"))
  yield* Effect.forkScoped(deadlines.sweeper)
  const stopped = yield* Deferred.make<void>()
  /** replies not yet given; a stop fails them, so no caller waits on a dead actor */
  const pending = new Set<Deferred.Deferred<unknown, TenantActorError>>()
  const stop = Effect.suspend(() => {
    stoppedFlag = true
    const waiting = Array.from(pending)
    pending.clear()
    return Effect.forEach(waiting, (reply) => Deferred.fail(reply, unavailable(tenantId, "stopped")), { discard: true }).pipe(
      Effect.zipRight(Deferred.succeed(stopped, undefined))
    )
  })
  yield* Effect.addFinalizer(() => stop)

  /** Publishes a snapshot (the loop only), telling the readers' caches what changed. */
  const publish = (state: TenantState.TenantState, changed: TenantState.Changed, previous: TenantState.TenantState | undefined) => {
    reads.invalidate(changed, changed._tag === "All" && (previous === undefined || TenantState.templatesChanged(previous, state)))
    current = { _tag: "Loaded", state }
  }

  const missing = (e: TenantActorError) =>
    e._tag === "TenantNotFound"
      ? Effect.sync(() => {
          reads.clear()
          current = { _tag: "Missing", tenantId, revision: store.tenantRevision(tenantId) }
        })
      : Effect.fail(e)

  /** Loads the whole tenant again (restart, explicit reload, or coming back after a removal). */
  const reloadState = Effect.suspend(() => {
    const previous = current._tag === "Loaded" ? current.state : undefined
    return countedLoad(previous).pipe(
      Effect.matchEffect({
        onSuccess: (state) => Effect.sync(() => publish(state, { _tag: "All" }, previous)),
        onFailure: missing
      })
    )
  })

  /** Catches up with the store: a directory change is patched in, anything else reloads. */
  const refreshState = Effect.suspend(() => {
    if (current._tag !== "Loaded") return reloadState
    const previous = current.state
    const before = loads
    return storeUnavailable(TenantState.refresh(previous)).pipe(
      Effect.matchEffect({
        onSuccess: ({ state, changed }) =>
          Effect.sync(() => {
            if (changed._tag === "All") loads = before + 1
            if (changed._tag !== "Nothing") publish(state, changed, previous)
          }),
        onFailure: missing
      })
    )
  })

  const isStale = () => (current._tag === "Loaded" ? TenantState.isStale(store, current.state) : store.tenantRevision(tenantId) > current.revision)

  /** Read-your-writes: after a committed write the next read sees it, even before the change feed's Reload arrives. */
  const freshen = Effect.suspend(() => {
    if (!isStale()) return Effect.void
    return refreshState.pipe(
      Effect.catchAll((e) =>
        Effect.logError("tenant refresh failed; serving the last published snapshot", e).pipe(
          Effect.annotateLogs({ tenant: tenantId }),
          Effect.zipRight(
            Effect.sync(() => {
              // do not retry on every request until the next write
              if (current._tag === "Loaded") current = { _tag: "Loaded", state: { ...current.state, revision: store.tenantRevision(tenantId) } }
            })
          )
        )
      )
    )
  })

  /** A directory write, then the refresh that patches it in, so the very next read (from anyone) sees it. */
  const writeDirectory = <E>(write: Effect.Effect<void, E | StoreError, never>) => storeUnavailable(write).pipe(Effect.zipRight(freshen))

  const handle = (request: TenantRequest): Effect.Effect<unknown, TenantActorError, Store | TenantRepo> =>
    Match.valueTags(request, {
      ReplaceDirectory: (r) => writeDirectory(repo.replaceDirectory(tenantId, r.users)),
      ApplyDirectoryDelta: (r) => writeDirectory(repo.applyDirectoryDelta(tenantId, { upsert: r.upsert, remove: r.remove })),
      Reload: (r) => (r.onlyIfStale ? freshen : reloadState)
    })

  const serveOne = Effect.gen(function* () {
    const { request, reply } = yield* Queue.take(mailbox)
    const exit = yield* Effect.exit(handle(request))
    if (Exit.isFailure(exit) && Cause.isDie(exit.cause)) {
      // nothing the crashed loop touched is read again until the restart reloaded
      healthy = false
      yield* Deferred.fail(reply, unavailable(tenantId, `crashed on ${request._tag}`))
      return yield* new ActorCrashed({ cause: exit.cause })
    }
    yield* Deferred.done(reply, exit)
  })

  const runLoop = Effect.suspend(() => {
    const restarting = started
    started = true
    const restart = Effect.sync(() => {
      restarts++
      // start clean: nothing the crashed loop touched is trusted
      reads.clear()
    }).pipe(
      Effect.zipRight(Metric.increment(Metric.tagged(restartsTotal, "tenant", tenantId))),
      // a restart begins from the store, not from whatever state the crash left
      Effect.zipRight(reloadState.pipe(Effect.mapError((e) => new ActorCrashed({ cause: Cause.fail(e) })))),
      Effect.zipRight(Effect.sync(() => void (healthy = true)))
    )
    return (restarting ? restart : Effect.void).pipe(Effect.zipRight(Effect.forever(serveOne)))
  }).pipe(
    Effect.catchAllDefect((defect) => Effect.fail(new ActorCrashed({ cause: Cause.die(defect) }))),
    Effect.tapError((crash) => Effect.logError("tenant actor crashed", crash.cause).pipe(Effect.annotateLogs({ tenant: tenantId })))
  )

  yield* runLoop.pipe(
    Effect.retry(restartPolicy),
    Effect.catchAll(() =>
      Effect.logError("tenant actor restarted too often; stopping it").pipe(Effect.annotateLogs({ tenant: tenantId }), Effect.zipRight(stop))
    ),
    Effect.forkScoped
  )

  /**
   * Every request goes out on the hot path (one per message), so it costs no
   * fiber of its own: the reply is registered in `pending`, which `stop` fails,
   * and only a full mailbox makes the caller wait in a race with the stop.
   */
  const send = <R extends TenantRequest>(request: R, within?: Duration.DurationInput) =>
    Effect.suspend(() => {
      if (stoppedFlag) return Effect.failSync(() => unavailable(tenantId, "stopped"))
      inFlight++
      const reply = Deferred.unsafeMake<unknown, TenantActorError>(FiberId.none)
      pending.add(reply)
      if (within !== undefined) deadlines.track(reply, within)
      const envelope: Envelope = { request, reply }
      const enqueued = Queue.unsafeOffer(mailbox, envelope) ? Effect.void : Effect.raceFirst(Queue.offer(mailbox, envelope), Deferred.await(stopped))
      return enqueued.pipe(
        Effect.zipRight(Deferred.await(reply)),
        Effect.ensuring(
          Effect.sync(() => {
            inFlight--
            pending.delete(reply)
            deadlines.untrack(reply)
          })
        )
      )
    }) as Effect.Effect<Schema.WithResult.Success<R>, Schema.WithResult.Failure<R>>

  /**
   * The published snapshot when a read may use it as it is: the loop is
   * healthy and the store holds nothing newer. Otherwise the read waits for
   * the loop to refresh (behind a restart's backoff, if one is under way).
   */
  const published = (): TenantState.TenantState | undefined => (healthy && !stoppedFlag && current._tag === "Loaded" && !isStale() ? current.state : undefined)

  const snapshotWithin = (within?: Duration.DurationInput): Effect.Effect<TenantState.TenantState, TenantActorError> =>
    Effect.suspend(() => {
      const ready = published()
      if (ready !== undefined) return Effect.succeed(ready)
      return send(new Reload({ onlyIfStale: true }), within).pipe(
        Effect.zipRight(Effect.suspend(() => (current._tag === "Loaded" ? Effect.succeed(current.state) : Effect.fail(new TenantNotFound({ tenantId })))))
      )
    })
  const snapshot = snapshotWithin()

  const readySignature = (envelope: MessageEnvelope, header: HeaderSummary, now: number): SignatureDecision | undefined => {
    const ready = published()
    return ready === undefined ? undefined : reads.resolveCached(ready, envelope, header, now)
  }

  // the change feed refreshes the actor as soon as its tenant is written, before any mail asks
  const signal = yield* Queue.sliding<void>(1)
  yield* Queue.take(changes).pipe(
    Effect.flatMap((c) => (c.tenantId === tenantId ? Queue.offer(signal, undefined) : Effect.void)),
    Effect.forever,
    Effect.forkScoped
  )
  yield* Queue.take(signal).pipe(Effect.zipRight(send(new Reload({ onlyIfStale: true })).pipe(Effect.ignore)), Effect.forever, Effect.forkScoped)

  const withStore = <A, E>(effect: Effect.Effect<A, E, Store>) => storeUnavailable(Effect.provideService(effect, Store, store))

  return {
    tenantId,
    send,
    snapshot,
    // the published snapshot read with a plain call when it is current (the usual case)
    relayState: Effect.suspend(() => {
      const ready = published()
      return ready !== undefined ? Effect.succeed(ready.tenant) : Effect.map(snapshot, (s) => s.tenant)
    }),
    readyRelayState: () => published()?.tenant,
    lookupUser: (address: string) => Effect.flatMap(snapshot, (s) => withStore(reads.lookup(s, address))),
    reload: send(new Reload({})),
    // envelope and header are Schema class instances, validated when made; once per message is enough
    // one step when the snapshot is current and no directory entry must be read from the store
    resolveSignature: (envelope: MessageEnvelope, header: HeaderSummary) =>
      Effect.clockWith((clock) => {
        const decided = readySignature(envelope, header, clock.unsafeCurrentTimeMillis())
        if (decided !== undefined) return Effect.succeed(decided)
        return Effect.flatMap(snapshotWithin(RESOLVE_TIMEOUT), (s) => withStore(reads.resolve(s, envelope, header)))
      }),
    readySignature,
    previewRules: (input: PreviewInput) => Effect.flatMap(snapshot, (s) => withStore(reads.preview(s, input))),
    replaceDirectory: (users: ReadonlyArray<DirectoryUser>) => send(new ReplaceDirectory({ users })),
    applyDirectoryDelta: (delta: DirectoryDelta) => send(new ApplyDirectoryDelta({ upsert: delta.upsert, remove: delta.remove })),
    renderCacheStats: Effect.sync(() => ({ hits: reads.renderCache.hits, misses: reads.renderCache.misses, size: reads.renderCache.size })),
    restarts: Effect.sync(() => restarts),
    loads: Effect.sync(() => loads),
    inFlight: () => inFlight,
    isStopped: () => stoppedFlag,
    estimatedBytes: () =>
      estimateBytes(current._tag === "Loaded" ? current.state : undefined, {
        renderCacheSize: reads.renderCache.size,
        decodedUsers: reads.decodedUsers()
      })
  } satisfies TenantActor
})
