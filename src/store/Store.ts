import { Context, Duration, Effect, Either, Option, ParseResult, PubSub, Schema } from "effect"
import type { Queue, Scope } from "effect"
import { asBinary, open, type Database, type RootDatabase } from "lmdb"
import type { TenantId } from "../domain/Tenant.js"
import { Db, type DbName, prefixEnd, tenantIdOfKey, userPrefix } from "./Keys.js"
import { StoreReplication, type StoreReplicationShape } from "./Replication.js"
import { StoreDecodeError, StoreError } from "./StoreError.js"

/**
 * The one place data is written (DESIGN.md "Storage"). LMDB, one environment,
 * one named database per entity, msgpack values holding the Schema *encoded*
 * form, decoded with Schema on the way out. Each committed write is announced
 * on a change feed that actors and the registry reload from; a later
 * replicated source of truth will write through here too.
 */

/** The folder of the LMDB environment. */
export class StorePath extends Context.Tag("imprint/StorePath")<StorePath, string>() {}

/** LMDB reserves a slot per named database; leaves room for admin, audit, sessions. */
export const MAX_DATABASES = 32
/** Change feed capacity: subscribers only filter and set a flag, so this is never reached in practice. */
export const CHANGE_FEED_CAPACITY = 4096
/** How often commits by another process on the same folder (`imprint tenant import`) are looked for. */
export const EXTERNAL_CHANGE_POLL_INTERVAL = Duration.seconds(1)
/** more foreign revisions than this since the last poll: skip counting them, just rescan */
const MAX_REVISION_GAP = 10_000

/**
 * Revisions live in LMDB, written in the same transaction as the data, so a
 * reader in this or another process can tell whether what it loaded is
 * stale: "revision" (global), "db/<db>", "tenant/<id>/" and
 * "change/<db>/<id>" (what the poller replays as changes).
 */
const META_DB = "meta"
const GLOBAL_REVISION = "revision"
const CHANGE_ROOT = "change/"
const dbRevisionKey = (db: DbName) => `db/${db}`
/** the replicated revision of one key (cluster mode), kept after a delete */
const KEY_REVISION_ROOT = "krev/"
const keyRevisionKey = (db: DbName, key: string) => `${KEY_REVISION_ROOT}${db}/${key}`
/** the highest replicated revision this node applied in order (cluster mode) */
const LAST_APPLIED = "cluster/last-applied"
const tenantRevisionKey = (id: TenantId) => `tenant/${id}/`
const changeKey = (db: DbName, id: TenantId | undefined) => `${CHANGE_ROOT}${db}/${id ?? ""}`

/**
 * The tenant change log: per commit and tenant, `tlog/<revision>/<tenant>` →
 * the lowercased mails of the directory entries it wrote, or `true` when it
 * wrote anything else (relay state, templates, rules, a whole directory). A
 * tenant actor in any process catches up on a directory change by patching
 * its address index for those mails instead of reloading the tenant. Only the
 * last CHANGE_LOG_WINDOW revisions are kept; a reader further behind reloads.
 */
const LOG_ROOT = "tlog/"
export const CHANGE_LOG_WINDOW = 4_096
/** a commit writing more entries than this logs `true` (reload): patching that many costs about what a reload does */
export const CHANGE_LOG_MAX_USERS = 20_000
const logRevision = (rev: number) => String(rev).padStart(15, "0")
const logKey = (rev: number, id: TenantId) => `${LOG_ROOT}${logRevision(rev)}/${id}`

/** What a commit did to one tenant: the directory entries it wrote (lowercased mails), or everything ("whole"). */
type TenantTouch = { whole: boolean; readonly mails: Set<string> }

const touchOf = (touches: Map<TenantId, TenantTouch>, op: WriteOp, tenantId: TenantId) => {
  let touch = touches.get(tenantId)
  if (touch === undefined) touches.set(tenantId, (touch = { whole: false, mails: new Set() }))
  if (touch.whole) return
  // photo bytes are read when a message needs them, never held by an actor: writing one reloads nothing
  if (op.db === Db.photoBlobs) return
  const prefix = userPrefix(tenantId)
  if (op.db === Db.users && op._tag !== "RemovePrefix" && op.key.startsWith(prefix) && touch.mails.size < CHANGE_LOG_MAX_USERS) {
    touch.mails.add(op.key.slice(prefix.length))
  } else {
    touch.whole = true
    touch.mails.clear()
  }
}

/** One committed change: a tenant's entity (named database) was written. */
export interface StoreChange {
  /** the named database written (Db.tenants, Db.users, …) */
  readonly entity: DbName
  /** undefined for keys outside `tenant/` */
  readonly tenantId: TenantId | undefined
  /** the store revision of the commit (persisted, monotonic across processes sharing the folder) */
  readonly revision: number
}

export interface Entry<A> {
  readonly key: string
  readonly value: A
}

/** A write with its value encoded for storage; `revision`: the replicated revision it carries (cluster mode). */
export interface EncodedOp {
  readonly op: WriteOp
  readonly value?: unknown
  readonly revision?: number
}

/** Writes encoded and held compactly until their commit (`Store.packOps`). */
export interface PackedWrites {
  readonly unpack: () => ReadonlyArray<WriteOp>
  /** the writes as `commit` takes them, made one at a time (never all at once for a large batch) */
  readonly entries: () => Iterable<EncodedOp>
}

/** A write inside a batch. Build with `Write.put` / `Write.remove` / `Write.removePrefix`. */
export type WriteOp =
  | { readonly _tag: "Put"; readonly db: DbName; readonly key: string; readonly encode: () => Either.Either<unknown, ParseResult.ParseError> }
  | { readonly _tag: "Remove"; readonly db: DbName; readonly key: string }
  | { readonly _tag: "RemovePrefix"; readonly db: DbName; readonly prefix: string }

export const Write = {
  put: <A, I>(db: DbName, schema: Schema.Schema<A, I, never>, key: string, value: A): WriteOp => ({
    _tag: "Put",
    db,
    key,
    encode: () => Schema.encodeEither(schema)(value)
  }),
  /** a Put whose value is already in its stored form (`encodeOps`' output, held for a later commit) */
  putEncoded: (db: DbName, key: string, encoded: unknown): WriteOp => {
    const value = Either.right(encoded)
    return { _tag: "Put", db, key, encode: () => value }
  },
  remove: (db: DbName, key: string): WriteOp => ({ _tag: "Remove", db, key }),
  /** removes every key starting with `prefix`; use delimiter-terminated prefixes only */
  removePrefix: (db: DbName, prefix: string): WriteOp => ({ _tag: "RemovePrefix", db, prefix })
}

const changeId = (db: DbName, key: string) => `${db}\u0000${tenantIdOfKey(key) ?? ""}`

const make = Effect.gen(function* () {
  const path = yield* StorePath
  const env: RootDatabase = yield* Effect.acquireRelease(
    Effect.try({
      try: () => open({ path, maxDbs: MAX_DATABASES }),
      catch: (cause) => new StoreError({ op: "open", message: `cannot open LMDB at ${path}: ${String(cause)}`, cause })
    }),
    (env) =>
      // lmdb renews its read transaction on a timer set by a read; let a pending one run before the close
      Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 0))).pipe(
        Effect.zipRight(
          Effect.tryPromise({ try: () => env.close(), catch: (cause) => new StoreError({ op: "close", message: String(cause), cause }) }).pipe(
            Effect.catchAll((e) => Effect.logError("closing the store failed", e))
          )
        )
      )
  )
  const changes = yield* Effect.acquireRelease(PubSub.bounded<StoreChange>(CHANGE_FEED_CAPACITY), PubSub.shutdown)

  const databases = new Map<DbName, Database>()
  // plain function: also used on the synchronous hot path
  const database = (name: DbName): Database => {
    let db = databases.get(name)
    if (db === undefined) {
      db = env.openDB({ name })
      databases.set(name, db)
    }
    return db
  }

  const meta = database(META_DB)
  const readRevision = (key: string): number => {
    const v = meta.get(key)
    return typeof v === "number" ? v : 0
  }

  const decodeAt = <A, I>(db: DbName, schema: Schema.Schema<A, I, never>, key: string, raw: unknown) =>
    Either.mapLeft(
      Schema.decodeUnknownEither(schema)(raw),
      (e) => new StoreDecodeError({ db, key, message: `${db}:${key} does not decode: ${ParseResult.TreeFormatter.formatErrorSync(e)}` })
    )

  const readError = (db: DbName, key: string, cause: unknown) =>
    new StoreError({ op: "read", db, key, message: `reading ${db}:${key} failed: ${String(cause)}`, cause })

  /** Synchronous read for the mail hot path. */
  const getSync = <A, I>(db: DbName, schema: Schema.Schema<A, I, never>, key: string): Either.Either<Option.Option<A>, StoreError | StoreDecodeError> => {
    let raw: unknown
    try {
      raw = database(db).get(key)
    } catch (cause) {
      return Either.left(readError(db, key, cause))
    }
    return raw === undefined ? Either.right(Option.none()) : Either.map(decodeAt(db, schema, key, raw), Option.some)
  }

  const get = <A, I>(db: DbName, schema: Schema.Schema<A, I, never>, key: string) =>
    // several per message (fail-safe memory, directory): no span
    Effect.suspend(() => getSync(db, schema, key))

  /** Calls `f` for each raw entry of the prefix, in key order, without accumulating. */
  const scan = (db: DbName, prefix: string, f: (key: string, raw: unknown) => void) =>
    Effect.try({
      try: () => {
        for (const { key, value } of database(db).getRange({ start: prefix, end: prefixEnd(prefix) })) {
          if (typeof key !== "string" || !key.startsWith(prefix)) continue
          f(key, value)
        }
      },
      catch: (cause) => (cause instanceof StoreDecodeError ? cause : readError(db, prefix, cause))
    })

  const forEach = <A, I>(db: DbName, schema: Schema.Schema<A, I, never>, prefix: string, f: (key: string, value: A) => void) =>
    Effect.suspend(() => {
      let count = 0
      return scan(db, prefix, (key, raw) => {
        const decoded = decodeAt(db, schema, key, raw)
        if (Either.isLeft(decoded)) throw decoded.left
        f(key, decoded.right)
        count++
      }).pipe(Effect.as(count))
    }).pipe(Effect.withSpan("Store.forEach", { attributes: { db } }))

  /**
   * The msgpack-decoded values without Schema, for index builders over large
   * prefixes (a 100,000-user directory) that read a field or two and check
   * them by hand; Schema costs more than LMDB there. Throwing a
   * StoreDecodeError from `f` stops the scan with that error.
   */
  const forEachRaw = (db: DbName, prefix: string, f: (key: string, value: unknown) => void) =>
    Effect.suspend(() => {
      let count = 0
      return scan(db, prefix, (key, raw) => {
        f(key, raw)
        count++
      }).pipe(Effect.as(count))
    }).pipe(Effect.withSpan("Store.forEachRaw", { attributes: { db } }))

  const list = <A, I>(db: DbName, schema: Schema.Schema<A, I, never>, prefix: string) =>
    Effect.suspend(() => {
      const out: Array<Entry<A>> = []
      return forEach(db, schema, prefix, (key, value) => out.push({ key, value })).pipe(Effect.as(out as ReadonlyArray<Entry<A>>))
    })

  const keys = (db: DbName, prefix: string) =>
    Effect.suspend(() => {
      const out: Array<string> = []
      return scan(db, prefix, (key) => out.push(key)).pipe(Effect.as(out as ReadonlyArray<string>))
    })

  /** The stored msgpack bytes (backups, replication, and tests that prove a write changed nothing). */
  const rawEntries = (db: DbName, prefix: string) =>
    Effect.flatMap(keys(db, prefix), (ks) =>
      Effect.try({
        try: () => ks.map((key) => ({ key, bytes: Uint8Array.from(database(db).getBinary(key) ?? []) })),
        catch: (cause) => readError(db, prefix, cause)
      })
    )

  /** Encodes every Put's value with its Schema (the stored form); a value that does not encode fails the whole batch. */
  const encodeOps = (ops: ReadonlyArray<WriteOp>): Either.Either<Array<EncodedOp>, StoreError> => {
    const encoded: Array<EncodedOp> = []
    for (const op of ops) {
      if (op._tag !== "Put") {
        encoded.push({ op })
        continue
      }
      const value = op.encode()
      if (Either.isLeft(value)) {
        return Either.left(
          new StoreError({
            op: "encode",
            db: op.db,
            key: op.key,
            message: `${op.db}:${op.key} cannot be encoded: ${ParseResult.TreeFormatter.formatErrorSync(value.left)}`
          })
        )
      }
      encoded.push({ op, value: value.right })
    }
    return Either.right(encoded)
  }

  /**
   * One LMDB transaction. An entry with a `revision` comes from the replicated
   * source of truth: it is applied only when newer than the key's stored
   * revision (an older change never overwrites a newer one), and the key
   * keeps that revision (a delete keeps it too). `lastApplied` moves the
   * node's replication watermark in the same transaction.
   */
  const commit = (entries: Iterable<EncodedOp>, lastApplied?: number) =>
    Effect.gen(function* () {
      // lmdb opens named databases with its own write; do it before the transaction
      let count = 0
      for (const { op } of entries) {
        database(op.db)
        count++
      }
      const outcome = yield* Effect.tryPromise({
        try: () =>
          env.transaction(() => {
            const touched = new Map<string, { entity: DbName; tenantId: TenantId | undefined }>()
            const touches = new Map<TenantId, TenantTouch>()
            for (const { op, value, revision } of entries) {
              if (revision !== undefined && op._tag !== "RemovePrefix") {
                if (readRevision(keyRevisionKey(op.db, op.key)) >= revision) continue
                meta.put(keyRevisionKey(op.db, op.key), revision)
              }
              const db = database(op.db)
              if (op._tag === "Put") db.put(op.key, value)
              else if (op._tag === "Remove") db.remove(op.key)
              else {
                for (const key of Array.from(db.getKeys({ start: op.prefix, end: prefixEnd(op.prefix) }))) {
                  if (typeof key === "string" && key.startsWith(op.prefix)) db.remove(key)
                }
              }
              const key = op._tag === "RemovePrefix" ? op.prefix : op.key
              const tenantId = tenantIdOfKey(key)
              touched.set(changeId(op.db, key), { entity: op.db, tenantId })
              if (tenantId !== undefined) touchOf(touches, op, tenantId)
            }
            if (lastApplied !== undefined && lastApplied > readRevision(LAST_APPLIED)) meta.put(LAST_APPLIED, lastApplied)
            if (touched.size === 0) return { rev: 0, touched }
            const rev = readRevision(GLOBAL_REVISION) + 1
            meta.put(GLOBAL_REVISION, rev)
            for (const change of touched.values()) {
              meta.put(dbRevisionKey(change.entity), rev)
              meta.put(changeKey(change.entity, change.tenantId), rev)
              if (change.tenantId !== undefined) meta.put(tenantRevisionKey(change.tenantId), rev)
            }
            for (const [tenantId, touch] of touches) meta.put(logKey(rev, tenantId), touch.whole ? true : Array.from(touch.mails))
            // the window slides: drop what fell out of it (usually nothing or one commit's entries)
            if (rev > CHANGE_LOG_WINDOW) {
              for (const key of Array.from(meta.getKeys({ start: LOG_ROOT, end: `${LOG_ROOT}${logRevision(rev - CHANGE_LOG_WINDOW)}` }))) meta.remove(key)
            }
            return { rev, touched }
          }),
        catch: (cause) => new StoreError({ op: "write", message: `write of ${count} ops failed: ${String(cause)}`, cause })
      })
      if (outcome.touched.size === 0) return 0
      ownRevisions.add(outcome.rev)
      yield* PubSub.publishAll(
        changes,
        Array.from(outcome.touched.values(), (c) => ({ ...c, revision: outcome.rev }))
      )
      return outcome.rev
    })

  /**
   * In a cluster: the replicated databases' writes go to the source of truth
   * first (a prefix removal becomes one removal per key this node holds), and
   * then, with the revisions it gave, into LMDB with the local ones in one
   * transaction. A key written twice in one batch is written once, last op wins.
   */
  const replicate = (replication: StoreReplicationShape, encoded: ReadonlyArray<EncodedOp>) =>
    Effect.gen(function* () {
      const local: Array<EncodedOp> = []
      const shared = new Map<string, EncodedOp>()
      for (const entry of encoded) {
        const { op } = entry
        if (!replication.replicates(op.db)) local.push(entry)
        else if (op._tag !== "RemovePrefix") shared.set(`${op.db}\u0000${op.key}`, entry)
        else {
          yield* scan(op.db, op.prefix, (key) => {
            shared.set(`${op.db}\u0000${key}`, { op: { _tag: "Remove", db: op.db, key } })
          })
        }
      }
      const writes = Array.from(shared.values()).filter(
        ({ op }) =>
          // removing a key this node never had: nothing to tell anyone
          op._tag === "Put" ||
          readRevision(keyRevisionKey(op.db, (op as { key: string }).key)) > 0 ||
          database(op.db).get((op as { key: string }).key) !== undefined
      )
      const revisions =
        writes.length === 0
          ? []
          : yield* replication.write(
              writes.map(({ op, value }) => {
                const key = (op as { key: string }).key
                return {
                  db: op.db,
                  key,
                  value: op._tag === "Put" ? value : undefined,
                  expected: readRevision(keyRevisionKey(op.db, key)),
                  deleted: database(op.db).get(key) === undefined
                }
              })
            )
      return yield* commit([...local, ...writes.map((w, i) => ({ ...w, revision: revisions[i] }))])
    })

  const replication = yield* Effect.serviceOption(StoreReplication)

  /**
   * `ops` with each Put's value encoded now to the bytes LMDB will store, all
   * of them in one buffer (msgpack: several times smaller than the objects),
   * for writes held a while before their commit (an all-or-nothing tenant
   * batch); `unpack` gives the ops back, in order, for `batch`. In a cluster
   * the replicated writes travel as values, so they are held as values there.
   */
  const packOps = (ops: ReadonlyArray<WriteOp>): Either.Either<PackedWrites, StoreError> =>
    Either.map(encodeOps(ops), (encoded) => (Option.isSome(replication) ? holdValues(encoded) : holdBytes(encoded)))

  const holdValues = (encoded: ReadonlyArray<EncodedOp>): PackedWrites => {
    const held = encoded.map(({ op, value }) => (op._tag === "Put" ? Write.putEncoded(op.db, op.key, value) : op))
    return { unpack: () => held, entries: () => encoded }
  }

  /** A function of its own: a closure beside these would keep `encoded` (the objects) alive with the bytes. */
  const holdBytes = (encoded: ReadonlyArray<EncodedOp>): PackedWrites => {
    const others: Array<WriteOp | undefined> = []
    const dbs: Array<DbName> = []
    const keys: Array<string> = []
    const chunks: Array<Uint8Array> = []
    for (const { op, value } of encoded) {
      if (op._tag !== "Put") {
        others.push(op)
        continue
      }
      others.push(undefined)
      dbs.push(op.db)
      keys.push(op.key)
      chunks.push((database(op.db) as unknown as { encoder: { encode: (v: unknown) => Uint8Array } }).encoder.encode(value))
    }
    // one copy: the encoder may hand back views of a buffer it reuses
    const bytes = Buffer.concat(chunks)
    const ends = new Uint32Array(chunks.length)
    chunks.reduce((end, c, i) => (ends[i] = end + c.length), 0)
    const valueAt = (i: number) => asBinary(bytes.subarray(i === 0 ? 0 : ends[i - 1], ends[i]))
    return {
      unpack: () => {
        let put = 0
        return others.map((op) => {
          if (op !== undefined) return op
          const i = put++
          return Write.putEncoded(dbs[i]!, keys[i]!, valueAt(i))
        })
      },
      entries: () => ({
        *[Symbol.iterator]() {
          let put = 0
          for (const op of others) {
            if (op !== undefined) {
              yield { op }
              continue
            }
            const i = put++
            yield { op: Write.putEncoded(dbs[i]!, keys[i]!, undefined), value: valueAt(i) }
          }
        }
      })
    }
  }

  /** All ops in one LMDB transaction; the change feed hears of it only after the commit. Answers the store revision (0: nothing written). */
  const batch = (ops: ReadonlyArray<WriteOp>) =>
    Effect.flatMap(encodeOps(ops), (encoded) => (Option.isSome(replication) ? replicate(replication.value, encoded) : commit(encoded))).pipe(
      Effect.withSpan("Store.batch", { attributes: { ops: ops.length } })
    )

  /**
   * Held writes (`packOps`) and `extra` in one transaction, like `batch`,
   * without making every op of a large batch at once; in a cluster, `batch`.
   */
  const batchPacked = (packed: ReadonlyArray<PackedWrites>, extra: ReadonlyArray<WriteOp>) =>
    (Option.isSome(replication)
      ? batch([...packed.flatMap((p) => p.unpack()), ...extra])
      : Effect.flatMap(encodeOps(extra), (encodedExtra) =>
          commit({
            *[Symbol.iterator]() {
              for (const p of packed) yield* p.entries()
              yield* encodedExtra
            }
          })
        )
    ).pipe(Effect.withSpan("Store.batchPacked", { attributes: { tenants: packed.length } }))

  // ---- commits by other processes (the CLI importing while the server runs) ----
  const ownRevisions = new Set<number>()
  let watermark = readRevision(GLOBAL_REVISION)
  const pollExternal = Effect.suspend(() => {
    env.resetReadTxn() // see other processes' commits now, not at lmdb's next renewal
    const global = readRevision(GLOBAL_REVISION)
    if (global <= watermark) return Effect.void
    const since = watermark
    let foreign = global - since > MAX_REVISION_GAP
    for (let r = since + 1; !foreign && r <= global; r++) foreign = !ownRevisions.has(r)
    for (const r of ownRevisions) if (r <= global) ownRevisions.delete(r)
    watermark = global
    if (!foreign) return Effect.void
    const replay: Array<StoreChange> = []
    return scan(META_DB, CHANGE_ROOT, (key, value) => {
      if (typeof value !== "number" || value <= since) return
      const [db, id] = key.slice(CHANGE_ROOT.length).split("/")
      replay.push({ entity: db, tenantId: id === "" ? undefined : (id as TenantId), revision: value })
    }).pipe(Effect.zipRight(Effect.suspend(() => PubSub.publishAll(changes, replay))))
  }).pipe(Effect.catchAll((e) => Effect.logError("polling for external store changes failed", e)))
  yield* pollExternal.pipe(Effect.delay(EXTERNAL_CHANGE_POLL_INTERVAL), Effect.forever, Effect.forkScoped)

  /**
   * The directory entries (lowercased mails) a tenant's commits in
   * (since, upTo] wrote, when those commits wrote nothing but directory
   * entries and the log reaches back that far; undefined when the reader must
   * reload the tenant. Synchronous: read in the same turn as the revision.
   */
  const directoryChangesSince = (tenantId: TenantId, since: number, upTo: number): ReadonlySet<string> | undefined => {
    if (upTo - since > CHANGE_LOG_WINDOW) return undefined
    const mails = new Set<string>()
    const suffix = `/${tenantId}`
    let found = false
    let whole = false
    // read to the end (an iterator left early keeps lmdb's read transaction pinned)
    for (const { key, value } of meta.getRange({ start: `${LOG_ROOT}${logRevision(since + 1)}`, end: `${LOG_ROOT}${logRevision(upTo)}0` })) {
      if (whole || typeof key !== "string" || !key.endsWith(suffix) || key.length !== LOG_ROOT.length + 15 + suffix.length) continue
      found = true
      if (Array.isArray(value)) for (const mail of value) mails.add(String(mail))
      else whole = true
    }
    // the tenant's revision moved but no entry says how: written before the log existed
    return found && !whole ? mails : undefined
  }

  /**
   * The tenants whose commits in (since, upTo] wrote anything but directory
   * entries (their record among them), from the change log; undefined when
   * the log does not reach back that far. Synchronous, like directoryChangesSince.
   */
  const tenantsRewrittenSince = (since: number, upTo: number): ReadonlySet<TenantId> | undefined => {
    // the window slides with the global revision: older entries are gone
    if (readRevision(GLOBAL_REVISION) - since >= CHANGE_LOG_WINDOW || since < 0) return undefined
    const out = new Set<TenantId>()
    const start = LOG_ROOT.length + 15 + 1
    for (const { key, value } of meta.getRange({ start: `${LOG_ROOT}${logRevision(since + 1)}`, end: `${LOG_ROOT}${logRevision(upTo)}0` })) {
      if (value === true && typeof key === "string" && key.length > start) out.add(key.slice(start) as TenantId)
    }
    return out
  }

  /** Every key that carries a replicated revision: db, key, revision (cluster resync and checksums). */
  const replicatedKeys = (f: (db: DbName, key: string, revision: number) => void) =>
    scan(META_DB, KEY_REVISION_ROOT, (k, v) => {
      const rest = k.slice(KEY_REVISION_ROOT.length)
      const slash = rest.indexOf("/")
      if (slash > 0 && typeof v === "number") f(rest.slice(0, slash), rest.slice(slash + 1), v)
    })

  return {
    get,
    getSync,
    directoryChangesSince,
    tenantsRewrittenSince,
    encodeOps,
    packOps,
    commit,
    replicatedKeys,
    /** the replicated revision of a key (0: never replicated) */
    keyRevision: (db: DbName, key: string): number => readRevision(keyRevisionKey(db, key)),
    /** the highest replicated revision applied in order (0: none) */
    lastApplied: (): number => readRevision(LAST_APPLIED),
    /** the stored (msgpack-decoded) value, for replication */
    getRawSync: (db: DbName, key: string): unknown => database(db).get(key),
    list,
    forEach,
    forEachRaw,
    keys,
    rawEntries,
    batch,
    batchPacked,
    put: <A, I>(db: DbName, schema: Schema.Schema<A, I, never>, key: string, value: A) => batch([Write.put(db, schema, key, value)]),
    remove: (db: DbName, key: string) => batch([Write.remove(db, key)]),
    /** Subscribe before loading, so no change between the load and the subscription is missed. */
    subscribe: PubSub.subscribe(changes) as Effect.Effect<Queue.Dequeue<StoreChange>, never, Scope.Scope>,
    /** revision of the last commit touching this tenant (0: never written); a cheap synchronous read */
    tenantRevision: (tenantId: TenantId): number => readRevision(tenantRevisionKey(tenantId)),
    /** revision of the last commit touching this database (0: never written) */
    dbRevision: (db: DbName): number => readRevision(dbRevisionKey(db)),
    /** checks now for commits by other processes (tests; otherwise every EXTERNAL_CHANGE_POLL_INTERVAL) */
    pollExternalChanges: pollExternal
  } as const
})

/** The Store over LMDB; `Store.Default` needs StorePath, which the composition root provides (Server.ts liveLayer). */
export class Store extends Effect.Service<Store>()("imprint/Store", { scoped: make }) {}
