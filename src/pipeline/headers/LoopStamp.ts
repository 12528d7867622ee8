import { createHmac, createSecretKey, hash, type KeyObject, timingSafeEqual } from "node:crypto"

/**
 * The loop stamp (invariant 6): a header on every relayed message with an HMAC
 * over the tenant, the time and the message's identity. A message that comes
 * back with a valid stamp has been through Imprint already and passes
 * untouched; a forged, foreign or stale one is removed and ignored.
 */

export const LOOP_STAMP_HEADER = "X-Imprint-Loop"
const VERSION = "1"

export type StampCheck = "valid" | "forged" | "stale"

/** Message-ID when present, else a digest of the headers that identify a message for its sender. */
export const messageIdentity = (h: { messageId?: string; from?: string; date?: string; subject?: string }): string =>
  h.messageId?.trim() || "sha256:" + hash("sha256", `${h.from ?? ""}\n${h.date ?? ""}\n${h.subject ?? ""}`, "base64url")

/** the stamp key as a KeyObject, made once per key (not converted again for every message's HMAC) */
const keyObjects = new WeakMap<Buffer, KeyObject>()
const keyObject = (key: Buffer): KeyObject => {
  let k = keyObjects.get(key)
  if (k === undefined) {
    k = createSecretKey(key)
    keyObjects.set(key, k)
  }
  return k
}

const mac = (key: Buffer, tenant: string, ts: number, identity: string): string =>
  createHmac("sha256", keyObject(key)).update(`${VERSION}\n${tenant}\n${ts}\n${identity}`).digest("base64url")

export const signStamp = (key: Buffer, tenant: string, identity: string, nowSeconds: number): string =>
  `v=${VERSION}; t=${tenant}; ts=${nowSeconds}; mac=${mac(key, tenant, nowSeconds, identity)}`

const FIELD = /(?:^|;)\s*(v|t|ts|mac)=([^;\s]*)/g

export const checkStamp = (key: Buffer, value: string, tenant: string, identity: string, nowSeconds: number, maxAgeSeconds: number): StampCheck => {
  const fields = new Map<string, string>()
  for (const m of value.matchAll(FIELD)) fields.set(m[1], m[2])
  const ts = Number(fields.get("ts"))
  const given = fields.get("mac")
  if (fields.get("v") !== VERSION || fields.get("t") !== tenant || !Number.isSafeInteger(ts) || given === undefined) return "forged"
  const expected = Buffer.from(mac(key, tenant, ts, identity))
  const actual = Buffer.from(given)
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return "forged"
  // a stamp from the future beyond clock skew is as suspect as an old one
  if (nowSeconds - ts > maxAgeSeconds || ts - nowSeconds > 300) return "stale"
  return "valid"
}
