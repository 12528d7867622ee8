import { Effect, Either, Option, Schema } from "effect"
import { overlaps, parseCidr } from "../domain/Cidr.js"
import { DirectoryUser } from "../domain/Directory.js"
import { TenantConflict, TenantFileInvalid, TenantNotFound } from "../domain/Errors.js"
import { Rule, SignatureSettings } from "../domain/Rule.js"
import { Template } from "../domain/Template.js"
import { decodeTenantFile, type FileConnector, type TenantFile } from "../domain/TenantFile.js"
import { AuthConnector, CertConnector, CidrConnector, type Connector, Downstream, Microsoft365Connector, Tenant, type TenantId } from "../domain/Tenant.js"
import * as Keys from "./Keys.js"
import { Db } from "./Keys.js"
import { ruleProblems } from "../signature/RuleValidation.js"
import { prepareTemplate } from "../signature/TemplatePreparation.js"
import type { Removal } from "../signature/TemplateSanitizer.js"
import * as PasswordHash from "./PasswordHash.js"
import { isSealed, open, SecretKeys } from "./SecretCipher.js"
import { Store, Write, type WriteOp } from "./Store.js"
import { downstreamPassAad, needsResealing, sealTenant, storedTenant } from "./TenantSecrets.js"

/**
 * Tenants as whole units: import from / export to the tenant file, list, read.
 * An import replaces the tenant's templates, rules and directory wholesale in
 * one LMDB transaction, and is idempotent: a plaintext password that still
 * verifies against the stored hash keeps that hash, so re-importing the same
 * file leaves the stored bytes unchanged. Templates are sanitized and compiled
 * and rules checked before anything is written: what is stored renders. The
 * downstream password is sealed at rest (TenantSecrets): every read and write
 * of the tenants database goes through `storedTenant`.
 */

export const RuleList = Schema.Array(Rule)

/** "AB:CD:…" upper case with colons, the form Node's `getPeerCertificate().fingerprint256` reports. */
export const normalizeFingerprint = (fp: string): string =>
  fp.replace(/:/g, "").toUpperCase().match(/.{2}/g)!.join(":")

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

export interface TemplateRemovals {
  readonly templateId: string
  readonly removed: ReadonlyArray<Removal>
}

/**
 * Sanitizes and compiles every template and checks every rule against them
 * (src/signature's prepareTemplate and ruleProblems). All problems are
 * reported at once, one line each, naming the template or rule.
 */
export const prepareSignatureContent = (
  templateList: ReadonlyArray<Template>, ruleList: ReadonlyArray<Rule>
): Either.Either<{ templates: ReadonlyArray<Template>; removed: ReadonlyArray<TemplateRemovals> }, TenantFileInvalid> => {
  const problems: Array<string> = []
  const templates: Array<Template> = []
  const removed: Array<TemplateRemovals> = []
  templateList.forEach((template, i) => {
    const prepared = prepareTemplate(template)
    if (Either.isLeft(prepared)) {
      problems.push(`templates[${i}] "${template.id}": ${prepared.left.part} does not compile: ${prepared.left.message}`)
      return
    }
    templates.push(prepared.right.template)
    if (prepared.right.removed.length > 0) removed.push({ templateId: template.id, removed: prepared.right.removed })
  })
  const templateIds = new Set(templateList.map((t) => t.id))
  ruleList.forEach((rule, i) => {
    for (const problem of ruleProblems(rule, templateIds)) problems.push(`rules[${i}] "${rule.id}": ${problem}`)
  })
  return problems.length > 0 ? Either.left(new TenantFileInvalid({ message: problems.join("\n") })) : Either.right({ templates, removed })
}

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

  const checkConflicts = Effect.fn("TenantRepo.checkConflicts")(function* (tenant: Tenant) {
    const others = (yield* listTenants()).filter((t) => t.id !== tenant.id)
    for (const domain of tenant.domains) {
      const owner = others.find((o) => o.domains.some((d) => d.toLowerCase() === domain))
      if (owner !== undefined) {
        const range = sharedRange(tenant, owner)
        // tenants behind one address are told apart by sender domain alone (ConnectorIndex.selectBySender)
        const why = range === undefined ? "" : `; ${tenant.id} and ${owner.id} share the source range ${range}, where only the sender's domain tells them apart`
        return yield* new TenantConflict({
          tenantId: tenant.id, otherTenantId: owner.id, message: `domain ${domain} already belongs to tenant ${owner.id}${why}`
        })
      }
    }
    for (const c of tenant.connectors) {
      for (const other of others) {
        const clash = other.connectors.find((o) =>
          (c._tag === "auth" && o._tag === "auth" && o.username === c.username) ||
          (c._tag === "certificate" && o._tag === "certificate" && normalizeFingerprint(o.fingerprint256) === c.fingerprint256) ||
          (c._tag === "microsoft365" && o._tag === "microsoft365" && (o.tenantGuid === c.tenantGuid || o.domain === c.domain)))
        if (clash !== undefined) {
          const what = c._tag === "auth" ? `auth username "${c.username}"`
            : c._tag === "microsoft365" ? `Microsoft 365 tenant ${c.tenantGuid} (${c.domain})`
            : `certificate ${(c as CertConnector).fingerprint256}`
          return yield* new TenantConflict({
            tenantId: tenant.id, otherTenantId: other.id, message: `${what} already belongs to tenant ${other.id}`
          })
        }
      }
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
      catch: (e) => new TenantFileInvalid({
        message: `downstream.auth.pass is sealed (${(e as Error).message}): it was exported by a server with another key or for another tenant; give the password in plaintext`
      })
    })
  }

  const importFile = Effect.fn("TenantRepo.importFile")(function* (file: TenantFile) {
    const content = prepareSignatureContent(file.templates ?? [], file.rules ?? [])
    if (Either.isLeft(content)) return yield* content.left
    const previous = yield* getTenant(file.id)
    const connectors = yield* Effect.forEach(file.connectors, toConnector(Option.match(previous, { onNone: () => [], onSome: (t) => t.connectors })))
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
    yield* checkConflicts(tenant)
    const templateList = content.right.templates
    const ruleList = file.rules ?? []
    const users = file.directory ?? []
    const ops: Array<WriteOp> = [
      Write.put(Db.tenants, stored, Keys.tenantKey(tenant.id), tenant),
      Write.put(Db.settings, SignatureSettings, Keys.settingsKey(tenant.id), file.settings ?? new SignatureSettings({})),
      Write.put(Db.rules, RuleList, Keys.rulesKey(tenant.id), ruleList),
      Write.removePrefix(Db.templates, Keys.templatePrefix(tenant.id)),
      ...templateList.map((t) => Write.put(Db.templates, Template, Keys.templateKey(tenant.id, t.id), t)),
      Write.removePrefix(Db.users, Keys.userPrefix(tenant.id)),
      ...users.map((u) => Write.put(Db.users, DirectoryUser, Keys.userKey(tenant.id, u.mail), u))
    ]
    yield* store.batch(ops)
    yield* Effect.logInfo("tenant imported").pipe(Effect.annotateLogs({ tenant: tenant.id, users: users.length }))
    for (const r of content.right.removed) {
      yield* Effect.logWarning("template sanitized on import").pipe(
        Effect.annotateLogs({ tenant: tenant.id, template: r.templateId, removed: r.removed.map((x) => x.name).join(",") }))
    }
    return {
      tenantId: tenant.id, created: Option.isNone(previous), templates: templateList.length, rules: ruleList.length, users: users.length,
      removed: content.right.removed
    } satisfies ImportSummary
  }, (effect) => importLock.withPermits(1)(effect))

  /** Imports a parsed JSON value (decoded here; errors name the wrong key). */
  const importTenant = Effect.fn("TenantRepo.importTenant")(function* (input: unknown) {
    return yield* importFile(yield* decodeTenantFile(input))
  })

  /** The tenant as a file; auth connectors carry only their hashes, the downstream password is sealed. */
  const exportTenant = Effect.fn("TenantRepo.exportTenant")(function* (id: TenantId) {
    const tenant = yield* Effect.flatten(getTenant(id)).pipe(
      Effect.catchTag("NoSuchElementException", () => new TenantNotFound({ tenantId: id }))
    )
    const directory = (yield* store.list(Db.users, DirectoryUser, Keys.userPrefix(id))).map((e) => e.value)
    const file: TenantFile = {
      id: tenant.id,
      name: tenant.name,
      domains: tenant.domains,
      connectors: tenant.connectors.map((c): FileConnector => {
        switch (c._tag) {
          case "auth": return { type: "auth", username: c.username, passwordHash: c.passwordHash }
          case "certificate": return { type: "certificate", fingerprint256: c.fingerprint256 }
          case "cidr": return { type: "cidr", cidrs: c.cidrs }
          case "microsoft365": return { type: "microsoft365", tenantId: c.tenantGuid, domain: c.domain }
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
    const existed = Option.isSome(yield* getTenant(id))
    yield* store.batch(Object.values(Db).map((db) => Write.removePrefix(db, Keys.tenantPrefix(id))))
    return existed
  })

  /**
   * Start-up pass (Server.startServer): a tenant record whose downstream
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
          Effect.annotateLogs({ tenant: raw.id }))
        continue
      }
      if (!due.right) continue
      yield* importLock.withPermits(1)(store.batch([Write.put(Db.tenants, stored, entry.key, raw)]))
      resealed.push(raw.id)
    }
    if (resealed.length > 0) yield* Effect.logInfo("downstream passwords sealed with the current key").pipe(Effect.annotateLogs({ tenants: resealed.join(",") }))
    return resealed
  })

  return {
    importTenant, importFile, resealSecrets, storedTenant: stored, exportTenant, listTenants, getTenant, removeTenant, templates, rules, settings,
    replaceDirectory, applyDirectoryDelta,
    /** runs `effect` while no import runs: ContentRepo's read-modify-write of templates and rules */
    exclusive: <A, E, R>(effect: Effect.Effect<A, E, R>) => importLock.withPermits(1)(effect)
  } as const
})

export class TenantRepo extends Effect.Service<TenantRepo>()("imprint/TenantRepo", { effect: make, dependencies: [Store.Default] }) {}
