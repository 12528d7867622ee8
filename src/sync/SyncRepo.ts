import { Effect, Either, Option, Schema } from "effect"
import { Store, Write, type WriteOp } from "../store/Store.js"
import { StoreDecodeError } from "../store/StoreError.js"
import { isSealed, open, openSealed, seal, SecretKeys } from "../store/SecretCipher.js"
import { GraphSourceSettings, LdapSourceSettings, secretField, type SourceSettings, SyncStatus, TenantSyncSettings } from "../domain/SyncSettings.js"

/**
 * Directory sync's own data: settings (secrets sealed, store/SecretCipher), per-source cursors
 * and source-id → mail maps, and the status. All of it under `sync/<tenantId>/`
 * in its own database: the relay never reads it, and writing it must not bump
 * the tenant's revision (which reloads the tenant actor).
 */

export const SYNC_DB = "sync"
export const SYNC_KEY_ROOT = "sync/"
const tenantRoot = (tenantId: string) => `${SYNC_KEY_ROOT}${tenantId}/`
const settingsKey = (tenantId: string) => `${tenantRoot(tenantId)}settings`
const statusKey = (tenantId: string) => `${tenantRoot(tenantId)}status`
const cursorKey = (tenantId: string, source: string) => `${tenantRoot(tenantId)}cursor/${source}`
/** source object id (a Graph id) → lowercased mail, so a removal reported by id finds its entry */
export const idPrefix = (tenantId: string, source: string) => `${tenantRoot(tenantId)}id/${source}/`

const aadOf = (tenantId: string, source: string, field: string) => `${tenantId}/${source}/${field}`

const make = Effect.gen(function* () {
  const store = yield* Store
  const keys = yield* SecretKeys

  const mapSecret = (tenantId: string, source: SourceSettings, f: (value: string, aad: string) => string): SourceSettings => {
    const field = secretField(source)
    if (field === undefined) return source
    const aad = aadOf(tenantId, source.name, field)
    if (source._tag === "graph") return GraphSourceSettings.make({ ...source, clientSecret: f(source.clientSecret, aad) })
    if (source._tag === "ldap") return LdapSourceSettings.make({ ...source, password: f(source.password, aad) })
    return source
  }

  /** The settings with secrets in plaintext (for the sources; never for an answer). */
  const getSettings = Effect.fn("SyncRepo.getSettings")(function* (tenantId: string) {
    const stored = yield* store.get(SYNC_DB, TenantSyncSettings, settingsKey(tenantId))
    if (Option.isNone(stored)) return Option.none<TenantSyncSettings>()
    const sources = yield* Effect.try({
      try: () => stored.value.sources.map((s) => mapSecret(tenantId, s, (v, aad) => open(keys, aad, v))),
      catch: (e) =>
        new StoreDecodeError({
          db: SYNC_DB,
          key: settingsKey(tenantId),
          message: `the sync credentials of ${tenantId} do not decrypt (${(e as Error).message}); was sync.credentialKey changed? List the old key in sync.previousCredentialKeys, or set the sources again`
        })
    })
    return Option.some(TenantSyncSettings.make({ ...stored.value, sources }))
  })

  /** a plaintext, or a value sealed by an older key, sealed with the current key; a current value as is */
  const sealCurrent = (value: string, aad: string): string => {
    if (!isSealed(value)) return seal(keys, aad, value)
    const opened = openSealed(keys, aad, value)
    return opened.current ? value : seal(keys, aad, opened.plaintext)
  }

  /** Stores the settings with each secret sealed with the current key. */
  const putSettings = Effect.fn("SyncRepo.putSettings")(function* (tenantId: string, settings: TenantSyncSettings) {
    const sources = settings.sources.map((s) => mapSecret(tenantId, s, sealCurrent))
    const names = new Set(sources.map((s) => s.name))
    // a removed source's cursor and id map go with it
    const stale: Array<WriteOp> = []
    for (const k of yield* store.keys(SYNC_DB, `${tenantRoot(tenantId)}cursor/`)) {
      const name = k.slice(`${tenantRoot(tenantId)}cursor/`.length)
      if (!names.has(name)) stale.push(Write.remove(SYNC_DB, k), Write.removePrefix(SYNC_DB, idPrefix(tenantId, name)))
    }
    yield* store.batch([Write.put(SYNC_DB, TenantSyncSettings, settingsKey(tenantId), TenantSyncSettings.make({ ...settings, sources })), ...stale])
  })

  const removeTenant = Effect.fn("SyncRepo.removeTenant")(function* (tenantId: string) {
    yield* store.batch([Write.removePrefix(SYNC_DB, tenantRoot(tenantId))])
  })

  /** Tenants with settings stored. */
  const tenantsWithSettings = Effect.fn("SyncRepo.tenantsWithSettings")(function* () {
    const keys = yield* store.keys(SYNC_DB, SYNC_KEY_ROOT)
    return keys.filter((k) => k.endsWith("/settings")).map((k) => k.slice(SYNC_KEY_ROOT.length, -"/settings".length))
  })

  const getStatus = Effect.fn("SyncRepo.getStatus")(function* (tenantId: string) {
    return yield* store.get(SYNC_DB, SyncStatus, statusKey(tenantId))
  })
  const putStatus = (tenantId: string, status: SyncStatus) => store.put(SYNC_DB, SyncStatus, statusKey(tenantId), status)

  const getCursor = Effect.fn("SyncRepo.getCursor")(function* (tenantId: string, source: string) {
    return yield* store.get(SYNC_DB, Schema.String, cursorKey(tenantId, source))
  })
  const cursorOp = (tenantId: string, source: string, cursor: Option.Option<string>): WriteOp =>
    Option.isSome(cursor) ? Write.put(SYNC_DB, Schema.String, cursorKey(tenantId, source), cursor.value) : Write.remove(SYNC_DB, cursorKey(tenantId, source))

  /** A source's id → mail map (read once per pass). */
  const idMap = Effect.fn("SyncRepo.idMap")(function* (tenantId: string, source: string) {
    const prefix = idPrefix(tenantId, source)
    const map = new Map<string, string>()
    yield* store.forEachRaw(SYNC_DB, prefix, (k, v) => {
      if (typeof v === "string") map.set(k.slice(prefix.length), v)
    })
    return map
  })
  const idOp = (tenantId: string, source: string, id: string, mail: string | undefined): WriteOp =>
    mail === undefined ? Write.remove(SYNC_DB, idPrefix(tenantId, source) + id) : Write.put(SYNC_DB, Schema.String, idPrefix(tenantId, source) + id, mail)

  /**
   * Start-up pass: every stored secret that is plaintext (none should be) or
   * sealed by a previous key is sealed again with the current key; true when
   * it wrote. A value no key opens is left alone (getSettings reports it).
   */
  const resealSecrets = Effect.fn("SyncRepo.resealSecrets")(function* (tenantId: string) {
    const stored = yield* store.get(SYNC_DB, TenantSyncSettings, settingsKey(tenantId))
    if (Option.isNone(stored)) return false
    const sources = Either.try(() => stored.value.sources.map((s) => mapSecret(tenantId, s, sealCurrent)))
    if (Either.isLeft(sources)) return false
    const secretOf = (s: SourceSettings) => (s._tag === "graph" ? s.clientSecret : s._tag === "ldap" ? s.password : undefined)
    const changed = sources.right.some((s, i) => secretOf(s) !== secretOf(stored.value.sources[i]))
    if (!changed) return false
    yield* store.put(SYNC_DB, TenantSyncSettings, settingsKey(tenantId), TenantSyncSettings.make({ ...stored.value, sources: sources.right }))
    return true
  })

  return {
    getSettings,
    putSettings,
    resealSecrets,
    removeTenant,
    tenantsWithSettings,
    getStatus,
    putStatus,
    getCursor,
    cursorOp,
    idMap,
    idOp,
    /** the raw stored bytes (tests prove secrets are not in them) */
    rawEntries: (tenantId: string) => store.rawEntries(SYNC_DB, tenantRoot(tenantId)),
    batch: (ops: ReadonlyArray<WriteOp>) => store.batch(ops)
  } as const
})

export class SyncRepo extends Effect.Service<SyncRepo>()("imprint/SyncRepo", { effect: make, dependencies: [Store.Default] }) {}
