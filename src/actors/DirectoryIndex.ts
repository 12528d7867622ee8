import { Effect, Option } from "effect"
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
  /** lowercased address → lowercased mail */
  readonly addresses: ReadonlyMap<string, string>
  readonly users: number
  /** proxy addresses claimed by two users (the first one keeps it) */
  readonly conflicts: number
}

/** A lookup address as the index holds it; "smtp:" as Azure AD writes it and SMTP's angle brackets are dropped. */
export const normalizeAddress = (address: string): string => address.trim().replace(/^<|>$/g, "").replace(/^smtp:/i, "").toLowerCase()

/** Azure AD also lists X500:, SIP:, … addresses; only smtp ones (or bare addresses) are mail. */
const isMailAddress = (proxy: string): boolean => /^smtp:/i.test(proxy.trim()) || !/^[a-z0-9]+:/i.test(proxy.trim())

export const build = Effect.fn("DirectoryIndex.build")(function* (tenantId: TenantId) {
  const store = yield* Store
  const addresses = new Map<string, string>()
  let conflicts = 0
  const users = yield* store.forEachRaw(Db.users, Keys.userPrefix(tenantId), (key, value) => {
    const user = addressesOf(key, value)
    const mail = user.mail.toLowerCase()
    // a primary address beats another user's alias
    addresses.set(mail, mail)
    for (const proxy of user.proxyAddresses) {
      if (typeof proxy !== "string" || !isMailAddress(proxy)) continue
      const alias = normalizeAddress(proxy)
      const owner = addresses.get(alias)
      if (owner === undefined) addresses.set(alias, mail)
      else if (owner !== mail && owner !== alias) conflicts++
    }
  })
  if (conflicts > 0) {
    yield* Effect.logWarning("directory has proxy addresses claimed by several users; the first keeps each")
      .pipe(Effect.annotateLogs({ tenant: tenantId, conflicts }))
  }
  return { tenantId, addresses, users, conflicts } satisfies DirectoryIndex
})

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
