import { type Cidr, contains, parseAddress, parseCidr } from "../domain/Cidr.js"
import type { SessionBinding } from "../domain/Binding.js"
import type { Tenant, TenantId } from "../domain/Tenant.js"
import { normalizeFingerprint } from "../store/TenantRepo.js"

/**
 * In-memory answers to "which tenant is this SMTP session?", built from all
 * tenant records. Suspended tenants are left out, so they bind nothing.
 * Lookups are plain functions: they run once per connection.
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
}

export const empty: ConnectorIndex = {
  revision: -1, byUsername: new Map(), byFingerprint: new Map(), ranges: [], byDomain: new Map(), microsoft365: new Set()
}

const push = <K, V>(map: Map<K, Array<V>>, key: K, value: V) => {
  const list = map.get(key)
  if (list === undefined) map.set(key, [value])
  else list.push(value)
}

export const build = (tenants: Iterable<Tenant>, revision: number): ConnectorIndex => {
  const byUsername = new Map<string, Array<AuthEntry>>()
  const byFingerprint = new Map<string, Array<TenantId>>()
  const ranges: Array<{ cidr: Cidr; tenantId: TenantId }> = []
  const byDomain = new Map<string, TenantId>()
  const microsoft365 = new Set<TenantId>()
  for (const tenant of tenants) {
    if (tenant.suspended) continue
    for (const d of tenant.domains) byDomain.set(d.toLowerCase(), tenant.id)
    for (const c of tenant.connectors) {
      switch (c._tag) {
        case "auth":
          push(byUsername, c.username, { tenantId: tenant.id, passwordHash: c.passwordHash })
          break
        case "certificate":
          push(byFingerprint, normalizeFingerprint(c.fingerprint256), tenant.id)
          break
        case "cidr":
          for (const text of c.cidrs) {
            const cidr = parseCidr(text)
            if (cidr !== undefined) ranges.push({ cidr, tenantId: tenant.id })
          }
          break
        case "microsoft365":
          microsoft365.add(tenant.id)
      }
    }
  }
  return { revision, byUsername, byFingerprint, ranges, byDomain, microsoft365 }
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
    case "Bound": return { _tag: "Tenant", tenantId: match.tenantId }
    case "Tie": return { _tag: "SharedRange", tenantIds: match.tenantIds }
    case "Unmatched": return { _tag: "Unbound" }
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
    case "Tenant": return binding.tenantId
    case "Unbound": return undefined
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
