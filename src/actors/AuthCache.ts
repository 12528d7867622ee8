import { Metric } from "effect"
import { createHmac, randomBytes } from "node:crypto"
import type { TenantId } from "../domain/Tenant.js"
import type { AuthEntry } from "./ConnectorIndex.js"

/**
 * Successful AUTH verifications, remembered for a short while so that a
 * sender opening a connection per message pays scrypt (~64 ms of CPU) once per
 * AUTH_CACHE_TTL_MS instead of once per connection, as mail servers' auth
 * caches do. scrypt stays the form at rest.
 *
 * - Keyed by HMAC-SHA256(per-process random key, username NUL password): no
 *   password or plain hash of one is held; the key dies with the process.
 * - An entry names the tenant and the stored hash it was verified against, and
 *   counts only while the connector index still holds exactly that (username,
 *   tenant, hash): a password change, a removed connector or a suspended
 *   tenant ends it at once, with no explicit invalidation to forget.
 * - Only successes are cached: a wrong password always costs scrypt.
 * - Bounded: AUTH_CACHE_ENTRIES, the oldest forgotten first.
 */

export const AUTH_CACHE_TTL_MS = 5 * 60_000
export const AUTH_CACHE_ENTRIES = 10_000

export const authVerifications = Metric.counter("imprint_smtp_auth_verifications_total", {
  description: "SMTP AUTH password checks, by how they were answered: scrypt (verified against the stored hash) or cached (a recent success)"
})
export const authVerificationBy = {
  scrypt: Metric.tagged(authVerifications, "answer", "scrypt"),
  cached: Metric.tagged(authVerifications, "answer", "cached")
} as const

interface Entry {
  readonly tenantId: TenantId
  readonly passwordHash: string
  readonly until: number
}

export class AuthCache {
  private readonly key = randomBytes(32)
  private readonly entries = new Map<string, Entry>()

  private digest(username: string, password: string): string {
    return createHmac("sha256", this.key).update(username).update("\0").update(password).digest("base64")
  }

  /** The tenant a recent success bound these credentials to, if the index still says the same. */
  lookup(username: string, password: string, current: ReadonlyArray<AuthEntry>, now: number): TenantId | undefined {
    const digest = this.digest(username, password)
    const hit = this.entries.get(digest)
    if (hit === undefined) return undefined
    const still = current.length === 1 && current[0].tenantId === hit.tenantId && current[0].passwordHash === hit.passwordHash
    if (hit.until <= now || !still) {
      this.entries.delete(digest)
      return undefined
    }
    return hit.tenantId
  }

  remember(username: string, password: string, verified: AuthEntry, now: number): void {
    const digest = this.digest(username, password)
    this.entries.delete(digest)
    this.entries.set(digest, { tenantId: verified.tenantId, passwordHash: verified.passwordHash, until: now + AUTH_CACHE_TTL_MS })
    if (this.entries.size > AUTH_CACHE_ENTRIES) this.entries.delete(this.entries.keys().next().value!)
  }
}
