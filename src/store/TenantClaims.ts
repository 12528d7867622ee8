import { Effect, Either, Option, Schema } from "effect"
import { Tenant, type TenantId } from "../domain/Tenant.js"
import * as Keys from "./Keys.js"
import { Db } from "./Keys.js"
import type { Store } from "./Store.js"
import { Write, type WriteOp } from "./Store.js"

/**
 * What a tenant claims exclusively, kept as a secondary index in LMDB so an
 * import checks its conflicts with one read per claim instead of listing and
 * decoding every tenant: `domain/<domain>`, `username/<auth username>`,
 * `cert/<fingerprint>`, `m365/<tenant guid>`, `m365domain/<onmicrosoft domain>`
 * → the owning tenant id. The entries are written in the same transaction as
 * the tenant record (TenantRepo), removed with it, and never under `tenant/`:
 * an index entry is no tenant's state, so it makes no actor reload.
 *
 * A store written before the index existed is indexed once, on first use
 * (INDEX_VERSION_KEY marks it done); where old data already held a duplicate,
 * the first tenant in key order keeps the entry and the duplicate is logged.
 */

export const CLAIMS_DB = "tenant-claims"
/** bump when the claim kinds change: the index is built again from the tenant records */
export const INDEX_VERSION = 1
const INDEX_VERSION_KEY = "meta/version"

export type ClaimKind = "domain" | "username" | "cert" | "m365" | "m365domain"

export interface Claim {
  readonly kind: ClaimKind
  readonly value: string
}

export const claimKey = (claim: Claim): string => `${claim.kind}/${claim.value}`

const normalizeFp = (fp: string): string => fp.replace(/:/g, "").toUpperCase().match(/.{2}/g)!.join(":")

/** Every exclusive claim of a tenant (lower-cased where comparison ignores case; auth usernames are exact). */
export const claimsOf = (tenant: Tenant): ReadonlyArray<Claim> => {
  const out: Array<Claim> = tenant.domains.map((d) => ({ kind: "domain", value: d.toLowerCase() }))
  for (const c of tenant.connectors) {
    switch (c._tag) {
      case "auth":
        out.push({ kind: "username", value: c.username })
        break
      case "certificate":
        out.push({ kind: "cert", value: normalizeFp(c.fingerprint256) })
        break
      case "microsoft365":
        out.push({ kind: "m365", value: c.tenantGuid.toLowerCase() }, { kind: "m365domain", value: c.domain.toLowerCase() })
        break
      case "cidr":
        break
    }
  }
  return out
}

/** How a conflict message names a claim. */
export const describeClaim = (claim: Claim): string => {
  switch (claim.kind) {
    case "domain":
      return `domain ${claim.value}`
    case "username":
      return `auth username "${claim.value}"`
    case "cert":
      return `certificate ${claim.value}`
    case "m365":
      return `Microsoft 365 tenant ${claim.value}`
    case "m365domain":
      return `Microsoft 365 domain ${claim.value}`
  }
}

const Owner = Schema.String

/** The tenant owning a claim, read synchronously from LMDB (undefined: nobody). */
export const ownerOf = (store: Store, claim: Claim): TenantId | undefined => {
  const read = store.getSync(CLAIMS_DB, Owner, claimKey(claim))
  return Either.isRight(read) && Option.isSome(read.right) ? (read.right.value as TenantId) : undefined
}

/**
 * The index writes that move a tenant from `before` to `after` (undefined:
 * absent): its old claims removed (only those still pointing at it), its new
 * ones written. Removals come first, so a claim kept is written again.
 */
export const claimOps = (store: Store, id: TenantId, before: Tenant | undefined, after: Tenant | undefined): Array<WriteOp> => {
  const ops: Array<WriteOp> = []
  const kept = new Set((after === undefined ? [] : claimsOf(after)).map(claimKey))
  for (const claim of before === undefined ? [] : claimsOf(before)) {
    const key = claimKey(claim)
    if (!kept.has(key) && ownerOf(store, claim) === id) ops.push(Write.remove(CLAIMS_DB, key))
  }
  for (const claim of after === undefined ? [] : claimsOf(after)) ops.push(Write.put(CLAIMS_DB, Owner, claimKey(claim), id))
  return ops
}

const versionOp: WriteOp = Write.put(CLAIMS_DB, Schema.Number, INDEX_VERSION_KEY, INDEX_VERSION)

const hasIndex = (store: Store): boolean => {
  const version = store.getSync(CLAIMS_DB, Schema.Number, INDEX_VERSION_KEY)
  return Either.isRight(version) && Option.getOrUndefined(version.right) === INDEX_VERSION
}

/**
 * The version mark, for an import to write with its claims when the store has
 * none yet, so a store whose tenants all came through an import is never
 * scanned. Written once, not per import: in a cluster every write of one key
 * by two nodes at once is a compare-and-set conflict.
 */
export const versionOps = (store: Store): ReadonlyArray<WriteOp> => (hasIndex(store) ? [] : [versionOp])

/**
 * Builds the index from the tenant records when this store has tenants but
 * no index of this version; once per store. A store without tenants gets
 * nothing written (its first import writes the version).
 */
export const ensureIndex = Effect.fn("TenantClaims.ensureIndex")(function* (store: Store) {
  if (hasIndex(store)) return
  if ((yield* store.keys(Db.tenants, Keys.TENANT_KEY_ROOT)).length === 0) return
  const owners = new Map<string, TenantId>()
  const duplicates: Array<{ claim: string; tenant: TenantId; duplicate: TenantId }> = []
  yield* store.forEach(Db.tenants, Tenant, Keys.TENANT_KEY_ROOT, (_key, tenant) => {
    for (const claim of claimsOf(tenant)) {
      const key = claimKey(claim)
      const owner = owners.get(key)
      if (owner === undefined) owners.set(key, tenant.id)
      else if (owner !== tenant.id) duplicates.push({ claim: key, tenant: owner, duplicate: tenant.id })
    }
  })
  for (const d of duplicates) yield* Effect.logWarning("tenant claim held by two tenants; the first keeps it in the index").pipe(Effect.annotateLogs(d))
  yield* store.batch([Write.removePrefix(CLAIMS_DB, ""), ...Array.from(owners, ([key, id]) => Write.put(CLAIMS_DB, Owner, key, id)), versionOp])
  yield* Effect.logInfo("tenant claims index built").pipe(Effect.annotateLogs({ claims: owners.size }))
})
