import { promises as dns } from "node:dns"
import type { TxtResolver } from "mailauth/lib/dkim/dkim-verifier.js"

/**
 * DKIM public keys (TXT records at `<selector>._domainkey.<domain>`) for the
 * Microsoft 365 proof. Production asks DNS (the system's resolvers, or
 * `microsoft365.dnsServers`, which is also how specs point it at a loopback
 * DNS stub); answers are kept for KEY_CACHE_MS, so a tenant's steady mail
 * costs no lookup per message. Failures are never cached.
 */

/** how long a key found in DNS is reused (Microsoft rotates selectors with days of overlap) */
export const KEY_CACHE_MS = 10 * 60_000
/** keys remembered at most; the oldest is forgotten first */
export const KEY_CACHE_ENTRIES = 10_000
/** per query attempt, and attempts per server: a lookup that hangs becomes a temporary failure */
export const DNS_TIMEOUT_MS = 2_000
export const DNS_TRIES = 2

export interface DkimKeys {
  /** the TXT records of `name`; rejects with node:dns's error codes (ENOTFOUND, ENODATA: no key; others: temporary) */
  readonly txt: (name: string) => Promise<ReadonlyArray<ReadonlyArray<string>>>
}

export const dnsDkimKeys = (servers: ReadonlyArray<string> | undefined): DkimKeys => {
  const resolver = new dns.Resolver({ timeout: DNS_TIMEOUT_MS, tries: DNS_TRIES })
  if (servers !== undefined && servers.length > 0) resolver.setServers([...servers])
  const cache = new Map<string, { readonly until: number; readonly records: Promise<ReadonlyArray<ReadonlyArray<string>>> }>()
  return {
    txt: (input) => {
      const name = input.toLowerCase()
      const now = Date.now()
      const hit = cache.get(name)
      if (hit !== undefined && hit.until > now) return hit.records
      cache.delete(name)
      const records = resolver.resolveTxt(name)
      cache.set(name, { until: now + KEY_CACHE_MS, records })
      if (cache.size > KEY_CACHE_ENTRIES) cache.delete(cache.keys().next().value!)
      records.catch(() => {
        if (cache.get(name)?.records === records) cache.delete(name)
      })
      return records
    }
  }
}

const notLookedUp = (name: string) => Object.assign(new Error(`${name} is not looked up`), { code: "ENOTFOUND" })

/**
 * A resolver for mailauth that answers only keys of `domain`: a message can
 * carry any number of signatures by other domains, and none of them makes
 * Imprint send a query (mailauth reports them as "no key").
 */
export const keysOf = (keys: DkimKeys, domain: string): TxtResolver => {
  const suffix = `._domainkey.${domain.toLowerCase()}`
  return (name, rrtype) => (rrtype === "TXT" && name.toLowerCase().endsWith(suffix) ? keys.txt(name) : Promise.reject(notLookedUp(name)))
}
