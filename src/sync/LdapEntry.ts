import type { SourceRecord } from "./AttributeMapping.js"

/**
 * One LDAP search entry (as ldapts returns it) into the SourceRecord the
 * attribute mapping reads. Kept apart from the connection handling because
 * it is the per-entry hot path of a 100,000-user pass: plain functions.
 *
 * LDAP attribute names are case-insensitive and may carry options
 * (`thumbnailPhoto;binary`, AD's `member;range=0-1499`), so entries are
 * matched to the mapping's source names by lower-cased base name. ldapts
 * gives a value as a Buffer when it is not valid UTF-8: such an attribute
 * cannot become a directory value, and the entry is rejected with the
 * attribute's name instead of being mapped from mojibake.
 */

/** the shape of an ldapts search entry */
export type LdapEntry = { readonly dn: string } & Readonly<Record<string, string | ReadonlyArray<string> | Buffer | ReadonlyArray<Buffer>>>

export type GroupNames = "dn" | "cn"

export type EntryRecord = { readonly _tag: "Record"; readonly record: SourceRecord } | { readonly _tag: "Binary"; readonly attribute: string }

/** `name[0]` → `name`: the attribute to request for a mapping source */
export const baseAttribute = (source: string): string => source.replace(/\[\d+\]$/, "")

const withoutOptions = (type: string): string => {
  const semicolon = type.indexOf(";")
  return (semicolon === -1 ? type : type.slice(0, semicolon)).toLowerCase()
}

/**
 * Reads the `wanted` attributes (request names) from an entry. `groupAttribute`
 * (the mapping's memberOf source) has its DN values turned into their CN when
 * `groupNames` is "cn".
 */
export const entryRecord = (entry: LdapEntry, wanted: ReadonlyArray<string>, groupAttribute: string | undefined, groupNames: GroupNames): EntryRecord => {
  const byName = new Map<string, ReadonlyArray<unknown>>()
  for (const type of Object.keys(entry)) {
    if (type === "dn") continue
    const raw = entry[type] as unknown
    const values = Array.isArray(raw) ? raw : [raw]
    const key = withoutOptions(type)
    const before = byName.get(key)
    byName.set(key, before === undefined ? values : before.concat(values))
  }
  const record: Record<string, ReadonlyArray<string>> = {}
  const group = groupAttribute?.toLowerCase()
  for (const name of wanted) {
    const key = name.toLowerCase()
    const values = byName.get(key)
    if (values === undefined || values.length === 0) continue
    if (values.some((v) => typeof v !== "string")) return { _tag: "Binary", attribute: name }
    const strings = values as ReadonlyArray<string>
    record[name] = key === group && groupNames === "cn" ? strings.map(groupName) : strings
  }
  return { _tag: "Record", record }
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true })
const HEX_PAIR = /^[0-9a-fA-F]{2}$/

/**
 * The value of a DN's first RDN with RFC 4514 escapes undone
 * (`CN=Sales\, EMEA,OU=Groups,…` → type "CN", value "Sales, EMEA"), or
 * undefined for what this does not read (a multi-valued RDN, a #BER value).
 */
export const firstRdn = (dn: string): { readonly type: string; readonly value: string } | undefined => {
  const eq = dn.indexOf("=")
  if (eq <= 0) return undefined
  const type = dn.slice(0, eq).trim()
  let i = eq + 1
  while (dn[i] === " ") i++
  if (dn[i] === "#") return undefined
  // characters are copied as they are; runs of \XX escapes are UTF-8 bytes, decoded together
  let value = ""
  let bytes: Array<number> | undefined
  try {
    const flush = () => {
      if (bytes !== undefined) value += strictUtf8.decode(Uint8Array.from(bytes))
      bytes = undefined
    }
    for (; i < dn.length; i++) {
      const c = dn[i]
      if (c === "," || c === ";") break
      if (c === "+") return undefined
      if (c === "\\") {
        const pair = dn.slice(i + 1, i + 3)
        if (HEX_PAIR.test(pair)) {
          ;(bytes ??= []).push(parseInt(pair, 16))
          i += 2
          continue
        }
        if (i + 1 >= dn.length) return undefined
        flush()
        value += dn[++i]
        continue
      }
      flush()
      value += c
    }
    flush()
  } catch {
    return undefined // an escaped byte sequence that is not UTF-8
  }
  value = value.trim()
  return value === "" ? undefined : { type, value }
}

/** A group DN as the name rules use: its CN, or the DN itself when its first RDN is not a readable CN. */
export const groupName = (dn: string): string => {
  const rdn = firstRdn(dn)
  return rdn !== undefined && rdn.type.toLowerCase() === "cn" ? rdn.value : dn
}
