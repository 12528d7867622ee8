import { Cause, Clock, Data, Deferred, Duration, Effect, Exit, FiberId, Match, Metric, Option, Queue, Schedule } from "effect"
import type { Schema } from "effect"
import type { DirectoryUser } from "../domain/Directory.js"
import { TenantNotFound } from "../domain/Errors.js"
import type { MessageKind } from "../domain/Rule.js"
import type { HeaderSummary, MessageEnvelope, SignatureDecision, SignatureElement } from "../domain/Signature.js"
import type { Tenant, TenantId } from "../domain/Tenant.js"
import { RenderCache } from "../signature/RenderCache.js"
import { ReplyDeadlines } from "./ReplyDeadlines.js"
import { previewRules } from "../signature/RulesTester.js"
import { ImageDelivery } from "../domain/Images.js"
import { resolveSignature, type TenantImages } from "../signature/SignatureResolver.js"
import { Store } from "../store/Store.js"
import type { StoreDecodeError, StoreError } from "../store/StoreError.js"
import { TenantRepo } from "../store/TenantRepo.js"
import * as DirectoryIndex from "./DirectoryIndex.js"
import type { PreviewResult } from "./RulesPreview.js"
import {
  ApplyDirectoryDelta, GetRelayState, InjectDefect, LookupUser, PreviewRules, Reload, ReplaceDirectory, ResolveSignature,
  TenantActorUnavailable, type TenantActorError, type TenantRequest
} from "./TenantProtocol.js"
import * as TenantState from "./TenantState.js"

/**
 * One tenant, one actor (DESIGN.md "Tenant actors"): a bounded mailbox read by
 * one scoped loop that owns the tenant's state. A defect restarts the loop
 * from the store with exponential backoff; more than RESTART_INTENSITY
 * restarts without a quiet RESTART_PERIOD between them stops the actor (OTP's
 * intensity/period), and the registry starts a fresh one on the next request.
 *
 * The signature engine's state (compiled templates, rules, settings) is part
 * of TenantState and reloads with it; rendered elements are kept in one
 * RenderCache per actor, which survives reloads (its keys carry the template
 * version and the user's values) and is cleared when templates change.
 */

export const MAILBOX_CAPACITY = 256
/** The longest a message waits for its signature (a tenant reloading a huge directory, a stuck actor); then it goes unsigned. */
export const RESOLVE_TIMEOUT = Duration.seconds(10)
export const RESTART_BASE_DELAY = Duration.millis(100)
export const RESTART_MAX_DELAY = Duration.seconds(10)
export const RESTART_INTENSITY = 5
export const RESTART_PERIOD = Duration.minutes(1)
/**
 * Decoded directory entries kept per loaded state (recent senders): decoding
 * an entry costs more than the rest of a cached resolve. Bounded, and dropped
 * with the state on every reload, so it never serves an entry the store no
 * longer has; the store stays the only full copy.
 */
export const DECODED_USER_CACHE_CAPACITY = 4_096

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
  /** Asks the actor; fails with TenantActorUnavailable if it stops before answering, or is not answered `within`. */
  readonly send: <R extends TenantRequest>(request: R, within?: Duration.DurationInput) => Effect.Effect<Schema.WithResult.Success<R>, Schema.WithResult.Failure<R>>
  readonly relayState: Effect.Effect<Tenant, TenantActorError>
  readonly lookupUser: (address: string) => Effect.Effect<Option.Option<DirectoryUser>, TenantActorError>
  readonly reload: Effect.Effect<void, TenantActorError>
  /** the signature for a message, decided and rendered for the envelope's sender; unavailable after RESOLVE_TIMEOUT */
  readonly resolveSignature: (envelope: MessageEnvelope, header: HeaderSummary) => Effect.Effect<SignatureDecision, TenantActorError>
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
}

export interface PreviewInput {
  readonly sender: string
  readonly recipients: ReadonlyArray<string>
  readonly subject: string
  readonly kind?: MessageKind
  /** epoch milliseconds to evaluate date windows at; absent: now */
  readonly at?: number
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
  const renderCache = new RenderCache<SignatureElement>()
  const imageSettings = yield* ImageDelivery
  /** what rendering needs of the state's image library; one object per state, so renders share it */
  const imagesOf = (() => {
    let cachedFor: TenantState.TenantState | undefined
    let cached: TenantImages | undefined
    return (s: TenantState.TenantState): TenantImages => {
      if (cachedFor !== s || cached === undefined) {
        cachedFor = s
        cached = { tenantId, library: s.images, bytes: (sha) => s.imageBytes.get(sha), settings: imageSettings }
      }
      return cached
    }
  })()
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

  const reloadState = Effect.suspend(() => {
    const previous = current._tag === "Loaded" ? current.state : undefined
    return countedLoad(previous).pipe(Effect.map((state) => [previous, state] as const))
  }).pipe(
    Effect.matchEffect({
      onSuccess: ([previous, state]) =>
        Effect.sync(() => {
          if (previous === undefined || TenantState.templatesChanged(previous, state)) renderCache.clear()
          current = { _tag: "Loaded", state }
        }),
      onFailure: (e) =>
        e._tag === "TenantNotFound"
          ? Effect.sync(() => void (current = { _tag: "Missing", tenantId, revision: store.tenantRevision(tenantId) }))
          : Effect.fail(e)
    })
  )

  const isStale = () =>
    current._tag === "Loaded" ? TenantState.isStale(store, current.state) : store.tenantRevision(tenantId) > current.revision

  /** Read-your-writes: a request after a committed write sees it, even before the change feed's Reload arrives. */
  const freshen = Effect.suspend(() => {
    if (!isStale()) return Effect.void
    return reloadState.pipe(Effect.catchAll((e) =>
      Effect.logError("tenant reload failed; serving the last loaded state", e).pipe(Effect.annotateLogs({ tenant: tenantId }),
        Effect.zipRight(Effect.sync(() => {
          // do not retry on every request until the next write
          if (current._tag === "Loaded") current = { _tag: "Loaded", state: { ...current.state, revision: store.tenantRevision(tenantId) } }
        })))))
  })

  const withState = <A, E, R>(f: (state: TenantState.TenantState) => Effect.Effect<A, E, R>) =>
    Effect.suspend((): Effect.Effect<A, E | TenantNotFound, R> =>
      current._tag === "Loaded" ? f(current.state) : Effect.fail(new TenantNotFound({ tenantId })))

  /** The fresh state, for requests that read it. */
  const fresh = <A, E, R>(f: (state: TenantState.TenantState) => Effect.Effect<A, E, R>) => freshen.pipe(Effect.zipRight(withState(f)))

  let decodedFor: TenantState.TenantState | undefined
  const decodedUsers = new Map<string, DirectoryUser>()
  const lookup = (s: TenantState.TenantState, address: string) =>
    Effect.suspend(() => {
      const mail = DirectoryIndex.mailOf(s.directory, address)
      if (mail === undefined) return Effect.succeed(Option.none<DirectoryUser>())
      if (decodedFor !== s) {
        decodedUsers.clear()
        decodedFor = s
      }
      const known = decodedUsers.get(mail)
      if (known !== undefined) return Effect.succeed(Option.some(known))
      return storeUnavailable(DirectoryIndex.read(s.directory, mail)).pipe(Effect.tap((user) => {
        if (Option.isNone(user) || decodedFor !== s) return
        // oldest first out: a Map iterates in insertion order
        if (decodedUsers.size >= DECODED_USER_CACHE_CAPACITY) decodedUsers.delete(decodedUsers.keys().next().value!)
        decodedUsers.set(mail, user.value)
      }))
    })

  const resolveWith = (s: TenantState.TenantState, envelope: MessageEnvelope, header: HeaderSummary) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      // a null sender (bounce) has no user; the resolver says so
      const user = envelope.mailFrom.trim() === "" ? Option.none<DirectoryUser>() : yield* lookup(s, envelope.mailFrom)
      return resolveSignature({
        rules: s.rules, templates: s.templates, user, envelope, header,
        tenantDomains: s.tenant.domains, settings: s.settings, now, cache: renderCache, images: imagesOf(s)
      })
    })

  /**
   * The loaded state when a read may skip the mailbox: the state is an
   * immutable value that only the loop replaces, and the caches a read touches
   * are updated synchronously, so the two per-message reads (relay state at
   * MAIL, the signature at DATA) run in the caller's fiber — a mailbox round
   * trip costs four fiber hand-offs. A stale, missing or stopped state goes
   * through the mailbox, whose handler reloads first.
   */
  const readable = (): TenantState.TenantState | undefined =>
    healthy && !stoppedFlag && current._tag === "Loaded" && !isStale() ? current.state : undefined

  /** A directory write, then a reload, so the very next request (from anyone) sees it. */
  const writeDirectory = <E>(write: Effect.Effect<void, E | StoreError, never>) =>
    storeUnavailable(write).pipe(Effect.zipRight(freshen))

  const handle = (request: TenantRequest): Effect.Effect<unknown, TenantActorError, Store | TenantRepo> =>
    Match.valueTags(request, {
      GetRelayState: () => fresh((s) => Effect.succeed(s.tenant)),
      LookupUser: (r) => fresh((s) => lookup(s, r.address)),
      ResolveSignature: (r) => fresh((s) => resolveWith(s, r.envelope, r.header)),
      PreviewRules: (r) =>
        fresh((s) => Effect.gen(function* () {
          const now = r.at ?? (yield* Clock.currentTimeMillis)
          const user = r.sender.trim() === "" ? Option.none<DirectoryUser>() : yield* lookup(s, r.sender)
          return previewRules({
            rules: s.rules, templates: s.templates, user, sender: r.sender, recipients: r.recipients, subject: r.subject,
            ...(r.kind !== undefined ? { kind: r.kind } : {}), tenantDomains: s.tenant.domains, settings: s.settings, now,
            images: imagesOf(s)
          })
        })),
      ReplaceDirectory: (r) => writeDirectory(repo.replaceDirectory(tenantId, r.users)),
      ApplyDirectoryDelta: (r) => writeDirectory(repo.applyDirectoryDelta(tenantId, { upsert: r.upsert, remove: r.remove })),
      Reload: (r) => (r.onlyIfStale && !isStale() ? Effect.void : reloadState),
      InjectDefect: (r) => Effect.die(new Error(r.message))
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
      renderCache.clear()
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
      Effect.logError("tenant actor restarted too often; stopping it").pipe(Effect.annotateLogs({ tenant: tenantId }), Effect.zipRight(stop))),
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
      const enqueued = Queue.unsafeOffer(mailbox, envelope)
        ? Effect.void
        : Effect.raceFirst(Queue.offer(mailbox, envelope), Deferred.await(stopped))
      return enqueued.pipe(
        Effect.zipRight(Deferred.await(reply)),
        Effect.ensuring(Effect.sync(() => {
          inFlight--
          pending.delete(reply)
          deadlines.untrack(reply)
        }))
      )
    }) as Effect.Effect<Schema.WithResult.Success<R>, Schema.WithResult.Failure<R>>

  // the change feed reloads the actor as soon as its tenant is written, before any mail asks
  const signal = yield* Queue.sliding<void>(1)
  yield* Queue.take(changes).pipe(
    Effect.flatMap((c) => (c.tenantId === tenantId ? Queue.offer(signal, undefined) : Effect.void)),
    Effect.forever,
    Effect.forkScoped
  )
  yield* Queue.take(signal).pipe(
    Effect.zipRight(send(new Reload({ onlyIfStale: true })).pipe(Effect.ignore)),
    Effect.forever,
    Effect.forkScoped
  )

  return {
    tenantId,
    send,
    relayState: Effect.suspend(() => {
      const state = readable()
      return state !== undefined ? Effect.succeed(state.tenant) : send(new GetRelayState())
    }),
    lookupUser: (address: string) => send(new LookupUser({ address })),
    reload: send(new Reload({})),
    // envelope and header are Schema class instances, validated when made; once per message is enough
    resolveSignature: (envelope: MessageEnvelope, header: HeaderSummary) =>
      Effect.suspend(() => {
        const state = readable()
        return state !== undefined
          ? resolveWith(state, envelope, header).pipe(Effect.provideService(Store, store))
          : send(new ResolveSignature({ envelope, header }, true), RESOLVE_TIMEOUT)
      }),
    previewRules: (input: PreviewInput) =>
      send(new PreviewRules({
        sender: input.sender, recipients: input.recipients, subject: input.subject, ...(input.kind !== undefined ? { kind: input.kind } : {}),
        ...(input.at !== undefined ? { at: input.at } : {})
      })),
    replaceDirectory: (users: ReadonlyArray<DirectoryUser>) => send(new ReplaceDirectory({ users })),
    applyDirectoryDelta: (delta: DirectoryDelta) => send(new ApplyDirectoryDelta({ upsert: delta.upsert, remove: delta.remove })),
    renderCacheStats: Effect.sync(() => ({ hits: renderCache.hits, misses: renderCache.misses, size: renderCache.size })),
    restarts: Effect.sync(() => restarts),
    loads: Effect.sync(() => loads),
    inFlight: () => inFlight,
    isStopped: () => stoppedFlag
  } satisfies TenantActor
})

/** Test helper: makes the actor's handler die. */
export const injectDefect = (actor: TenantActor, message = "injected defect") => actor.send(new InjectDefect({ message }))
