import { DirectoryUser, DirectoryAttributes } from "../domain/Directory.js"
import { isDirectoryAddress, MAX_MAIL_LENGTH } from "../domain/MailAddress.js"
import type { SourceChange } from "./DirectorySource.js"

/**
 * Maps one entry read from a source (Graph JSON, LDAP attributes, a CSV row)
 * into a DirectoryUser. Every source goes through here, so the rules for what
 * a directory value may be live in one place: values trimmed, no control
 * characters, no markup in single-valued attributes (a phone is not HTML;
 * templates escape anyway, but a value carrying tags is a poisoned entry),
 * lengths bounded, mail validated.
 */

/** a source entry: attribute name → value(s), as the source's client gives them */
export type SourceRecord = Readonly<Record<string, ReadonlyArray<string> | string | undefined | null>>

/**
 * DirectoryUser attribute (or "custom.<name>") → source attribute name. A
 * source attribute may pick one element of a multi-valued attribute with
 * `name[index]` (Graph's `businessPhones[0]`).
 */
export type AttributeMappingSpec = Readonly<Record<string, string>>

/** Limits for one value (the mail's, MAX_MAIL_LENGTH, lives with the address rule in domain/MailAddress.ts). */
export { MAX_MAIL_LENGTH }
export const MAX_VALUE_LENGTH = 512
export const MAX_PROXY_ADDRESSES = 200
export const MAX_GROUPS = 2_000
export const MAX_GROUP_LENGTH = 1_024
export const MAX_CUSTOM_ATTRIBUTES = 50

export const GRAPH_DEFAULT_MAPPING: AttributeMappingSpec = {
  mail: "mail",
  displayName: "displayName",
  givenName: "givenName",
  sn: "surname",
  title: "jobTitle",
  department: "department",
  company: "companyName",
  telephoneNumber: "businessPhones[0]",
  mobile: "mobilePhone",
  facsimileTelephoneNumber: "faxNumber",
  physicalDeliveryOfficeName: "officeLocation",
  streetAddress: "streetAddress",
  l: "city",
  st: "state",
  postalCode: "postalCode",
  co: "country",
  proxyAddresses: "proxyAddresses",
  memberOf: "memberOf"
}

export const LDAP_DEFAULT_MAPPING: AttributeMappingSpec = {
  mail: "mail",
  displayName: "displayName",
  givenName: "givenName",
  sn: "sn",
  title: "title",
  department: "department",
  company: "company",
  telephoneNumber: "telephoneNumber",
  mobile: "mobile",
  facsimileTelephoneNumber: "facsimileTelephoneNumber",
  physicalDeliveryOfficeName: "physicalDeliveryOfficeName",
  streetAddress: "streetAddress",
  l: "l",
  st: "st",
  postalCode: "postalCode",
  co: "co",
  proxyAddresses: "proxyAddresses",
  memberOf: "memberOf"
}

/** The attributes a mapping may target: the DirectoryUser attributes, proxyAddresses, memberOf and custom.<name>. */
export const isMappableAttribute = (target: string): boolean =>
  (DirectoryAttributes as ReadonlyArray<string>).includes(target) ||
  target === "proxyAddresses" ||
  target === "memberOf" ||
  /^custom\.[A-Za-z][A-Za-z0-9_]{0,63}$/.test(target)

// C0 and C1 controls and DEL; a tab or newline in a phone or title is as wrong as a NUL
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/
// a tag, a comment or a character reference: what would make a value HTML
const MARKUP = /[<>]|&(#\d+|#x[0-9a-f]+|[a-z][a-z0-9]*);/i

/** Reads `name` or `name[index]` from the record, as a list of strings. */
const read = (record: SourceRecord, source: string): ReadonlyArray<string> => {
  const indexed = /^(.+)\[(\d+)\]$/.exec(source)
  const name = indexed ? indexed[1]! : source
  const raw = record[name]
  const values = raw === undefined || raw === null ? [] : typeof raw === "string" ? [raw] : raw.filter((v): v is string => typeof v === "string")
  if (indexed) {
    const v = values[Number(indexed[2])]
    return v === undefined ? [] : [v]
  }
  return values
}

class Invalid {
  constructor(readonly reason: string) {}
}

/** A single value: trimmed; control characters, markup and over-long values refused; empty means absent. */
const single = (target: string, source: string, values: ReadonlyArray<string>): string | undefined => {
  const value = values[0]?.trim()
  if (value === undefined || value === "") return undefined
  if (CONTROL.test(value)) throw new Invalid(`${target} (${source}) contains a control character`)
  if (MARKUP.test(value)) throw new Invalid(`${target} (${source}) contains markup (<, > or an HTML entity)`)
  if (value.length > MAX_VALUE_LENGTH) throw new Invalid(`${target} (${source}) is longer than ${MAX_VALUE_LENGTH} characters`)
  return value
}

/** The one address rule (domain/MailAddress.ts), shared with the tenant file and the admin API. */
export const isValidMail = isDirectoryAddress

/** Only smtp addresses are mail: "SMTP:" (primary) and "smtp:" (alias) kept with their prefix, bare addresses get "smtp:". */
const proxies = (values: ReadonlyArray<string>): Array<string> => {
  const kept: Array<string> = []
  for (const raw of values) {
    const value = raw.trim()
    const prefixed = /^smtp:/i.exec(value)
    if (!prefixed && /^[a-z0-9]+:/i.test(value)) continue // X500:, SIP:, EUM:, …
    const address = prefixed ? value.slice(5).trim() : value
    if (!isValidMail(address)) continue // one bad alias does not cost the user its entry
    kept.push(prefixed ? `${value.slice(0, 5)}${address}` : `smtp:${address}`)
    if (kept.length >= MAX_PROXY_ADDRESSES) break
  }
  return kept
}

const groups = (target: string, source: string, values: ReadonlyArray<string>): Array<string> => {
  const kept: Array<string> = []
  for (const raw of values) {
    const value = raw.trim()
    if (value === "") continue
    if (CONTROL.test(value)) throw new Invalid(`${target} (${source}) contains a control character`)
    if (value.length > MAX_GROUP_LENGTH) throw new Invalid(`${target} (${source}) has a value longer than ${MAX_GROUP_LENGTH} characters`)
    kept.push(value)
    if (kept.length >= MAX_GROUPS) break
  }
  return kept
}

/** The primary SMTP address ("SMTP:" in upper case) when the mail attribute is empty, as Exchange defines it. */
const primaryFromProxies = (values: ReadonlyArray<string>): string | undefined =>
  values
    .map((v) => v.trim())
    .find((v) => v.startsWith("SMTP:"))
    ?.slice(5)
    .trim()

/**
 * Maps one source entry. `ref` names the entry in a Rejected (a DN, a Graph
 * id), never a credential. A Rejected whose mail was readable carries it, so a
 * full pass can keep that user's cached entry instead of removing it.
 */
export const mapRecord = (record: SourceRecord, mapping: AttributeMappingSpec, ref: string): SourceChange => {
  const mailSource = mapping.mail ?? "mail"
  const proxySource = mapping.proxyAddresses
  const rawMail = read(record, mailSource)[0]?.trim() || (proxySource === undefined ? undefined : primaryFromProxies(read(record, proxySource)))
  if (rawMail === undefined || rawMail === "") return { _tag: "Rejected", ref, reason: `no mail (${mailSource})` }
  if (!isValidMail(rawMail)) return { _tag: "Rejected", ref, reason: `mail (${mailSource}) is not a valid address` }
  const mail = rawMail
  try {
    const fields: Record<string, unknown> = { mail }
    const custom: Record<string, string> = {}
    for (const [target, source] of Object.entries(mapping)) {
      if (target === "mail") continue
      if (!isMappableAttribute(target)) throw new Invalid(`the mapping names ${target}, which is not a directory attribute`)
      const values = read(record, source)
      if (target === "proxyAddresses") fields.proxyAddresses = proxies(values)
      else if (target === "memberOf") fields.memberOf = groups(target, source, values)
      else {
        const value = single(target, source, values)
        if (value === undefined) continue
        if (target.startsWith("custom.")) {
          if (Object.keys(custom).length >= MAX_CUSTOM_ATTRIBUTES) throw new Invalid(`more than ${MAX_CUSTOM_ATTRIBUTES} custom attributes`)
          custom[target.slice(7)] = value
        } else fields[target] = value
      }
    }
    fields.custom = custom
    fields.proxyAddresses ??= []
    fields.memberOf ??= []
    // every field was checked above (strings, arrays of strings, a valid mail): the constructor's Schema check
    // would cost more than the rest of the mapping on a 100,000-user pass
    return { _tag: "Upsert", user: new DirectoryUser(fields as ConstructorParameters<typeof DirectoryUser>[0], true) }
  } catch (e) {
    if (e instanceof Invalid) return { _tag: "Rejected", ref, reason: e.reason, mail }
    throw e
  }
}

/** A source's mapping: its defaults with the tenant's overrides (an empty string removes a default). */
export const mergeMapping = (defaults: AttributeMappingSpec, overrides: AttributeMappingSpec | undefined): AttributeMappingSpec => {
  const merged: Record<string, string> = { ...defaults }
  for (const [target, source] of Object.entries(overrides ?? {})) {
    if (source === "") delete merged[target]
    else merged[target] = source
  }
  return merged
}
