import { Effect, Option, Schema } from "effect"
import { DirectoryUser } from "../domain/Directory.js"
import type { TenantId } from "../domain/Tenant.js"
import * as Keys from "../store/Keys.js"
import { Db } from "../store/Keys.js"
import { Store } from "../store/Store.js"
import { StoreDecodeError } from "../store/StoreError.js"

/**
 * A tenant's address index: every lowercased address (mail and each smtp
 * proxy address) → the user's mail, which names its store key. Users stay in
 * LMDB and are decoded on lookup, so a 100,000-user directory costs one Map of
 * strings, not a second copy of the store.
 *
 * Who owns an address does not depend on the order entries were written: the
 * user whose mail it is, else the claimant with the smallest mail (key order,
 * which is what a build over the store gives). So a directory change is
 * applied in place (`patch`, for the entries it wrote) and yields exactly the
 * index a full build would: the losing claims are kept (`contested`) so that
 * an address passes to the next claimant when its owner lets it go.
 */

/**
 * The two fields the index reads, checked by hand: Schema-decoding 100,000
 * entries costs more than reading them. Lookups still decode with Schema.
 */
const addressesOf = (key: string, value: unknown): { mail: string; proxyAddresses: ReadonlyArray<unknown> } => {
  const v = value as { mail?: unknown; proxyAddresses?: unknown } | null
  if (typeof v !== "object" || v === null || typeof v.mail !== "string" || (v.proxyAddresses !== undefined && !Array.isArray(v.proxyAddresses))) {
    throw new StoreDecodeError({ db: Db.users, key, message: `${Db.users}:${key} is not a directory entry (mail, proxyAddresses)` })
  }
  return { mail: v.mail, proxyAddresses: v.proxyAddresses ?? [] }
}

export interface DirectoryIndex {
  readonly tenantId: TenantId
  /** lowercased address → lowercased mail; mutated only by `patch`, synchronously, on the actor's loop */
  readonly addresses: Map<string, string>
  /** mail → the aliases its entry claims (users without aliases are absent) */
  readonly aliases: Map<string, ReadonlyArray<string>>
  /** address → users claiming it as an alias who do not own it */
  readonly contested: Map<string, Set<string>>
  users: number
  /** claims on an address that another user owns (logged at build) */
  conflicts: number
}

/** A lookup address as the index holds it; "smtp:" as Azure AD writes it and SMTP's angle brackets are dropped. */
export const normalizeAddress = (address: string): string =>
  address
    .trim()
    .replace(/^<|>$/g, "")
    .replace(/^smtp:/i, "")
    .toLowerCase()

/** Azure AD also lists X500:, SIP:, … addresses; only smtp ones (or bare addresses) are mail. */
const isMailAddress = (proxy: string): boolean => /^smtp:/i.test(proxy.trim()) || !/^[a-z0-9]+:/i.test(proxy.trim())

/** Key order (LMDB compares UTF-8 bytes). */
const before = (a: string, b: string): boolean => Buffer.compare(Buffer.from(a), Buffer.from(b)) < 0

export const empty = (tenantId: TenantId): DirectoryIndex => ({
  tenantId,
  addresses: new Map(),
  aliases: new Map(),
  contested: new Map(),
  users: 0,
  conflicts: 0
})

const contest = (index: DirectoryIndex, address: string, mail: string) => {
  let claimants = index.contested.get(address)
  if (claimants === undefined) index.contested.set(address, (claimants = new Set()))
  claimants.add(mail)
  index.conflicts++
}

/** The address has no owner now: the first remaining claimant, in key order, takes it. */
const promote = (index: DirectoryIndex, address: string) => {
  const claimants = index.contested.get(address)
  if (claimants === undefined) return
  let next: string | undefined
  for (const c of claimants) if (next === undefined || before(c, next)) next = c
  if (next === undefined) return
  claimants.delete(next)
  index.conflicts--
  if (claimants.size === 0) index.contested.delete(address)
  index.addresses.set(address, next)
}

const claimAlias = (index: DirectoryIndex, alias: string, mail: string) => {
  const owner = index.addresses.get(alias)
  if (owner === undefined) index.addresses.set(alias, mail)
  else if (owner === mail) return
  // a primary address beats another user's alias; between aliases the smaller mail wins
  else if (owner === alias || !before(mail, owner)) contest(index, alias, mail)
  else {
    index.addresses.set(alias, mail)
    contest(index, alias, owner)
  }
}

const releaseAlias = (index: DirectoryIndex, alias: string, mail: string) => {
  if (index.addresses.get(alias) === mail) {
    index.addresses.delete(alias)
    promote(index, alias)
    return
  }
  const claimants = index.contested.get(alias)
  if (claimants?.delete(mail)) {
    index.conflicts--
    if (claimants.size === 0) index.contested.delete(alias)
  }
}

const aliasesOf = (mail: string, proxyAddresses: ReadonlyArray<unknown>): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (const proxy of proxyAddresses) {
    if (typeof proxy !== "string" || !isMailAddress(proxy)) continue
    const alias = normalizeAddress(proxy)
    if (alias !== mail && !out.includes(alias)) out.push(alias)
  }
  return out
}

const add = (index: DirectoryIndex, key: string, raw: unknown) => {
  const entry = addressesOf(key, raw)
  const mail = entry.mail.toLowerCase()
  const owner = index.addresses.get(mail)
  if (owner !== undefined && owner !== mail) contest(index, mail, owner)
  index.addresses.set(mail, mail)
  index.users++
  const aliases = aliasesOf(mail, entry.proxyAddresses)
  if (aliases.length > 0) index.aliases.set(mail, aliases)
  for (const alias of aliases) claimAlias(index, alias, mail)
}

const removeUser = (index: DirectoryIndex, mail: string) => {
  if (index.addresses.get(mail) !== mail) return
  for (const alias of index.aliases.get(mail) ?? []) releaseAlias(index, alias, mail)
  index.aliases.delete(mail)
  index.addresses.delete(mail)
  index.users--
  promote(index, mail)
}

export const build = Effect.fn("DirectoryIndex.build")(function* (tenantId: TenantId) {
  const store = yield* Store
  const index = empty(tenantId)
  yield* store.forEachRaw(Db.users, Keys.userPrefix(tenantId), (key, value) => add(index, key, value))
  if (index.conflicts > 0) {
    yield* Effect.logWarning("directory has proxy addresses claimed by several users; the first keeps each").pipe(
      Effect.annotateLogs({ tenant: tenantId, conflicts: index.conflicts })
    )
  }
  return index
})

/**
 * Applies the store's current entries for `mails` (lowercased, as the change
 * log names them) to the index in place: each user's old addresses go, the
 * new entry's come. Every entry is read and checked before the first change,
 * so a bad entry fails the patch with the index untouched.
 */
export const patch = Effect.fn("DirectoryIndex.patch")(
  function* (index: DirectoryIndex, mails: Iterable<string>) {
    const store = yield* Store
    const entries: Array<{ mail: string; key: string; raw: unknown }> = []
    for (const mail of mails) {
      const key = Keys.userKey(index.tenantId, mail)
      const raw = yield* store.getSync(Db.users, Schema.Unknown, key)
      if (Option.isSome(raw)) addressesOf(key, raw.value) // throws StoreDecodeError before anything changed
      entries.push({ mail, key, raw: Option.getOrUndefined(raw) })
    }
    for (const { mail } of entries) removeUser(index, mail)
    for (const { key, raw } of entries) if (raw !== undefined) add(index, key, raw)
  },
  (effect) => Effect.catchAllDefect(effect, (d) => (d instanceof StoreDecodeError ? Effect.fail(d) : Effect.die(d)))
)

/** The lowercased mail (store key) of the user with this address, if any: a Map read, no store access. */
export const mailOf = (index: DirectoryIndex, address: string): string | undefined => index.addresses.get(normalizeAddress(address))

/** Reads and decodes the entry stored under `mail` (as `mailOf` gives it). */
export const read = (index: DirectoryIndex, mail: string) =>
  Effect.flatMap(Store, (store) => store.get(Db.users, DirectoryUser, Keys.userKey(index.tenantId, mail)))

/** Reads the entry for `address` from the store. */
export const lookup = Effect.fn("DirectoryIndex.lookup")(function* (index: DirectoryIndex, address: string) {
  const mail = mailOf(index, address)
  if (mail === undefined) return Option.none<DirectoryUser>()
  return yield* read(index, mail)
})
