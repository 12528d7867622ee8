import { type Cidr, contains, parseAddress, parseCidr } from "../domain/Cidr.js"
import type { SessionBinding } from "../domain/Binding.js"
import type { Tenant, TenantId } from "../domain/Tenant.js"
import { normalizeFingerprint } from "../store/TenantRepo.js"

/**
 * In-memory answers to "which tenant is this SMTP session?", built from all
 * tenant records once, then patched per changed tenant (`patch`): an import
 * costs the index one tenant's entries, not a rebuild. Suspended tenants are
 * left out, so they bind nothing. Lookups are plain functions: they run once
 * per connection, synchronously, so a patch between two lookups is safe.
 */

export interface AuthEntry {
  readonly tenantId: TenantId
  readonly passwordHash: string
}

export interface ConnectorIndex {
  /** the store's revision of the tenants database this index was built from */
  readonly revision: number
  readonly byUsername: ReadonlyMap<string, ReadonlyArray<AuthEntry>>
  readonly byFingerprint: ReadonlyMap<string, ReadonlyArray<TenantId>>
  readonly ranges: ReadonlyArray<{ readonly cidr: Cidr; readonly tenantId: TenantId }>
  /** sender domain (lower case) → its tenant; the import keeps domains unique across tenants */
  readonly byDomain: ReadonlyMap<string, TenantId>
  /** tenants with a microsoft365 connector */
  readonly microsoft365: ReadonlySet<TenantId>
  /** the tenant records indexed (suspended ones included), so a patch knows what to take out */
  readonly tenants: ReadonlyMap<TenantId, Tenant>
}

export const empty: ConnectorIndex = {
  revision: -1,
  byUsername: new Map(),
  byFingerprint: new Map(),
  ranges: [],
  byDomain: new Map(),
  microsoft365: new Set(),
  tenants: new Map()
}

const push = <K, V>(map: Map<K, Array<V>>, key: K, value: V) => {
  const list = map.get(key)
  if (list === undefined) map.set(key, [value])
  else list.push(value)
}

interface Mutable {
  byUsername: Map<string, Array<AuthEntry>>
  byFingerprint: Map<string, Array<TenantId>>
  ranges: Array<{ cidr: Cidr; tenantId: TenantId }>
  byDomain: Map<string, TenantId>
  microsoft365: Set<TenantId>
  tenants: Map<TenantId, Tenant>
}

const add = (m: Mutable, tenant: Tenant) => {
  m.tenants.set(tenant.id, tenant)
  if (tenant.suspended) return
  for (const d of tenant.domains) m.byDomain.set(d.toLowerCase(), tenant.id)
  for (const c of tenant.connectors) {
    switch (c._tag) {
      case "auth":
        push(m.byUsername, c.username, { tenantId: tenant.id, passwordHash: c.passwordHash })
        break
      case "certificate":
        push(m.byFingerprint, normalizeFingerprint(c.fingerprint256), tenant.id)
        break
      case "cidr":
        for (const text of c.cidrs) {
          const cidr = parseCidr(text)
          if (cidr !== undefined) m.ranges.push({ cidr, tenantId: tenant.id })
        }
        break
      case "microsoft365":
        m.microsoft365.add(tenant.id)
    }
  }
}

const without = <K, V>(map: Map<K, Array<V>>, key: K, keep: (v: V) => boolean) => {
  const list = map.get(key)
  if (list === undefined) return
  const rest = list.filter(keep)
  if (rest.length === 0) map.delete(key)
  else map.set(key, rest)
}

/** Takes out what `tenant` put in (its ranges are filtered by the caller, once for all removed tenants). */
const removeEntries = (m: Mutable, tenant: Tenant) => {
  m.tenants.delete(tenant.id)
  for (const d of tenant.domains) if (m.byDomain.get(d.toLowerCase()) === tenant.id) m.byDomain.delete(d.toLowerCase())
  m.microsoft365.delete(tenant.id)
  for (const c of tenant.connectors) {
    if (c._tag === "auth") without(m.byUsername, c.username, (e) => e.tenantId !== tenant.id)
    else if (c._tag === "certificate") without(m.byFingerprint, normalizeFingerprint(c.fingerprint256), (id) => id !== tenant.id)
  }
}

export const build = (tenants: Iterable<Tenant>, revision: number): ConnectorIndex => {
  const m: Mutable = { byUsername: new Map(), byFingerprint: new Map(), ranges: [], byDomain: new Map(), microsoft365: new Set(), tenants: new Map() }
  for (const tenant of tenants) add(m, tenant)
  return { revision, ...m }
}

/**
 * The index with these tenants replaced (a record) or taken out (undefined),
 * at `revision`. The maps are changed in place (lookups never span a patch);
 * the ranges list is a new one.
 */
export const patch = (index: ConnectorIndex, changes: ReadonlyMap<TenantId, Tenant | undefined>, revision: number): ConnectorIndex => {
  const m = index as unknown as Mutable
  for (const id of changes.keys()) {
    const old = m.tenants.get(id)
    if (old !== undefined) removeEntries(m, old)
  }
  const ranges = m.ranges.filter((r) => !changes.has(r.tenantId))
  const next: Mutable = { ...m, ranges }
  for (const tenant of changes.values()) if (tenant !== undefined) add(next, tenant)
  return { ...next, revision }
}

export type SourceMatch =
  | { readonly _tag: "Bound"; readonly tenantId: TenantId }
  | { readonly _tag: "Unmatched" }
  /** two tenants claim the address with equally specific ranges: binding either would be a guess */
  | { readonly _tag: "Tie"; readonly tenantIds: ReadonlyArray<TenantId>; readonly prefix: number }

/** The tenant whose most specific range holds `ip` (IPv4, IPv6 or IPv4-mapped IPv6). */
export const matchSource = (index: ConnectorIndex, ip: string): SourceMatch => {
  const address = parseAddress(ip)
  if (address === undefined) return { _tag: "Unmatched" }
  let best = -1
  let winners = new Set<TenantId>()
  for (const { cidr, tenantId } of index.ranges) {
    if (cidr.prefix < best || !contains(cidr, address)) continue
    if (cidr.prefix > best) {
      best = cidr.prefix
      winners = new Set()
    }
    winners.add(tenantId)
  }
  if (winners.size === 0) return { _tag: "Unmatched" }
  const ids = Array.from(winners)
  return ids.length === 1 ? { _tag: "Bound", tenantId: ids[0] } : { _tag: "Tie", tenantIds: ids, prefix: best }
}

/** Tenants holding this certificate (more than one means the data is ambiguous and nothing binds). */
export const matchFingerprint = (index: ConnectorIndex, fingerprint256: string): ReadonlyArray<TenantId> => {
  const hex = fingerprint256.replace(/:/g, "")
  if (!/^[0-9A-Fa-f]{64}$/.test(hex)) return []
  return index.byFingerprint.get(normalizeFingerprint(hex)) ?? []
}

/** The binding a source address gives: one tenant, several sharing the most specific range, or none. */
export const sourceBinding = (index: ConnectorIndex, ip: string): SessionBinding => {
  const match = matchSource(index, ip)
  switch (match._tag) {
    case "Bound":
      return { _tag: "Tenant", tenantId: match.tenantId }
    case "Tie":
      return { _tag: "SharedRange", tenantIds: match.tenantIds }
    case "Unmatched":
      return { _tag: "Unbound" }
  }
}

/**
 * The tenant a shared binding selects for an envelope sender's domain: the
 * domain's owner, when the connection's proof covers it (one of the tenants
 * sharing the range; a tenant with a microsoft365 connector). A session bound
 * to one tenant needs no selection; an unbound one gets none.
 */
export const selectBySender = (index: ConnectorIndex, binding: SessionBinding, domain: string): TenantId | undefined => {
  switch (binding._tag) {
    case "Tenant":
      return binding.tenantId
    case "Unbound":
      return undefined
    case "SharedRange": {
      const owner = index.byDomain.get(domain.toLowerCase())
      return owner !== undefined && binding.tenantIds.includes(owner) ? owner : undefined
    }
    case "Microsoft365": {
      const owner = index.byDomain.get(domain.toLowerCase())
      return owner !== undefined && index.microsoft365.has(owner) ? owner : undefined
    }
  }
}
