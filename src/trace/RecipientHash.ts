import { createHmac } from "node:crypto"
import type { TraceCopy, TraceEntry, TraceReply } from "../domain/Trace.js"

/**
 * Recipient addresses in a tenant's trace, hashed when the tenant's
 * `trace.hashRecipients` says so: HMAC-SHA256 of the lower-cased address under
 * a key of that tenant (derived from the node's trace key), so the same
 * address gives the same value within a tenant — searchable by the exact
 * address — and unrelated values across tenants. The key never leaves the
 * server; a record alone does not tell who the recipient was.
 */

export const HASH_PREFIX = "hmac:"

export const tenantKey = (secret: Buffer, tenant: string): Buffer => createHmac("sha256", secret).update(`imprint trace recipients\u0000${tenant}`).digest()

export const hashAddress = (key: Buffer, address: string): string =>
  `${HASH_PREFIX}${createHmac("sha256", key).update(address.toLowerCase()).digest("base64url")}`

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/**
 * The entry with every recipient replaced by its hash, also where a reply
 * text quotes it ("550 5.1.1 <bob@example.org>: unknown user").
 */
export const hashRecipients = (entry: TraceEntry, key: Buffer): TraceEntry => {
  const hashes = new Map<string, string>()
  const hash = (a: string) => {
    const lower = a.toLowerCase()
    let h = hashes.get(lower)
    if (h === undefined) hashes.set(lower, (h = hashAddress(key, lower)))
    return h
  }
  const recipients = entry.recipients.map(hash)
  const quoted = hashes.size === 0 ? undefined : new RegExp(Array.from(hashes.keys(), escapeRegExp).join("|"), "gi")
  const redact = (r: TraceReply | undefined): TraceReply | undefined =>
    r === undefined || quoted === undefined ? r : { ...r, text: r.text.replace(quoted, (m) => hash(m)) }
  const copies = entry.copies.map((c): TraceCopy => {
    const reply = redact(c.reply)
    return { ...c, recipients: c.recipients.map(hash), ...(reply !== undefined ? { reply } : {}) }
  })
  return { ...entry, recipients, copies, reply: redact(entry.reply)! }
}
