import type { KvWatchEntry } from "@nats-io/kv"
import { Clock, Context, Duration, Effect, Either, Layer, Schedule } from "effect"
import { Store, type EncodedOp } from "../store/Store.js"
import { ClusterClient, type ClusterHandle, LOCAL_DATABASES } from "./ClusterClient.js"
import { fromKvKey } from "./KvKeys.js"
import { hasQuorum } from "./StreamQuorum.js"

/**
 * Each node's applier: watches the cluster's KV bucket and applies every
 * change, with its revision, to LMDB (Store.commit: one transaction per run
 * of changes; a key's older revision never overwrites a newer one; the
 * node's watermark `lastApplied` moves in the same transaction), which tells
 * the tenant actors through the store's change feed.
 *
 * It resumes from `lastApplied + 1` when the bucket still holds everything
 * after it; when history the node has not seen is gone (purged, or replaced
 * while the node was away), it resynchronises fully: every key's last value,
 * then the keys it holds and the bucket no longer has are removed. A lost
 * connection stops the watch; the node keeps serving mail from LMDB, reports
 * itself degraded with how stale its configuration may be, and starts over
 * (resume or resync) once the connection is back. A connection up to a
 * bucket that does not answer or answers without quorum (StreamQuorum), and
 * a mirror that no longer hears from its source (two sites), are degraded
 * too: the watchdog's look at the stream every second tells.
 */

/** changes applied per LMDB transaction at most */
export const APPLY_CHUNK = 2_000
/**
 * How often the watchdog compares the bucket's last revision with this node's:
 * behind at two looks in a row with nothing delivered in between, the watch
 * is stalled (seen after a NATS stream leader's death: the ordered consumer
 * neither delivers nor ends) and is started again, resuming.
 */
export const WATCHDOG_MS = 1_000
/**
 * A look at the stream not answered within this is unanswered (health degraded, writes refused at
 * once), rather than waiting for the client's request timeout (`writeTimeoutMs`): with two of three
 * servers lost, the one left may answer for a while, then stop answering; waiting out its request
 * timeout on top of that once took the node past 30 s to say degraded (spec/peers/ClusterQuorumLoss).
 */
export const LOOK_TIMEOUT_MS = 2_000
/** a stall at the same bucket revision again (a purged tail the watch can never deliver) is looked at less often, up to this */
const WATCHDOG_MAX_MS = 8_000
/**
 * A mirror (a second site, `mirrorDomain`) hears from its source at least
 * once a second (JetStream's heartbeat; measured with nats-server 2.9: its
 * `active` stays under 1 s while joined and grows by a second a second once
 * the source is cut off). Silent longer than this: the source is unreachable.
 */
export const MIRROR_SILENT_MS = 5_000
/** how soon a failed watch is tried again (doubling, capped) */
const RETRY = Schedule.exponential(Duration.millis(200)).pipe(Schedule.union(Schedule.spaced(Duration.seconds(5))))

/** A mirroring site's view of the holding site's bucket (two sites). */
export interface MirrorHealth {
  /** the holding site's JetStream domain */
  readonly domain: string
  /** unreachable: the mirror has not heard from it for MIRROR_SILENT_MS */
  readonly source: "reachable" | "unreachable"
  /** seconds since the mirror last heard from the holding site (at the last look) */
  readonly lastContactSeconds: number
  /** revisions the mirror is behind, as JetStream last knew it (0 while cut off: unknown) */
  readonly lag: number
}

export interface ClusterHealth {
  readonly status: "ok" | "degraded"
  /** the highest bucket revision applied in order */
  readonly lastApplied: number
  /**
   * degraded: since when this node's configuration may be stale, in seconds:
   * since its watch went down, since the bucket last answered with quorum, or
   * since its mirror last heard from the holding site, whichever is longest
   */
  readonly configStaleSeconds?: number
  readonly fullResyncs: number
  /** a mirroring site's node (cluster.mirrorDomain) */
  readonly mirror?: MirrorHealth
}

export interface ClusterStatusShape {
  readonly health: Effect.Effect<ClusterHealth>
  /** resolves once this node applied the bucket up to `revision` (tests, read-your-writes across nodes) */
  readonly awaitApplied: (revision: number) => Effect.Effect<void>
}
export class ClusterStatus extends Context.Tag("imprint/ClusterStatus")<ClusterStatus, ClusterStatusShape>() {}

/** A watched entry as a store write carrying its revision; undefined for keys this layout did not write. */
const toOp = (e: KvWatchEntry): EncodedOp | undefined => {
  const at = fromKvKey(e.key)
  if (at === undefined || LOCAL_DATABASES.has(at.db)) return undefined
  if (e.operation !== "PUT") return { op: { _tag: "Remove", db: at.db, key: at.key }, revision: e.revision }
  const value: unknown = e.length === 0 ? null : JSON.parse(e.string())
  return { op: { _tag: "Put", db: at.db, key: at.key, encode: () => Either.right(value) }, value, revision: e.revision }
}

export const applierLayer = Layer.scoped(
  ClusterStatus,
  Effect.gen(function* () {
    const store = yield* Store
    const client = yield* ClusterClient
    let watching = false
    let downSince = yield* Clock.currentTimeMillis
    let fullResyncs = 0
    /** when the bucket's stream last answered a look (stream info) with quorum, and whether the last look did */
    let streamAnsweredAt = downSince
    let streamAnswering = true
    /** the last look at a mirror (two sites): when it last heard from its source, and its lag */
    let mirror: { contactAt: number; lag: number } | undefined
    /** the bucket revision of the last stall and the watchdog's period then */
    let lastStall = { seq: -1, wait: WATCHDOG_MS }
    /** false until this process completed a full resync (or found nothing to resync) */
    let resumable = false
    const waiters = new Set<{ revision: number; resolve: () => void }>()
    const wake = () => {
      const applied = store.lastApplied()
      for (const w of waiters)
        if (w.revision <= applied) {
          waiters.delete(w)
          w.resolve()
        }
    }

    /** what the watchdog reads: entries delivered so far, and whether a commit is under way (a long one is not a stall) */
    const progress = { received: 0, applying: false }

    const apply = (ops: ReadonlyArray<EncodedOp>, lastApplied: number) =>
      Effect.suspend(() => {
        progress.applying = true
        return store.commit(ops, lastApplied)
      }).pipe(
        Effect.tap(() => Effect.sync(wake)),
        Effect.ensuring(
          Effect.sync(() => {
            progress.applying = false
            progress.received++
          })
        )
      )

    /**
     * One look at the bucket's stream: the answer, or undefined when there is none or it comes from a
     * stream without quorum (a leader left alone keeps answering: StreamQuorum), or during an election;
     * noted for health and writes.
     */
    const lookAtStream = (h: ClusterHandle) =>
      Effect.promise(() =>
        h.kv.status().then(
          (st) => (hasQuorum(st.streamInfo) ? st.streamInfo : undefined),
          () => undefined
        )
      ).pipe(
        Effect.timeoutTo({ duration: Duration.millis(LOOK_TIMEOUT_MS), onSuccess: (info) => info, onTimeout: () => undefined }),
        Effect.tap((info) =>
          Clock.currentTimeMillis.pipe(
            Effect.map((now) => {
              streamAnswering = info !== undefined
              client.reportStream(streamAnswering)
              if (info === undefined) return
              streamAnsweredAt = now
              // `active`: nanoseconds since the mirror last heard from its source (-1: never)
              const m = info.mirror
              if (m !== undefined) mirror = { contactAt: m.active < 0 ? (mirror?.contactAt ?? now) : now - Math.round(m.active / 1e6), lag: m.lag }
            })
          )
        )
      )

    /** Stops `iterator` (its watch then ends and is started again) when it stalls behind the bucket. */
    const watchdog = (h: ClusterHandle, iterator: { stop(): void }) =>
      Effect.gen(function* () {
        let seen = progress.received
        let wasBehind = false
        for (;;) {
          yield* Effect.sleep(Duration.millis(lastStall.wait))
          // during an election the bucket may not answer: look again later
          const lastSeq = (yield* lookAtStream(h))?.state.last_seq
          if (lastSeq === undefined) continue
          const behind = lastSeq > store.lastApplied()
          if (behind && wasBehind && progress.received === seen && !progress.applying) {
            lastStall = lastSeq === lastStall.seq ? { seq: lastSeq, wait: Math.min(WATCHDOG_MAX_MS, lastStall.wait * 2) } : { seq: lastSeq, wait: WATCHDOG_MS }
            yield* Effect.logWarning(
              `cluster: the watch delivered nothing while the bucket is at ${lastSeq} and this node at ${store.lastApplied()}; watching again`
            )
            iterator.stop()
            return
          }
          if (!behind) lastStall = { seq: -1, wait: WATCHDOG_MS }
          wasBehind = behind
          seen = progress.received
        }
      })

    /** One watch, from connection to its end; fails when it cannot go on. */
    const watchOnce = (h: ClusterHandle) =>
      Effect.gen(function* () {
        const info = yield* lookAtStream(h)
        if (info === undefined) return yield* Effect.fail("the bucket does not answer" as const)
        const state = info.state
        const last = store.lastApplied()
        // A node (re)started, or one whose history after `last` is gone, reads every key's last value: a
        // purge while it was away leaves no message to tell it. A watch lost and found again resumes.
        const full = state.messages > 0 && (!resumable || last === 0 || last + 1 < state.first_seq || last > state.last_seq)
        const iterator = yield* Effect.promise(() => (full ? h.kv.watch() : h.kv.watch({ resumeFromRevision: Math.max(1, last + 1) })))
        yield* Effect.addFinalizer(() => Effect.sync(() => iterator.stop()))
        const stopOnDisconnect = client.onStatus((type) => {
          if (type === "disconnect") iterator.stop()
        })
        yield* Effect.addFinalizer(() => Effect.sync(stopOnDisconnect))
        if (!client.connected()) return
        resumable = true
        if (full) {
          fullResyncs++
          yield* Effect.logInfo(`cluster: full resynchronisation (applied ${last}, bucket ${state.first_seq}–${state.last_seq})`)
        }
        const seen = full ? new Set<string>() : undefined
        let chunk: Array<EncodedOp> = []
        let chunkRevision = 0
        watching = true
        yield* Effect.forkScoped(watchdog(h, iterator))
        const entries = iterator[Symbol.asyncIterator]()
        const next = () => entries.next().then((r) => (progress.received++, r))
        while (true) {
          const r = yield* Effect.promise(next)
          if (r.done) break
          const e = r.value
          const op = toOp(e)
          if (op !== undefined) {
            chunk.push(op)
            if (seen !== undefined) seen.add(`${op.op.db}\u0000${(op.op as { key: string }).key}`)
          }
          chunkRevision = Math.max(chunkRevision, e.revision)
          // the snapshot of last values is complete when the consumer has nothing more pending
          const initialDone = seen !== undefined && (e.delta ?? 0) === 0
          if (chunk.length >= APPLY_CHUNK || iterator.getPending() === 0 || initialDone) {
            // during a resync the watermark moves only once the snapshot is complete
            yield* apply(chunk, seen === undefined ? chunkRevision : 0)
            chunk = []
          }
          if (initialDone) {
            const gone: Array<EncodedOp> = []
            yield* store
              .replicatedKeys((db, key, revision) => {
                // a key the node holds (its revision kept) that the bucket no longer has: purged while the node was away
                if (!seen.has(`${db}\u0000${key}`) && revision <= chunkRevision) gone.push({ op: { _tag: "Remove", db, key } })
              })
              .pipe(Effect.orDie)
            yield* apply(gone, chunkRevision)
            yield* Effect.logInfo(`cluster: resynchronised (${seen.size} keys, ${gone.length} removed)`)
            return yield* watchRest(iterator, next)
          }
        }
      }).pipe(
        Effect.scoped,
        Effect.ensuring(
          Effect.clockWith((clock) =>
            Effect.sync(() => {
              if (watching) downSince = clock.unsafeCurrentTimeMillis()
              watching = false
            })
          )
        )
      )

    /** After a resync's snapshot: plain updates. */
    const watchRest = (iterator: { getPending(): number }, next: () => Promise<IteratorResult<KvWatchEntry>>) =>
      Effect.gen(function* () {
        let chunk: Array<EncodedOp> = []
        let chunkRevision = 0
        while (true) {
          const r = yield* Effect.promise(next)
          if (r.done) return
          const op = toOp(r.value)
          if (op !== undefined) chunk.push(op)
          chunkRevision = Math.max(chunkRevision, r.value.revision)
          if (chunk.length >= APPLY_CHUNK || iterator.getPending() === 0) {
            yield* apply(chunk, chunkRevision)
            chunk = []
          }
        }
      })

    const loop = Effect.gen(function* () {
      const h = yield* Effect.promise(() => client.ready())
      // after a disconnect, wait for the connection before watching again
      while (!client.connected()) yield* Effect.sleep(Duration.millis(100))
      yield* watchOnce(h)
      return yield* Effect.fail("watch ended" as const)
    }).pipe(
      Effect.catchAllDefect((d) => Effect.logError("cluster applier failed", d).pipe(Effect.zipRight(Effect.fail("defect" as const)))),
      Effect.retry(RETRY),
      Effect.ignore
    )
    yield* Effect.forkScoped(Effect.forever(loop))

    return {
      health: Effect.clockWith((clock) =>
        Effect.sync((): ClusterHealth => {
          const now = clock.unsafeCurrentTimeMillis()
          const up = watching && client.connected()
          const mirrorCut = mirror !== undefined && now - mirror.contactAt > MIRROR_SILENT_MS
          // each reason to doubt the configuration, and since when
          const since = [...(up ? [] : [downSince]), ...(up && !streamAnswering ? [streamAnsweredAt] : []), ...(mirrorCut ? [mirror!.contactAt] : [])]
          const mirrorDomain = client.config.mirrorDomain
          return {
            status: since.length === 0 ? "ok" : "degraded",
            lastApplied: store.lastApplied(),
            ...(since.length === 0 ? {} : { configStaleSeconds: Math.max(0, Math.round((now - Math.min(...since)) / 1000)) }),
            fullResyncs,
            ...(mirrorDomain === undefined || mirror === undefined
              ? {}
              : {
                  mirror: {
                    domain: mirrorDomain,
                    source: mirrorCut ? "unreachable" : "reachable",
                    lastContactSeconds: Math.max(0, Math.round((now - mirror.contactAt) / 1000)),
                    lag: mirror.lag
                  }
                })
          }
        })
      ),
      awaitApplied: (revision: number) =>
        Effect.async<void>((resume) => {
          const w = { revision, resolve: () => resume(Effect.void) }
          waiters.add(w)
          wake()
          return Effect.sync(() => waiters.delete(w))
        })
    } satisfies ClusterStatusShape
  })
)
