import { Effect, ParseResult, Schema } from "effect"
import { parseCidr } from "./Cidr.js"
import { exchangeOnlineOverlap, Microsoft365TenantGuid, OnMicrosoftDomain } from "./Microsoft365.js"
import { DirectoryUser } from "./Directory.js"
import { isDirectoryAddress, proxyAddressOf } from "./MailAddress.js"
import { TenantFileInvalid } from "./Errors.js"
import { Rule, SignatureSettings } from "./Rule.js"
import { Template, type TemplateRemovals } from "./Template.js"
import { Domain, Downstream, TenantId } from "./Tenant.js"
import { TenantAccount } from "./TenantAccount.js"
import { TraceSettings } from "./Trace.js"

/**
 * The documented JSON file a tenant is provisioned from (`imprint tenant
 * import`) and exported to. Connectors are written with a `type` field; an
 * auth connector carries either a plaintext `password` (hashed on import) or
 * a `passwordHash` (what export writes). Unknown keys are errors, so a typo
 * such as "conectors" is reported instead of silently ignored.
 *
 * ```json
 * { "id": "acme", "name": "Acme", "domains": ["acme.example"],
 *   "connectors": [{ "type": "auth", "username": "acme-relay", "password": "…" },
 *                  { "type": "cidr", "cidrs": ["192.0.2.0/24", "2001:db8::/32"] },
 *                  { "type": "microsoft365", "tenantId": "<GUID>", "domain": "acme.onmicrosoft.com" }],
 *   "downstream": { "host": "10.0.0.5", "port": 25 },
 *   "templates": [], "rules": [], "directory": [], "settings": {} }
 * ```
 */

const SCRYPT_FORMAT = /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/

const authConnectorFields = Schema.Struct({
  type: Schema.Literal("auth"),
  username: Schema.String.pipe(Schema.minLength(1)),
  password: Schema.optional(Schema.String.pipe(Schema.minLength(1))),
  passwordHash: Schema.optional(Schema.String.pipe(Schema.pattern(SCRYPT_FORMAT, { message: () => 'a hash like "scrypt$N$r$p$salt$hash"' })))
})

export const FileAuthConnector = authConnectorFields.pipe(
  Schema.filter(
    (c) =>
      (c.password === undefined) !== (c.passwordHash === undefined) || {
        path: ["password"],
        message: "an auth connector needs exactly one of password or passwordHash"
      }
  )
)
export type FileAuthConnector = typeof FileAuthConnector.Type

/**
 * The admin API's form: neither password nor hash means "keep the stored
 * password of this username, or generate one" (src/admin/tenants/ConnectorCredentials.ts).
 */
export const ApiAuthConnector = authConnectorFields.pipe(
  Schema.filter(
    (c) =>
      c.password === undefined ||
      c.passwordHash === undefined || {
        path: ["password"],
        message: "an auth connector takes password or passwordHash, not both (or neither, to have one generated)"
      }
  )
)

export const FileCertConnector = Schema.Struct({
  type: Schema.Literal("certificate"),
  fingerprint256: Schema.String.pipe(
    Schema.pattern(/^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/, { message: () => "a SHA-256 fingerprint: 64 hex digits, colons optional" })
  )
})

export const Cidr = Schema.String.pipe(Schema.filter((s) => parseCidr(s) !== undefined || `"${s}" is not a CIDR such as 192.0.2.0/24 or 2001:db8::/32`))

export const FileCidrConnector = Schema.Struct({
  type: Schema.Literal("cidr"),
  cidrs: Schema.Array(Cidr).pipe(Schema.minItems(1))
})

/** The tenant's Microsoft 365 organisation: its tenant id (a GUID) and its initial `<name>.onmicrosoft.com` domain. */
export const FileMicrosoft365Connector = Schema.Struct({
  type: Schema.Literal("microsoft365"),
  tenantId: Microsoft365TenantGuid,
  domain: OnMicrosoftDomain
})

export const FileConnector = Schema.Union(FileAuthConnector, FileCertConnector, FileCidrConnector, FileMicrosoft365Connector)
export type FileConnector = typeof FileConnector.Type
export const ApiConnector = Schema.Union(ApiAuthConnector, FileCertConnector, FileCidrConnector, FileMicrosoft365Connector)

/**
 * A cidr connector must not hold Exchange Online's shared addresses: every
 * Microsoft 365 customer sends from them, so any of them could relay as this
 * tenant. The `microsoft365` connector proves the sending organisation per message.
 */
const exchangeOnlineCidrs = (connectors: ReadonlyArray<FileConnector>): Array<Schema.FilterIssue> =>
  connectors.flatMap((c, i) =>
    c.type !== "cidr"
      ? []
      : c.cidrs.flatMap((text, j): Array<Schema.FilterIssue> => {
          const cidr = parseCidr(text)
          const range = cidr === undefined ? undefined : exchangeOnlineOverlap(cidr)
          return range === undefined
            ? []
            : [
                {
                  path: ["connectors", i, "cidrs", j],
                  message:
                    `${text} overlaps Exchange Online's published range ${range}, which every Microsoft 365 customer sends from; ` +
                    `bind Microsoft 365 with a "microsoft365" connector (its tenant id and onmicrosoft.com domain) instead`
                }
              ]
        })
  )

const duplicates = <A>(items: ReadonlyArray<A>, key: (a: A) => string, field: string, what: string): Array<Schema.FilterIssue> => {
  const seen = new Set<string>()
  const issues: Array<Schema.FilterIssue> = []
  items.forEach((item, i) => {
    const k = key(item)
    if (seen.has(k)) issues.push({ path: [field, i], message: `duplicate ${what} "${k}"` })
    seen.add(k)
  })
  return issues
}

const tenantFileWith = <C extends typeof FileConnector | typeof ApiConnector>(connector: C) =>
  Schema.Struct({
    id: TenantId,
    name: Schema.String,
    domains: Schema.Array(Domain).pipe(Schema.minItems(1)),
    connectors: Schema.Array(connector),
    downstream: Schema.optional(Downstream),
    suspended: Schema.optional(Schema.Boolean),
    account: Schema.optional(TenantAccount),
    templates: Schema.optional(Schema.Array(Template)),
    rules: Schema.optional(Schema.Array(Rule)),
    directory: Schema.optional(Schema.Array(DirectoryUser)),
    settings: Schema.optional(SignatureSettings),
    trace: Schema.optional(TraceSettings)
  }).pipe(
    Schema.filter((file) => {
      const templates = file.templates ?? []
      const templateIds = new Set(templates.map((t) => t.id))
      const auth = file.connectors.flatMap((c, i) => (c.type === "auth" ? [{ username: c.username, i }] : []))
      const microsoft365 = file.connectors.flatMap((c) => (c.type === "microsoft365" ? [{ tenantId: c.tenantId, domain: c.domain }] : []))
      return [
        ...duplicates(file.domains, (d) => d.toLowerCase(), "domains", "domain"),
        ...duplicates(auth, (a) => a.username, "connectors", "auth username"),
        ...duplicates(microsoft365, (c) => c.tenantId.toLowerCase(), "connectors", "Microsoft 365 tenant id"),
        ...duplicates(microsoft365, (c) => c.domain.toLowerCase(), "connectors", "onmicrosoft.com domain"),
        ...exchangeOnlineCidrs(file.connectors),
        ...duplicates(templates, (t) => t.id, "templates", "template id"),
        ...duplicates(file.rules ?? [], (r) => r.id, "rules", "rule id"),
        ...duplicates(file.directory ?? [], (u) => u.mail.toLowerCase(), "directory", "mail"),
        ...addressProblems(file.directory ?? []),
        ...(file.rules ?? []).flatMap((r, i): Array<Schema.FilterIssue> =>
          templateIds.has(r.templateId) ? [] : [{ path: ["rules", i, "templateId"], message: `no template "${r.templateId}" in this file` }]
        )
      ]
    })
  )

/** The directory's addresses by the rule every directory write follows (MailAddress.ts). */
function addressProblems(directory: ReadonlyArray<DirectoryUser>): Array<Schema.FilterIssue> {
  return directory.flatMap((u, i): Array<Schema.FilterIssue> => [
    ...(isDirectoryAddress(u.mail)
      ? []
      : [{ path: ["directory", i, "mail"], message: "not a valid address (letters, digits and . _ + - ' … @ a dotted domain)" }]),
    ...u.proxyAddresses.flatMap((entry, j): Array<Schema.FilterIssue> => {
      const address = proxyAddressOf(entry)
      return address === undefined || isDirectoryAddress(address) ? [] : [{ path: ["directory", i, "proxyAddresses", j], message: "not a valid address" }]
    })
  ])
}

export const TenantFile = tenantFileWith(FileConnector)
/** The admin API's create/update body: as the file, but an auth connector may leave out its password. */
export const TenantPayload = tenantFileWith(ApiConnector)
export type TenantFile = typeof TenantFile.Type
export type TenantFileJson = typeof TenantFile.Encoded

const PARSE_OPTIONS = { errors: "all", onExcessProperty: "error" } as const

/** `connectors[0].password` */
export const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.map((k, i) => (typeof k === "number" ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join("") || "(file)"

/**
 * One line per problem, each starting with the key path. (TreeFormatter's
 * tree repeats the whole schema at every level, which buries the key.)
 */
export const formatFileError = (error: ParseResult.ParseError): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const extends_ = (longer: ReadonlyArray<PropertyKey>, shorter: ReadonlyArray<PropertyKey>) =>
    longer.length > shorter.length && shorter.every((k, i) => longer[i] === k)
  return (
    issues
      // an optional field's "or undefined" alternative is noise (and would print the whole value) when the real issue is deeper
      .filter((issue) => !(issue.message.startsWith("Expected undefined") && issues.some((o) => extends_(o.path, issue.path))))
      .map((issue) => `${formatPath(issue.path)}: ${truncate(issue.message)}`)
      .join("\n")
  )
}

const MAX_ISSUE_CHARS = 300
const truncate = (s: string) => (s.length > MAX_ISSUE_CHARS ? `${s.slice(0, MAX_ISSUE_CHARS)}…` : s)

/** Decodes a parsed JSON value; the error message names every wrong key. */
export const decodeTenantFile = (input: unknown): Effect.Effect<TenantFile, TenantFileInvalid> =>
  Schema.decodeUnknown(TenantFile, PARSE_OPTIONS)(input).pipe(Effect.mapError((e) => new TenantFileInvalid({ message: formatFileError(e) })))

/** The JSON-ready form (what `imprint tenant export` prints). */
export const encodeTenantFile = (file: TenantFile): Effect.Effect<TenantFileJson> => Schema.encode(TenantFile)(file).pipe(Effect.orDie)

/**
 * A tenant file whose templates were sanitized and compiled and whose rules
 * were checked against them (signature/TenantContent.checkTenantFile): what the
 * tenant store imports. `file.templates` are the sanitized templates.
 */
export interface CheckedTenantFile {
  readonly file: TenantFile
  /** what the sanitizer took out of each template (only templates that lost something) */
  readonly removed: ReadonlyArray<TemplateRemovals>
}
