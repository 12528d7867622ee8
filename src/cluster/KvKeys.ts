import type { DbName } from "../store/Keys.js"

/**
 * LMDB (database, key) ↔ NATS KV key. A KV key is a subject: tokens of
 * `A-Z a-z 0-9 - _ / =` separated by dots. The database is the first token,
 * the store key the second, every other byte (of its UTF-8) written `=XX`, so
 * `users` + `tenant/acme/user/ann@acme.example` is
 * `users.tenant/acme/user/ann=40acme=2Eexample`, readable with `nats kv`.
 */

const PLAIN = /^[A-Za-z0-9_/-]$/

/** one subject token for any string (`=XX` for every byte outside `A-Z a-z 0-9 - _ /`) */
export const kvToken = (s: string): string => {
  let out = ""
  for (const ch of s) {
    if (PLAIN.test(ch)) out += ch
    else for (const byte of Buffer.from(ch, "utf8")) out += `=${byte.toString(16).toUpperCase().padStart(2, "0")}`
  }
  return out
}

const unescape = (s: string): string => {
  const bytes: Array<number> = []
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "=") {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16))
      i += 2
    } else bytes.push(s.charCodeAt(i))
  }
  return Buffer.from(bytes).toString("utf8")
}

export const toKvKey = (db: DbName, key: string): string => `${kvToken(db)}.${kvToken(key)}`

/** undefined for a KV key this layout did not write */
export const fromKvKey = (kvKey: string): { readonly db: DbName; readonly key: string } | undefined => {
  const dot = kvKey.indexOf(".")
  if (dot <= 0 || dot === kvKey.length - 1 || kvKey.indexOf(".", dot + 1) >= 0) return undefined
  return { db: unescape(kvKey.slice(0, dot)), key: unescape(kvKey.slice(dot + 1)) }
}
