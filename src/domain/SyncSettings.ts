import { Schema } from "effect"

/**
 * A tenant's directory sync configuration and status, as stored (secrets
 * encrypted by SyncRepo) and as the admin API shows them (secrets replaced
 * by "(set)"). Sources are named, unique per tenant: the name keys a source's
 * cursor and lets an update keep a secret it does not repeat.
 */

export const DEFAULT_SYNC_INTERVAL_SECONDS = 86_400
/** a floor so a typo cannot hammer a directory every second */
export const MIN_SYNC_INTERVAL_SECONDS = 300
export const GRAPH_DEFAULT_BASE_URL = "https://graph.microsoft.com/v1.0"
/** what an answer shows instead of a secret that is set */
export const SECRET_SET = "(set)"

const SourceName = Schema.String.pipe(
  Schema.pattern(/^[a-z0-9][a-z0-9._-]{0,62}$/, { message: () => "a source name is 1-63 characters: a-z, 0-9, '.', '_', '-'" })
)
const HttpsUrl = Schema.String.pipe(Schema.pattern(/^https:\/\/[^\s]+$/, { message: () => "must be an https:// URL" }))
const LdapUrl = Schema.String.pipe(Schema.pattern(/^ldaps?:\/\/[^\s]+$/, { message: () => "must be an ldap:// or ldaps:// URL" }))
/** DirectoryUser attribute (or custom.<name>) → source attribute; "" removes a default */
export const MappingOverrides = Schema.Record({ key: Schema.String, value: Schema.String })

/** Microsoft Graph (Entra ID) with OAuth 2.0 client credentials. */
export class GraphSourceSettings extends Schema.TaggedClass<GraphSourceSettings>()("graph", {
  name: SourceName,
  /** e.g. https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token */
  tokenUrl: HttpsUrl,
  graphBaseUrl: Schema.optionalWith(HttpsUrl, { default: () => GRAPH_DEFAULT_BASE_URL }),
  clientId: Schema.String.pipe(Schema.minLength(1)),
  clientSecret: Schema.String,
  /** only members (transitive) of this group id are synced */
  groupFilter: Schema.optional(Schema.String.pipe(Schema.minLength(1))),
  /** read each user's groups (transitiveMemberOf) into memberOf, for rules */
  includeGroups: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /** PEM of a CA to trust besides the system's (a TLS-inspecting proxy, tests) */
  caCertPem: Schema.optional(Schema.String),
  mapping: Schema.optional(MappingOverrides),
  /** read each user's photo (/users/{id}/photo, then $value only when its mediaEtag changed) */
  photos: Schema.optionalWith(Schema.Boolean, { default: () => false })
}) {}

/**
 * LDAP / Active Directory: the fields of LdapSource's LdapSourceConfig (which
 * validates them further when the source is made), plus the name.
 */
export class LdapSourceSettings extends Schema.TaggedClass<LdapSourceSettings>()("ldap", {
  name: SourceName,
  url: LdapUrl,
  bindDn: Schema.String,
  password: Schema.String,
  baseDn: Schema.String,
  filter: Schema.optional(Schema.String),
  startTls: Schema.optional(Schema.Boolean),
  /** PEM CA certificate(s) to trust for the server's certificate */
  caCert: Schema.optional(Schema.String),
  rejectUnauthorized: Schema.optional(Schema.Boolean),
  pageSize: Schema.optional(Schema.Int.pipe(Schema.between(1, 10_000))),
  mapping: Schema.optional(MappingOverrides),
  /** memberOf as group DNs, or each group's CN */
  groupNames: Schema.optional(Schema.Literal("dn", "cn")),
  /** read each user's photo from thumbnailPhoto, else jpegPhoto (re-encoded only when its bytes changed) */
  photos: Schema.optional(Schema.Boolean)
}) {}

/** A CSV/JSON file imported through the admin API: listed for completeness, never scheduled. */
export class FileSourceSettings extends Schema.TaggedClass<FileSourceSettings>()("file", {
  name: SourceName,
  mapping: Schema.optional(MappingOverrides)
}) {}

export const SourceSettings = Schema.Union(GraphSourceSettings, LdapSourceSettings, FileSourceSettings)
export type SourceSettings = typeof SourceSettings.Type

export class TenantSyncSettings extends Schema.Class<TenantSyncSettings>("TenantSyncSettings")({
  sources: Schema.Array(SourceSettings),
  /** absent: the server's sync.defaultIntervalSeconds */
  intervalSeconds: Schema.optional(Schema.Int.pipe(Schema.greaterThanOrEqualTo(MIN_SYNC_INTERVAL_SECONDS)))
}) {}

/** the secret field of a source, if it has one */
export const secretField = (source: SourceSettings): "clientSecret" | "password" | undefined =>
  source._tag === "graph" ? "clientSecret" : source._tag === "ldap" ? "password" : undefined

/** Sources the scheduler runs (files arrive through the admin API's import instead). */
export const isScheduled = (source: SourceSettings): source is GraphSourceSettings | LdapSourceSettings => source._tag !== "file"

// ---- status -----------------------------------------------------------------------

export const SyncCounts = Schema.Struct({
  seen: Schema.Int,
  upserted: Schema.Int,
  removed: Schema.Int,
  rejected: Schema.Int
})
export type SyncCounts = typeof SyncCounts.Type
export const zeroCounts: SyncCounts = { seen: 0, upserted: 0, removed: 0, rejected: 0 }

export class SyncStatus extends Schema.Class<SyncStatus>("SyncStatus")({
  state: Schema.Literal("idle", "running", "failed"),
  /** "full" or "delta" when every source ran that way, "mixed" otherwise; absent before the first pass */
  mode: Schema.optional(Schema.Literal("full", "delta", "mixed")),
  /** ISO times */
  lastStartedAt: Schema.optional(Schema.String),
  lastFinishedAt: Schema.optional(Schema.String),
  lastSuccessAt: Schema.optional(Schema.String),
  lastError: Schema.optional(Schema.String),
  /** the last finished pass, or the running pass so far */
  counts: SyncCounts,
  /** the source the running pass is reading */
  currentSource: Schema.optional(Schema.String),
  /** when the scheduler runs next (ISO), if scheduled in this process */
  nextRunAt: Schema.optional(Schema.String)
}) {}

export const initialStatus = (): SyncStatus => SyncStatus.make({ state: "idle", counts: zeroCounts })
