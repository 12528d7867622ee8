import { Effect, Option, Schema, Stream } from "effect"
import { Client, FilterParser, ResultCodeError } from "ldapts"
import type * as tls from "node:tls"
import { isIP } from "node:net"
import { LDAP_DEFAULT_MAPPING, mapRecord, mergeMapping } from "./AttributeMapping.js"
import { createHash } from "node:crypto"
import { type DirectorySource, SourceError, type SourceChange, type SourcePass, type SourcePhoto } from "./DirectorySource.js"
import { baseAttribute, entryRecord, type LdapEntry } from "./LdapEntry.js"

/**
 * LDAP / on-premises Active Directory as a directory source (ldapts): bind
 * with a service account over ldaps:// or StartTLS, one paged subtree search
 * per pass, each entry mapped by the shared attribute mapping. Passes are
 * always full: a cheap delta (uSNChanged, DirSync) needs server-specific
 * state and is not built. Pages are pulled one at a time as the consumer
 * asks, so a pass holds one page in memory, not the directory.
 */

/** where directories keep a user's photo, in the order they are tried */
export const LDAP_PHOTO_ATTRIBUTES = ["thumbnailPhoto", "jpegPhoto"] as const
export const LDAP_DEFAULT_FILTER = "(&(objectClass=person)(mail=*))"
/** Active Directory's MaxPageSize is 1000; half of it keeps each response small */
export const LDAP_DEFAULT_PAGE_SIZE = 500
export const LDAP_MAX_PAGE_SIZE = 10_000
/** TCP (and TLS) connect */
export const LDAP_CONNECT_TIMEOUT_MS = 10_000
/** each LDAP operation: StartTLS, bind, one page of the search */
export const LDAP_OPERATION_TIMEOUT_MS = 60_000
/** a server's diagnostic message is quoted in errors up to this length */
const MAX_DIAGNOSTIC = 200

const NonEmpty = Schema.String.pipe(Schema.trimmed(), Schema.nonEmptyString())

// ldapts forgives a missing ")" (and reads something else than was meant); in RFC 4515 a literal
// parenthesis in a value is escaped (\28, \29), so every raw one is structure and must balance
const balanced = (filter: string): boolean => {
  let depth = 0
  for (let i = 0; i < filter.length; i++) {
    const c = filter[i]
    if (depth === 0 && i > 0) return false // something after the outermost ")"
    if (c === "(") depth++
    else if (c === ")") depth--
  }
  return depth === 0
}

const validFilter = (filter: string): boolean => {
  if (!filter.startsWith("(") || !balanced(filter)) return false
  try {
    FilterParser.parseString(filter)
    return true
  } catch {
    return false
  }
}

/** A tenant's LDAP source, as the sync configuration stores it. `password` is the bind password (stored encrypted by the core). */
export const LdapSourceConfig = Schema.Struct({
  url: Schema.String.pipe(
    Schema.pattern(/^ldaps?:\/\/[^\s/?#@]+\/?$/i, {
      message: () => "url must be ldap://host[:port] or ldaps://host[:port], without a path or credentials"
    })
  ),
  bindDn: NonEmpty,
  // an empty password would be an "unauthenticated bind", which servers accept as anonymous (RFC 4513 5.1.2)
  password: Schema.String.pipe(Schema.nonEmptyString({ message: () => "password must not be empty" })),
  baseDn: NonEmpty,
  filter: Schema.optional(
    Schema.String.pipe(
      Schema.filter(validFilter, {
        message: () => "filter must be an RFC 4515 LDAP filter such as (&(objectClass=person)(mail=*))"
      })
    )
  ),
  startTls: Schema.optional(Schema.Boolean),
  /** PEM CA certificate(s) to trust for the server's certificate */
  caCert: Schema.optional(
    Schema.String.pipe(
      Schema.filter((s) => s.includes("-----BEGIN CERTIFICATE-----"), {
        message: () => "caCert must be a PEM certificate (-----BEGIN CERTIFICATE-----)"
      })
    )
  ),
  /** default true; false accepts any certificate (test labs only) */
  rejectUnauthorized: Schema.optional(Schema.Boolean),
  pageSize: Schema.optional(Schema.Int.pipe(Schema.between(1, LDAP_MAX_PAGE_SIZE))),
  /** overrides of LDAP_DEFAULT_MAPPING: DirectoryUser attribute → LDAP attribute ("" removes one) */
  mapping: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  /** memberOf as group DNs, or as each group's CN (default), which is what rules name */
  groupNames: Schema.optional(Schema.Literal("dn", "cn")),
  /** read each user's photo from thumbnailPhoto (AD), else jpegPhoto (inetOrgPerson) */
  photos: Schema.optional(Schema.Boolean)
}).pipe(Schema.filter((c) => !(c.startTls === true && /^ldaps:/i.test(c.url)) || "startTls is for ldap:// URLs; ldaps:// is TLS from the first byte"))
export type LdapSourceConfig = typeof LdapSourceConfig.Type

export interface LdapTimeouts {
  readonly connectMs: number
  readonly operationMs: number
}
const DEFAULT_TIMEOUTS: LdapTimeouts = { connectMs: LDAP_CONNECT_TIMEOUT_MS, operationMs: LDAP_OPERATION_TIMEOUT_MS }

// Node's certificate verification failures: configuration must change (caCert), retrying will not help
const CERTIFICATE_ERRORS = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "CERT_UNTRUSTED"
])
/** LDAP result codes a later attempt may get past: timeLimitExceeded, busy, unavailable, other */
const RETRYABLE_RESULTS = new Set([3, 51, 52, 80])

const diagnostic = (e: ResultCodeError): string => {
  const m = e.message.replace(/\s+/g, " ").trim()
  return m === "" ? "" : `: ${m.slice(0, MAX_DIAGNOSTIC)}`
}

/** Builds the SourceError for a failure in `step`; the message names the DN and host, never the password. */
const classify =
  (name: string, config: LdapSourceConfig, step: "StartTLS" | "bind" | "search") =>
  (e: unknown): SourceError => {
    const fail = (message: string, retryable: boolean) => new SourceError({ source: name, message, retryable })
    if (e instanceof ResultCodeError) {
      const code = `LDAP ${e.code}${diagnostic(e)}`
      switch (e.code) {
        case 49:
          return fail(`bind as "${config.bindDn}" was refused: invalid credentials (${code}); check the bind DN and password`, false)
        case 32:
          return fail(`the base DN "${config.baseDn}" does not exist on the server (${code})`, false)
        case 34:
          return fail(`${step === "bind" ? `the bind DN "${config.bindDn}"` : `the base DN "${config.baseDn}"`} is not a valid DN (${code})`, false)
        case 50:
          return fail(`"${config.bindDn}" may not read "${config.baseDn}" (${code}); grant it read access`, false)
        case 8:
        case 13:
          return fail(`the server requires TLS for ${step} (${code}); use ldaps:// or startTls`, false)
        case 4:
        case 11:
          return fail(`the server's size limit stopped the search (${code}); it may not support paged results, or pageSize is above its limit`, false)
        default:
          return fail(`${step} failed (${code})`, RETRYABLE_RESULTS.has(e.code))
      }
    }
    const err = e as { code?: unknown; message?: unknown }
    const message = typeof err?.message === "string" ? err.message.replace(/\s+/g, " ").slice(0, MAX_DIAGNOSTIC) : String(e)
    if (typeof err?.code === "string" && CERTIFICATE_ERRORS.has(err.code)) {
      return fail(`the server's certificate was not accepted during ${step} (${err.code}: ${message}); give its CA as caCert`, false)
    }
    if (/invalid LDAP URL/.test(message)) return fail(`url is not an LDAP URL`, false)
    // refused, reset, timed out, closed mid-pass: the server or the network, try again later
    return fail(`${step} against ${name.slice("ldap:".length)} failed: ${message}`, true)
  }

const hostOf = (url: string): { readonly host: string; readonly display: string } => {
  const authority = url.replace(/^ldaps?:\/\//i, "").replace(/\/$/, "")
  const bracketed = /^\[([^\]]+)\]/.exec(authority)
  return { host: bracketed ? bracketed[1] : authority.replace(/:\d+$/, ""), display: authority }
}

/**
 * The entry's photo: the first value of the first photo attribute it has
 * (names matched without case or options, `thumbnailPhoto;binary`). The tag
 * is the bytes' SHA-256, so an unchanged photo is not re-encoded.
 */
const photoOf = (entry: LdapEntry, names: ReadonlyArray<string>): SourcePhoto | undefined => {
  for (const name of names) {
    const wanted = name.toLowerCase()
    for (const type of Object.keys(entry)) {
      if (type.split(";", 1)[0]!.toLowerCase() !== wanted) continue
      const raw = entry[type] as unknown
      const first = Array.isArray(raw) ? raw[0] : raw
      if (!Buffer.isBuffer(first) || first.length === 0) continue
      return { tag: `sha256:${createHash("sha256").update(first).digest("hex")}`, bytes: Effect.succeed(first) }
    }
  }
  return undefined
}

/** A DirectorySource reading one LDAP directory. `timeouts` exist for tests; production uses the named defaults. */
export const makeLdapSource = (config: LdapSourceConfig, timeouts: LdapTimeouts = DEFAULT_TIMEOUTS): DirectorySource => {
  const mapping = mergeMapping(LDAP_DEFAULT_MAPPING, config.mapping)
  const attributes = [...new Set(Object.values(mapping).map(baseAttribute))]
  const groupAttribute = mapping.memberOf === undefined ? undefined : baseAttribute(mapping.memberOf)
  const groupNames = config.groupNames ?? "cn"
  const { host, display } = hostOf(config.url)
  const name = `ldap:${display}`
  const tlsOptions: tls.ConnectionOptions = {
    rejectUnauthorized: config.rejectUnauthorized ?? true,
    ...(config.caCert === undefined ? {} : { ca: [config.caCert] }),
    // StartTLS upgrades an existing socket: without host, Node would check the certificate against "localhost"
    host,
    ...(isIP(host) === 0 ? { servername: host } : {}),
    minVersion: "TLSv1.2"
  }
  const secure = /^ldaps:/i.test(config.url)
  const photoAttributes: ReadonlyArray<string> = config.photos === true ? LDAP_PHOTO_ATTRIBUTES : []
  const toChange = (entry: LdapEntry): SourceChange => {
    const read = entryRecord(entry, attributes, groupAttribute, groupNames)
    if (read._tag === "Binary")
      return { _tag: "Rejected", ref: entry.dn, reason: `${read.attribute} holds binary data, not text; map a text attribute instead` }
    const change = mapRecord(read.record, mapping, entry.dn)
    const photo = change._tag === "Upsert" && photoAttributes.length > 0 ? photoOf(entry, photoAttributes) : undefined
    return photo === undefined || change._tag !== "Upsert" ? change : { ...change, photo }
  }

  const connect = Effect.acquireRelease(
    Effect.sync(
      () =>
        new Client({
          url: config.url,
          connectTimeout: timeouts.connectMs,
          timeout: timeouts.operationMs,
          // ldapts speaks TLS from the first byte whenever tlsOptions are given: only for ldaps://
          ...(secure ? { tlsOptions } : {})
        })
    ),
    (client) => Effect.promise(() => client.unbind().catch(() => undefined))
  )

  const pass = Effect.fn("LdapSource.pass")(function* (_cursor: Option.Option<string>) {
    const client = yield* connect
    if (config.startTls === true) {
      yield* Effect.tryPromise({ try: () => client.startTLS({ ...tlsOptions }), catch: classify(name, config, "StartTLS") })
    }
    yield* Effect.tryPromise({ try: () => client.bind(config.bindDn, config.password), catch: classify(name, config, "bind") })
    const pages = client.searchPaginated(config.baseDn, {
      scope: "sub",
      filter: config.filter ?? LDAP_DEFAULT_FILTER,
      attributes: [...attributes, ...photoAttributes],
      explicitBufferAttributes: [...photoAttributes],
      paged: { pageSize: config.pageSize ?? LDAP_DEFAULT_PAGE_SIZE }
    })
    // one page requested at a time, when the consumer pulls; referrals (AD's other partitions) are not followed
    const changes = Stream.fromAsyncIterable(pages, classify(name, config, "search")).pipe(
      Stream.mapConcat((page) => page.searchEntries.map((e) => toChange(e as LdapEntry)))
    )
    return { mode: "full", changes, nextCursor: Effect.succeed(Option.none()) } satisfies SourcePass
  })

  return { kind: "ldap", name, pass }
}
