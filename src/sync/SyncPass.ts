import { Data, Effect, Option, Schema, Stream } from "effect"
import { DirectoryUser } from "../domain/Directory.js"
import { DirectoryWriter } from "../domain/DirectoryWriter.js"
import { PhotoNormaliser } from "../domain/Photos.js"
import type { TenantId } from "../domain/Tenant.js"
import * as Keys from "../store/Keys.js"
import { Db } from "../store/Keys.js"
import { createHash } from "node:crypto"
import { makePhotoRepo } from "../store/PhotoRepo.js"
import { Store, type WriteOp } from "../store/Store.js"
import type { DirectorySource, SourceChange, SourceError, SourcePhoto } from "./DirectorySource.js"
import { SyncRepo } from "./SyncRepo.js"
import type { SyncCounts } from "../domain/SyncSettings.js"

/**
 * One sync pass of a tenant over its sources. Full passes are collected and
 * applied only when every source's stream completed: changed users are
 * upserted and cached users no source listed are removed, through the tenant
 * actor in batches (one LMDB transaction each, so a relayed message sees an
 * entry either old or new). Delta passes apply their changes as they come:
 * the cursor moves only after the pass completed, so a failed delta pass is
 * replayed from the same cursor and re-applying it is harmless. Nothing of a
 * failed full pass is applied.
 */

/**
 * users per ApplyDirectoryDelta request (one transaction; the actor patches
 * its address index for these entries, no reload). Small enough that a
 * relayed message never waits long behind one write, large enough that
 * per-transaction costs do not add up (perf/SyncBench.ts).
 */
export const APPLY_BATCH_SIZE = 5_000
/** a progress report (status, CLI progress) every this many users seen */
export const PROGRESS_EVERY = 1_000
/** rejected entries logged one by one, per pass; the rest are only counted */
export const MAX_REJECTIONS_LOGGED = 20

const encodeUser = Schema.encodeSync(DirectoryUser)
const decodeUser = Schema.decodeUnknownSync(DirectoryUser)

export class SyncFailed extends Data.TaggedError("SyncFailed")<{ readonly message: string; readonly retryable: boolean }> {}

export interface PassSource {
  /** the configured source name (keys its cursor and id map) */
  readonly name: string
  readonly source: DirectorySource
}

export interface PassResult {
  readonly counts: SyncCounts
  readonly mode: "full" | "delta" | "mixed"
}

export type Progress = (counts: SyncCounts, source: string) => Effect.Effect<void>

/** Key order and optional fields do not matter: two entries are the same when their values are. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>)
            .filter(([, x]) => x !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : 1))
        )
      : v
  )

export const runPass = Effect.fn("SyncPass.run")(function* (
  tenantId: TenantId,
  sources: ReadonlyArray<PassSource>,
  progress: Progress,
  /** updated as the pass goes, so a failed pass still reports how far it got */
  counts: { seen: number; upserted: number; removed: number; rejected: number } = { seen: 0, upserted: 0, removed: 0, rejected: 0 }
) {
  const repo = yield* SyncRepo
  const store = yield* Store
  const writer = yield* DirectoryWriter
  const seen = new Set<string>()
  /**
   * A full pass's changed users until every source completed, held as the
   * JSON of their encoded form: a string costs a fraction of the decoded
   * object graph (100,000 users: tens of MB instead of hundreds).
   */
  const fullUpserts = new Map<string, string>()
  const finalWrites: Array<WriteOp> = []
  const modes = new Set<"full" | "delta">()
  let rejectionsLogged = 0

  const apply = (upsert: ReadonlyArray<DirectoryUser>, remove: ReadonlyArray<string>) =>
    writer.applyDelta(tenantId, { upsert, remove }).pipe(
      Effect.mapError((e) => new SyncFailed({ message: `the tenant actor refused the changes: ${e.message}`, retryable: true })),
      Effect.tap(() =>
        Effect.sync(() => {
          counts.upserted += upsert.length
          counts.removed += remove.length
        })
      )
    )
  const applyBatched = Effect.fn("SyncPass.applyBatched")(function* (upsert: ReadonlyArray<DirectoryUser>, remove: ReadonlyArray<string>) {
    for (let i = 0; i < upsert.length; i += APPLY_BATCH_SIZE) yield* apply(upsert.slice(i, i + APPLY_BATCH_SIZE), [])
    for (let i = 0; i < remove.length; i += APPLY_BATCH_SIZE) yield* apply([], remove.slice(i, i + APPLY_BATCH_SIZE))
  })

  const photos = yield* makePhotoRepo
  const normaliser = yield* PhotoNormaliser
  /** photos fetched and re-encoded this pass (the rest were unchanged, or refused) */
  let photosFetched = 0
  let photoLogs = 0

  /**
   * The user with the photo the source has: the cached one when its tag is
   * the same (nothing fetched), else the bytes read, normalised and stored.
   * A photo that cannot be read or is refused leaves the user without one.
   */
  const withPhoto = (mail: string, user: DirectoryUser, photo: SourcePhoto | undefined, source: string): Effect.Effect<DirectoryUser> =>
    Effect.gen(function* () {
      if (photo === undefined) return user
      const stored = store.getSync(Db.users, DirectoryUser, Keys.userKey(tenantId, mail))
      const cached = stored._tag === "Right" && Option.isSome(stored.right) ? stored.right.value.photo : undefined
      const keep = cached === undefined ? user : new DirectoryUser({ ...user, photo: cached }, true)
      if (cached !== undefined && photo.tag !== undefined && cached.source === photo.tag) return keep
      // a photo that cannot be fetched now keeps the cached one until a later pass reads it
      const bytes = yield* photo.bytes.pipe(Effect.catchAll((e: SourceError) => logPhoto(e.message, source, mail).pipe(Effect.as(null))))
      if (bytes === null) return keep
      if (bytes === undefined) return user
      photosFetched++
      const tag = photo.tag ?? `sha256:${createHash("sha256").update(bytes).digest("hex")}`
      if (cached !== undefined && cached.source === tag) return keep
      return yield* normaliser.normalise(bytes).pipe(
        Effect.flatMap((normalised) => photos.save(tenantId, normalised, tag)),
        Effect.map((saved) => new DirectoryUser({ ...user, photo: saved }, true)),
        Effect.catchAll((e) => logPhoto(e._tag === "PhotoRefused" ? `refused: ${e.reason}` : e.message, source, mail).pipe(Effect.as(user)))
      )
    })
  const logPhoto = (reason: string, source: string, mail: string) =>
    photoLogs++ < MAX_REJECTIONS_LOGGED
      ? Effect.logWarning(`directory photo not taken: ${reason}`).pipe(Effect.annotateLogs({ tenant: tenantId, source, mail }))
      : Effect.void

  const unchanged = (mail: string, user: DirectoryUser): boolean => {
    const stored = store.getSync(Db.users, DirectoryUser, Keys.userKey(tenantId, mail))
    return stored._tag === "Right" && Option.isSome(stored.right) && canonical(stored.right.value) === canonical(user)
  }

  for (const { name, source } of sources) {
    yield* progress(counts, source.name)
    const ids = yield* repo.idMap(tenantId, name)
    const cursor = yield* repo.getCursor(tenantId, name)
    yield* Effect.scoped(
      Effect.gen(function* () {
        const pass = yield* source.pass(cursor)
        modes.add(pass.mode)
        const full = pass.mode === "full"
        const idsAfter = full ? new Map<string, string>() : ids
        // delta: last change per mail wins within a batch (ApplyDirectoryDelta removes before it upserts)
        const pending = new Map<string, { readonly upsert: DirectoryUser } | { readonly remove: true }>()
        const flush = Effect.suspend(() => {
          const upsert: Array<DirectoryUser> = []
          const remove: Array<string> = []
          for (const [mail, c] of pending) "upsert" in c ? upsert.push(c.upsert) : remove.push(mail)
          pending.clear()
          return upsert.length + remove.length === 0 ? Effect.void : apply(upsert, remove)
        })
        const stage = (mail: string, c: { readonly upsert: DirectoryUser } | { readonly remove: true }) =>
          Effect.suspend(() => {
            pending.delete(mail)
            pending.set(mail, c)
            return pending.size >= APPLY_BATCH_SIZE ? flush : Effect.void
          })

        const handle = (change: SourceChange): Effect.Effect<void, SyncFailed> =>
          Effect.suspend(() => {
            switch (change._tag) {
              case "Upsert": {
                if (change.photo !== undefined) {
                  const photo = change.photo
                  return Effect.flatMap(withPhoto(change.user.mail.toLowerCase(), change.user, photo, source.name), (user) =>
                    handle({ _tag: "Upsert", user, ...(change.sourceId !== undefined ? { sourceId: change.sourceId } : {}) })
                  )
                }
                const mail = change.user.mail.toLowerCase()
                counts.seen++
                seen.add(mail)
                let renamed: string | undefined
                if (change.sourceId !== undefined) {
                  const before = ids.get(change.sourceId)
                  if (before !== undefined && before !== mail) renamed = before
                  idsAfter.set(change.sourceId, mail)
                  if (!full) finalWrites.push(repo.idOp(tenantId, name, change.sourceId, mail))
                }
                const report = counts.seen % PROGRESS_EVERY === 0 ? progress(counts, source.name) : Effect.void
                if (full) {
                  if (!unchanged(mail, change.user)) fullUpserts.set(mail, JSON.stringify(encodeUser(change.user)))
                  return report
                }
                return Effect.zipRight(renamed === undefined ? Effect.void : stage(renamed, { remove: true }), stage(mail, { upsert: change.user })).pipe(
                  Effect.zipRight(report)
                )
              }
              case "Remove":
                return full ? Effect.void : stage(change.mail.toLowerCase(), { remove: true })
              case "RemoveById": {
                const mail = ids.get(change.sourceId)
                if (mail === undefined || full) return Effect.void
                ids.delete(change.sourceId)
                finalWrites.push(repo.idOp(tenantId, name, change.sourceId, undefined))
                return stage(mail, { remove: true })
              }
              case "Rejected": {
                counts.rejected++
                // a readable mail keeps its cached entry: a bad phone number must not remove a person
                if (change.mail !== undefined) seen.add(change.mail.toLowerCase())
                if (rejectionsLogged++ >= MAX_REJECTIONS_LOGGED) return Effect.void
                return Effect.logWarning(`directory entry rejected: ${change.reason}`).pipe(
                  Effect.annotateLogs({ tenant: tenantId, source: source.name, ref: change.ref })
                )
              }
            }
          })

        yield* Stream.runForEach(pass.changes, handle).pipe(
          Effect.mapError((e) => (e._tag === "SourceError" ? new SyncFailed({ message: `${e.source}: ${e.message}`, retryable: e.retryable }) : e))
        )
        yield* flush
        const next = yield* pass.nextCursor
        finalWrites.push(repo.cursorOp(tenantId, name, next))
        if (full) {
          finalWrites.push(...Array.from(ids.keys(), (id) => repo.idOp(tenantId, name, id, undefined)))
          for (const [id, mail] of idsAfter) finalWrites.push(repo.idOp(tenantId, name, id, mail))
        }
      })
    ).pipe(Effect.catchTag("SourceError", (e) => Effect.fail(new SyncFailed({ message: `${e.source}: ${e.message}`, retryable: e.retryable }))))
  }

  // every source completed: the full passes' results may now be applied
  const staged = Array.from(fullUpserts.values())
  fullUpserts.clear()
  for (let i = 0; i < staged.length; i += APPLY_BATCH_SIZE) {
    yield* apply(
      staged.slice(i, i + APPLY_BATCH_SIZE).map((json) => decodeUser(JSON.parse(json))),
      []
    )
  }
  if (modes.size === 1 && modes.has("full")) {
    const prefix = Keys.userPrefix(tenantId)
    const cached = yield* store.keys(Db.users, prefix).pipe(Effect.mapError((e) => new SyncFailed({ message: e.message, retryable: true })))
    const gone = cached.map((k) => k.slice(prefix.length)).filter((mail) => !seen.has(mail))
    if (seen.size === 0 && gone.length > 0) {
      return yield* new SyncFailed({
        message: `the sources listed no users at all; keeping the ${gone.length} cached ones (check the filter, group or permissions)`,
        retryable: false
      })
    }
    yield* applyBatched([], gone)
    // photos no entry names any more (replaced, or their users removed); a delta pass leaves them to the next full one
    const swept = yield* photos.sweep(tenantId).pipe(Effect.mapError((e) => new SyncFailed({ message: e.message, retryable: true })))
    if (swept > 0 || photosFetched > 0)
      yield* Effect.logInfo(`directory photos: ${photosFetched} fetched, ${swept} unused removed`).pipe(Effect.annotateLogs({ tenant: tenantId }))
  }
  yield* repo.batch(finalWrites).pipe(Effect.mapError((e) => new SyncFailed({ message: `saving the sync cursor failed: ${e.message}`, retryable: true })))
  yield* progress(counts, "")
  const mode: PassResult["mode"] = modes.size === 1 ? (modes.has("full") ? "full" : "delta") : "mixed"
  return { counts: { ...counts }, mode } satisfies PassResult
})
