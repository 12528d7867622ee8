import { Effect, Either, Option, Schema } from "effect"
import { overlaps, parseCidr } from "../domain/Cidr.js"
import { DirectoryUser } from "../domain/Directory.js"
import { TenantConflict, TenantFileInvalid, TenantNotFound } from "../domain/Errors.js"
import { Rule, SignatureSettings } from "../domain/Rule.js"
import { Template, type TemplateRemovals } from "../domain/Template.js"
import type { CheckedTenantFile, FileConnector, TenantFile } from "../domain/TenantFile.js"
import { AuthConnector, CertConnector, CidrConnector, type Connector, Downstream, Microsoft365Connector, Tenant, type TenantId } from "../domain/Tenant.js"
import * as Keys from "./Keys.js"
import { Db } from "./Keys.js"
import * as PasswordHash from "./PasswordHash.js"
import { claimKey, claimOps, claimsOf, describeClaim, ensureIndex, ownerOf, versionOps } from "./TenantClaims.js"
import { isSealed, open, SecretKeys } from "./SecretCipher.js"
import { type PackedWrites, Store, Write, type WriteOp } from "./Store.js"
import { downstreamPassAad, needsResealing, sealTenant, storedTenant } from "./TenantSecrets.js"

/**
 * Tenants as whole units: import from / export to the tenant file, list, read.
 * An import replaces the tenant's templates, rules and directory wholesale in
 * one LMDB transaction, and is idempotent: a plaintext password that still
 * verifies against the stored hash keeps that hash, so re-importing the same
 * file leaves the stored bytes unchanged. The repository stores what it is
 * given: the file's templates were sanitized and compiled and its rules checked
 * before it gets here (CheckedTenantFile, from signature/TenantContent through
 * actors/TenantImport), so what is stored renders. The downstream password is sealed at rest (TenantSecrets): every read and write
 * of the tenants database goes through `storedTenant`.
 */

export const RuleList = Schema.Array(Rule)

/** "AB:CD:…" upper case with colons, the form Node's `getPeerCertificate().fingerprint256` reports. */
export const normalizeFingerprint = (fp: string): string => fp.replace(/:/g, "").toUpperCase().match(/.{2}/g)!.join(":")

export interface ImportSummary {
  readonly tenantId: TenantId
  /** false when the tenant existed before */
  readonly created: boolean
  readonly templates: number
  readonly rules: number
  readonly users: number
  /** what the sanitizer took out of each template (only templates that lost something) */
  readonly removed: ReadonlyArray<TemplateRemovals>
}

export type ImportMode = "all-or-nothing" | "per-tenant"
export const IMPORT_MODES: ReadonlyArray<ImportMode> = ["all-or-nothing", "per-tenant"]

/** One tenant of a batch: `source` names where it came from (a file name, `line 12`, `tenants[3]`). */
export interface BatchEntry {
  readonly source: string
  readonly input: unknown
}

/**
 * A batch entry with the check that makes it storable (decode, then
 * signature/TenantContent.checkTenantFile), run by importBatch when the entry's
 * chunk is prepared; `input` names the tenant in the report when the check fails.
 */
export interface CheckedBatchEntry extends BatchEntry {
  readonly checked: Effect.Effect<CheckedTenantFile, TenantFileInvalid>
}

export type BatchOutcome =
  | { readonly source: string; readonly tenantId: TenantId; readonly status: "created" | "updated" | "not-written"; readonly summary: ImportSummary }
  | {
      readonly source: string
      readonly tenantId?: string
      readonly status: "failed"
      readonly error: "TenantFileInvalid" | "TenantConflict"
      readonly message: string
    }

export interface BatchReport {
  readonly mode: ImportMode
  /** false: nothing was written (all-or-nothing with a failure, or nothing valid) */
  readonly written: boolean
  readonly created: number
  readonly updated: number
  readonly failed: number
  readonly tenants: ReadonlyArray<BatchOutcome>
}

/** tenants whose scrypt hashing and template compilation run at once (libuv's pool has 4 threads) */
export const PREPARE_CONCURRENCY = 4
/** per-tenant mode writes this many tenants per LMDB transaction (one commit each would cost a sync per tenant) */
export const TENANTS_PER_COMMIT = 200

const reportOf = (mode: ImportMode, tenants: ReadonlyArray<BatchOutcome>, written: boolean): BatchReport => ({
  mode,
  written,
  created: tenants.filter((t) => t.status === "created").length,
  updated: tenants.filter((t) => t.status === "updated").length,
  failed: tenants.filter((t) => t.status === "failed").length,
  tenants
})

/** The id an entry that did not decode says it has, for the report. */
const rawId = (input: unknown): string | undefined =>
  typeof input === "object" && input !== null && typeof (input as { id?: unknown }).id === "string" ? (input as { id: string }).id : undefined

interface Prepared {
  readonly file: TenantFile
  readonly tenant: Tenant
  readonly previous: Tenant | undefined
  readonly templates: ReadonlyArray<Template>
  readonly removed: ReadonlyArray<TemplateRemovals>
}

/** A checked tenant waiting for its commit: its writes as the bytes LMDB will store (the parsed file and classes dropped). */
interface Held {
  readonly tenantId: TenantId
  readonly created: boolean
  readonly users: number
  readonly removed: ReadonlyArray<TemplateRemovals>
  readonly writes: PackedWrites
}

/** What tenants accepted earlier in one batch claim and gave up (keys as TenantClaims.claimKey). */
interface BatchClaims {
  readonly claimed: Map<string, TenantId>
  readonly released: Map<TenantId, ReadonlySet<string>>
  readonly tenants: Map<TenantId, Tenant>
}
const emptyBatch = (): BatchClaims => ({ claimed: new Map(), released: new Map(), tenants: new Map() })

export type { TemplateRemovals } from "../domain/Template.js"

/** A cidr of `a` overlapping one of `b`'s, as written in `a`'s file. */
const sharedRange = (a: Tenant, b: Tenant): string | undefined => {
  const ranges = (t: Tenant) => t.connectors.flatMap((c) => (c._tag === "cidr" ? c.cidrs.flatMap((text) => parseCidr(text) ?? []) : []))
  const theirs = ranges(b)
  return ranges(a).find((mine) => theirs.some((other) => overlaps(mine, other)))?.text
}

const make = Effect.gen(function* () {
  const store = yield* Store
  // one import at a time: the cross-tenant connector check and the write must not interleave
  const importLock = yield* Effect.makeSemaphore(1)
  const keys = yield* SecretKeys
  const stored = storedTenant(keys)
  yield* ensureIndex(store).pipe(Effect.catchAll((e) => Effect.logError("building the tenant claims index failed; imports check against what it holds", e)))

  const getTenant = Effect.fn("TenantRepo.getTenant")(function* (id: TenantId) {
    return yield* store.get(Db.tenants, stored, Keys.tenantKey(id))
  })

  const listTenants = Effect.fn("TenantRepo.listTenants")(function* () {
    const entries = yield* store.list(Db.tenants, stored, Keys.TENANT_KEY_ROOT)
    return entries.map((e) => e.value)
  })

  const templates = Effect.fn("TenantRepo.templates")(function* (id: TenantId) {
    return (yield* store.list(Db.templates, Template, Keys.templatePrefix(id))).map((e) => e.value)
  })

  const rules = Effect.fn("TenantRepo.rules")(function* (id: TenantId) {
    return Option.getOrElse(yield* store.get(Db.rules, RuleList, Keys.rulesKey(id)), (): ReadonlyArray<Rule> => [])
  })

  const settings = Effect.fn("TenantRepo.settings")(function* (id: TenantId) {
    return Option.getOrElse(yield* store.get(Db.settings, SignatureSettings, Keys.settingsKey(id)), () => new SignatureSettings({}))
  })

  const toConnector = (previous: ReadonlyArray<Connector>) =>
    Effect.fn("TenantRepo.toConnector")(function* (c: FileConnector) {
      switch (c.type) {
        case "certificate":
          return new CertConnector({ fingerprint256: normalizeFingerprint(c.fingerprint256) })
        case "cidr":
          return new CidrConnector({ cidrs: c.cidrs.map((s) => s.trim()) })
        case "microsoft365":
          return new Microsoft365Connector({ tenantGuid: c.tenantId.toLowerCase(), domain: c.domain.toLowerCase() })
        case "auth": {
          if (c.passwordHash !== undefined) return new AuthConnector({ username: c.username, passwordHash: c.passwordHash })
          const password = c.password!
          const stored = previous.find((p): p is AuthConnector => p._tag === "auth" && p.username === c.username)
          if (stored !== undefined && (yield* PasswordHash.verify(password, stored.passwordHash))) return stored
          return new AuthConnector({ username: c.username, passwordHash: yield* PasswordHash.hash(password) })
        }
      }
    })

  /**
   * Every claim of `tenant` (domains, usernames, certificates, Microsoft 365
   * ids) checked against the LMDB claims index and against what tenants
   * accepted earlier in the same batch claimed or gave up: one read per
   * claim, whatever the tenant count.
   */
  const checkClaims = Effect.fn("TenantRepo.checkClaims")(function* (tenant: Tenant, batch: BatchClaims) {
    for (const claim of claimsOf(tenant)) {
      const key = claimKey(claim)
      const inBatch = batch.claimed.get(key)
      const stored = ownerOf(store, claim)
      const owner =
        inBatch !== undefined ? inBatch : stored !== undefined && stored !== tenant.id && !(batch.released.get(stored)?.has(key) ?? false) ? stored : undefined
      if (owner === undefined || owner === tenant.id) continue
      let why = ""
      if (claim.kind === "domain") {
        // tenants behind one address are told apart by sender domain alone (ConnectorIndex.selectBySender)
        const other = batch.tenants.get(owner) ?? Option.getOrUndefined(yield* getTenant(owner))
        const range = other === undefined ? undefined : sharedRange(tenant, other)
        if (range !== undefined) why = `; ${tenant.id} and ${owner} share the source range ${range}, where only the sender's domain tells them apart`
      }
      const earlier = inBatch !== undefined ? " (earlier in this import)" : ""
      return yield* new TenantConflict({
        tenantId: tenant.id,
        otherTenantId: owner,
        message: `${describeClaim(claim)} already belongs to tenant ${owner}${earlier}${why}`
      })
    }
  })

  /**
   * The file's downstream with its password in plaintext: an export carries the
   * password sealed, which opens only with this server's keys and for this tenant.
   */
  const openFileDownstream = (file: TenantFile) => {
    const pass = file.downstream?.auth?.pass
    if (file.downstream === undefined || pass === undefined || !isSealed(pass)) return Effect.succeed(file.downstream)
    return Effect.try({
      try: () => new Downstream({ ...file.downstream!, auth: { user: file.downstream!.auth!.user, pass: open(keys, downstreamPassAad(file.id), pass) } }),
      catch: (e) =>
        new TenantFileInvalid({
          message: `downstream.auth.pass is sealed (${(e as Error).message}): it was exported by a server with another key or for another tenant; give the password in plaintext`
        })
    })
  }

  /**
   * The part of an import that needs no other tenant, after the file was
   * checked: hash passwords (scrypt: the slow part, so a batch runs several
   * at once), open a sealed downstream password.
   */
  const prepare = Effect.fn("TenantRepo.prepare")(function* ({ file, removed }: CheckedTenantFile) {
    const previous = Option.getOrUndefined(yield* getTenant(file.id))
    const connectors = yield* Effect.forEach(file.connectors, toConnector(previous?.connectors ?? []))
    const tenant = new Tenant({
      id: file.id,
      name: file.name,
      domains: file.domains.map((d) => d.toLowerCase()),
      connectors,
      downstream: yield* openFileDownstream(file),
      suspended: file.suspended ?? false,
      // absent stays absent, so re-importing a file without account data writes the same bytes
      ...(file.account !== undefined ? { account: file.account } : {}),
      ...(file.trace !== undefined ? { trace: file.trace } : {})
    })
    return { file, tenant, previous, templates: file.templates ?? [], removed } satisfies Prepared
  })

  /** The writes of one prepared tenant: its record, content and directory, and its claims index entries. */
  const writesOf = ({ file, tenant, previous, templates: templateList }: Prepared): Array<WriteOp> => [
    Write.put(Db.tenants, stored, Keys.tenantKey(tenant.id), tenant),
    Write.put(Db.settings, SignatureSettings, Keys.settingsKey(tenant.id), file.settings ?? new SignatureSettings({})),
    Write.put(Db.rules, RuleList, Keys.rulesKey(tenant.id), file.rules ?? []),
    Write.removePrefix(Db.templates, Keys.templatePrefix(tenant.id)),
    ...templateList.map((t) => Write.put(Db.templates, Template, Keys.templateKey(tenant.id, t.id), t)),
    Write.removePrefix(Db.users, Keys.userPrefix(tenant.id)),
    ...(file.directory ?? []).map((u) => Write.put(Db.users, DirectoryUser, Keys.userKey(tenant.id, u.mail), u)),
    ...claimOps(store, tenant.id, previous, tenant),
    ...versionOps(store)
  ]

  const summaryOf = ({ file, tenant, previous, templates: templateList, removed }: Prepared): ImportSummary => ({
    tenantId: tenant.id,
    created: previous === undefined,
    templates: templateList.length,
    rules: (file.rules ?? []).length,
    users: (file.directory ?? []).length,
    removed
  })

  const logImported = (p: { readonly tenantId: TenantId; readonly users: number; readonly removed: ReadonlyArray<TemplateRemovals> }) =>
    Effect.gen(function* () {
      yield* Effect.logInfo("tenant imported").pipe(Effect.annotateLogs({ tenant: p.tenantId, users: p.users }))
      for (const r of p.removed) {
        yield* Effect.logWarning("template sanitized on import").pipe(
          Effect.annotateLogs({ tenant: p.tenantId, template: r.templateId, removed: r.removed.map((x) => x.name).join(",") })
        )
      }
    })

  /** Accepts a checked tenant into the batch: later tenants see its claims, and what it gave up. */
  const accept = (batch: BatchClaims, p: Prepared) => {
    const now = new Set(claimsOf(p.tenant).map(claimKey))
    for (const key of now) batch.claimed.set(key, p.tenant.id)
    if (p.previous !== undefined)
      batch.released.set(
        p.tenant.id,
        new Set(
          claimsOf(p.previous)
            .map(claimKey)
            .filter((k) => !now.has(k))
        )
      )
    batch.tenants.set(p.tenant.id, p.tenant)
  }

  /** Imports one checked tenant file (actors/TenantImport decodes and checks it first). */
  const importFile = Effect.fn("TenantRepo.importFile")(
    function* (checked: CheckedTenantFile) {
      const prepared = yield* prepare(checked)
      yield* checkClaims(prepared.tenant, emptyBatch())
      yield* store.batch(writesOf(prepared))
      yield* logImported({ tenantId: prepared.tenant.id, users: (prepared.file.directory ?? []).length, removed: prepared.removed })
      return summaryOf(prepared)
    },
    (effect) => importLock.withPermits(1)(effect)
  )

  const hold = (p: Prepared) =>
    Effect.map(store.packOps(writesOf(p)), (writes): Held => ({
      tenantId: p.tenant.id,
      created: p.previous === undefined,
      users: (p.file.directory ?? []).length,
      removed: p.removed,
      writes
    }))

  /**
   * Many tenants in one call (a folder, a JSON-lines file, the batch
   * endpoint). Each is checked against the stored tenants and against those
   * before it in the batch (a domain claimed twice in one batch is a
   * conflict of the second). `entries` is pulled TENANTS_PER_COMMIT at a time,
   * so a caller reading a file lazily never holds its whole input.
   * `all-or-nothing`: every tenant valid, then all written in one
   * transaction, else nothing is; until then each checked tenant is held as
   * the bytes of its writes only (Store.packOps); `per-tenant`: the valid ones are written as
   * each chunk is checked, the others reported. The report lists every entry
   * in order. `alongside` gives a write to commit in the same transaction as
   * each written tenant.
   */
  const importBatch = Effect.fn("TenantRepo.importBatch")(
    function* <R = never>(
      entries: Iterable<CheckedBatchEntry>,
      mode: ImportMode,
      /** writes to commit with each tenant (the admin API's audit entry) */
      alongside?: (tenantId: TenantId, created: boolean) => Effect.Effect<WriteOp, never, R>
    ) {
      const prepareEntry = (entry: CheckedBatchEntry) =>
        entry.checked.pipe(
          Effect.flatMap(prepare),
          Effect.map((p) => Either.right<Prepared>(p)),
          Effect.catchTag("TenantFileInvalid", (e) => Effect.succeed(Either.left(e)))
        )
      const write = (items: ReadonlyArray<Held>) =>
        Effect.gen(function* () {
          const extra = alongside === undefined ? [] : yield* Effect.forEach(items, (h) => alongside(h.tenantId, h.created))
          yield* store.batchPacked(
            items.map((h) => h.writes),
            extra
          )
          yield* Effect.forEach(items, logImported, { discard: true })
        })
      const batch = emptyBatch()
      const outcomes: Array<BatchOutcome> = []
      const acceptedAt: Array<number> = []
      // per-tenant: written chunk by chunk; all-or-nothing: held (encoded) until every tenant passed
      const pending: Array<Held> = []
      const iterator = entries[Symbol.iterator]()
      for (;;) {
        const slice: Array<CheckedBatchEntry> = []
        while (slice.length < TENANTS_PER_COMMIT) {
          const next = iterator.next()
          if (next.done === true) break
          slice.push(next.value)
        }
        if (slice.length === 0) break
        const prepared = yield* Effect.forEach(slice, prepareEntry, { concurrency: PREPARE_CONCURRENCY })
        for (let i = 0; i < slice.length; i++) {
          const source = slice[i]!.source
          const p = prepared[i]!
          const idOf = Either.isRight(p) ? p.right.tenant.id : rawId(slice[i]!.input)
          const failure = Either.isLeft(p)
            ? p.left
            : batch.tenants.has(p.right.tenant.id)
              ? new TenantConflict({
                  tenantId: p.right.tenant.id,
                  otherTenantId: p.right.tenant.id,
                  message: `tenant ${p.right.tenant.id} appears twice in this import`
                })
              : yield* checkClaims(p.right.tenant, batch).pipe(Effect.as(undefined), Effect.catchTag("TenantConflict", Effect.succeed))
          if (failure !== undefined || Either.isLeft(p)) {
            outcomes.push({ source, ...(idOf !== undefined ? { tenantId: idOf } : {}), status: "failed", error: failure!._tag, message: failure!.message })
            continue
          }
          // once a tenant failed, an all-or-nothing batch writes nothing: the rest is only checked
          if (mode === "per-tenant" || acceptedAt.length === outcomes.length) pending.push(yield* hold(p.right))
          accept(batch, p.right)
          acceptedAt.push(outcomes.length)
          outcomes.push({ source, tenantId: p.right.tenant.id, status: p.right.previous === undefined ? "created" : "updated", summary: summaryOf(p.right) })
        }
        if (mode === "per-tenant" && pending.length > 0) {
          yield* write(pending)
          pending.length = 0
        }
        if (mode === "all-or-nothing" && acceptedAt.length < outcomes.length) pending.length = 0
      }
      const failed = outcomes.length - acceptedAt.length
      if (mode === "all-or-nothing") {
        if (failed > 0) {
          for (const index of acceptedAt) outcomes[index] = { ...outcomes[index]!, status: "not-written" } as BatchOutcome
          return reportOf(mode, outcomes, false)
        }
        if (pending.length > 0) yield* write(pending)
      }
      const accepted = acceptedAt
      yield* Effect.logInfo("tenant batch imported").pipe(Effect.annotateLogs({ mode, written: accepted.length, failed }))
      return reportOf(mode, outcomes, accepted.length > 0)
    },
    (effect) => importLock.withPermits(1)(effect)
  )

  /** The tenant as a file; auth connectors carry only their hashes, the downstream password is sealed. */
  const exportTenant = Effect.fn("TenantRepo.exportTenant")(function* (id: TenantId) {
    const tenant = yield* Effect.flatten(getTenant(id)).pipe(Effect.catchTag("NoSuchElementException", () => new TenantNotFound({ tenantId: id })))
    const directory = (yield* store.list(Db.users, DirectoryUser, Keys.userPrefix(id))).map((e) => e.value)
    const file: TenantFile = {
      id: tenant.id,
      name: tenant.name,
      domains: tenant.domains,
      connectors: tenant.connectors.map((c): FileConnector => {
        switch (c._tag) {
          case "auth":
            return { type: "auth", username: c.username, passwordHash: c.passwordHash }
          case "certificate":
            return { type: "certificate", fingerprint256: c.fingerprint256 }
          case "cidr":
            return { type: "cidr", cidrs: c.cidrs }
          case "microsoft365":
            return { type: "microsoft365", tenantId: c.tenantGuid, domain: c.domain }
        }
      }),
      downstream: sealTenant(keys, tenant).downstream,
      suspended: tenant.suspended,
      ...(tenant.account !== undefined ? { account: tenant.account } : {}),
      ...(tenant.trace !== undefined ? { trace: tenant.trace } : {}),
      templates: yield* templates(id),
      rules: yield* rules(id),
      directory,
      settings: yield* settings(id)
    }
    return file
  })

  const requireTenant = (id: TenantId) =>
    Effect.flatMap(getTenant(id), Option.match({ onNone: () => Effect.fail(new TenantNotFound({ tenantId: id })), onSome: Effect.succeed }))

  /** Replaces the whole directory in one transaction (a full directory sync). */
  const replaceDirectory = Effect.fn("TenantRepo.replaceDirectory")(function* (id: TenantId, users: ReadonlyArray<DirectoryUser>) {
    yield* requireTenant(id)
    yield* store.batch([
      Write.removePrefix(Db.users, Keys.userPrefix(id)),
      ...users.map((u) => Write.put(Db.users, DirectoryUser, Keys.userKey(id, u.mail), u))
    ])
  })

  /** Upserts and removes (by mail, any case) entries in one transaction (an incremental directory sync). */
  const applyDirectoryDelta = Effect.fn("TenantRepo.applyDirectoryDelta")(function* (
    id: TenantId,
    delta: { readonly upsert: ReadonlyArray<DirectoryUser>; readonly remove: ReadonlyArray<string> }
  ) {
    yield* requireTenant(id)
    yield* store.batch([
      ...delta.remove.map((mail) => Write.remove(Db.users, Keys.userKey(id, mail))),
      ...delta.upsert.map((u) => Write.put(Db.users, DirectoryUser, Keys.userKey(id, u.mail), u))
    ])
  })

  /** Removes the tenant and everything under its prefix; false when it did not exist. */
  const removeTenant = Effect.fn("TenantRepo.removeTenant")(function* (id: TenantId) {
    const existing = Option.getOrUndefined(yield* getTenant(id))
    yield* store.batch([...Object.values(Db).map((db) => Write.removePrefix(db, Keys.tenantPrefix(id))), ...claimOps(store, id, existing, undefined)])
    return existing !== undefined
  })

  /**
   * Start-up pass (Server.serverLayer): a tenant record whose downstream
   * password is in plaintext (written before passwords were sealed) or sealed
   * by a previous key is written again, sealed with the current key. A record
   * no key opens is logged and left as it is. Returns the ids rewritten.
   */
  const resealSecrets = Effect.fn("TenantRepo.resealSecrets")(function* () {
    const resealed: Array<TenantId> = []
    for (const entry of yield* store.list(Db.tenants, Tenant, Keys.TENANT_KEY_ROOT)) {
      const raw = entry.value
      const due = Either.try(() => needsResealing(keys, raw))
      if (Either.isLeft(due)) {
        yield* Effect.logError("the downstream password of a tenant does not open with any configured key; left as it is").pipe(
          Effect.annotateLogs({ tenant: raw.id })
        )
        continue
      }
      if (!due.right) continue
      yield* importLock.withPermits(1)(store.batch([Write.put(Db.tenants, stored, entry.key, raw)]))
      resealed.push(raw.id)
    }
    if (resealed.length > 0)
      yield* Effect.logInfo("downstream passwords sealed with the current key").pipe(Effect.annotateLogs({ tenants: resealed.join(",") }))
    return resealed
  })

  return {
    importFile,
    importBatch,
    resealSecrets,
    storedTenant: stored,
    exportTenant,
    listTenants,
    getTenant,
    removeTenant,
    templates,
    rules,
    settings,
    replaceDirectory,
    applyDirectoryDelta,
    /** runs `effect` while no import runs: ContentRepo's read-modify-write of templates and rules */
    exclusive: <A, E, R>(effect: Effect.Effect<A, E, R>) => importLock.withPermits(1)(effect)
  } as const
})

export class TenantRepo extends Effect.Service<TenantRepo>()("imprint/TenantRepo", { effect: make, dependencies: [Store.Default] }) {}
