import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import { TenantNotFound } from "../../domain/Errors.js"
import { Forbidden, StoreFailure } from "../http/Errors.js"
import { AdminAuth } from "../http/Principal.js"
import { SyncStatus } from "../../domain/SyncSettings.js"
import { SyncNotConfigured, SourcesInvalid } from "./Errors.js"

export * from "./Errors.js"

/**
 * Directory sync in the admin API: the status (with progress while a pass
 * runs), "sync now", and the sources. Secrets are write-only: answers say
 * "(set)", and an update that leaves a secret out (or sends "(set)") keeps
 * the stored one of the source with the same name. Schema and platform only.
 */

const Mapping = Schema.Record({ key: Schema.String, value: Schema.String })
/** The status the API answers is the one the sync keeps (src/domain/SyncSettings.ts). */
export const SyncStatusView = SyncStatus

/** "(set)" when a secret is stored; absent when none is */
const SecretView = Schema.Literal("(set)")

export const GraphSourceView = Schema.Struct({
  type: Schema.Literal("graph"),
  name: Schema.String,
  tokenUrl: Schema.String,
  graphBaseUrl: Schema.String,
  clientId: Schema.String,
  clientSecret: SecretView,
  groupFilter: Schema.optional(Schema.String),
  includeGroups: Schema.Boolean,
  caCertPem: Schema.optional(Schema.String),
  mapping: Schema.optional(Mapping)
})
export const LdapSourceView = Schema.Struct({
  type: Schema.Literal("ldap"),
  name: Schema.String,
  url: Schema.String,
  bindDn: Schema.String,
  password: SecretView,
  baseDn: Schema.String,
  filter: Schema.optional(Schema.String),
  startTls: Schema.optional(Schema.Boolean),
  caCert: Schema.optional(Schema.String),
  rejectUnauthorized: Schema.optional(Schema.Boolean),
  pageSize: Schema.optional(Schema.Int),
  mapping: Schema.optional(Mapping),
  groupNames: Schema.optional(Schema.Literal("dn", "cn"))
})
export const FileSourceView = Schema.Struct({ type: Schema.Literal("file"), name: Schema.String, mapping: Schema.optional(Mapping) })
export const SourceView = Schema.Union(GraphSourceView, LdapSourceView, FileSourceView)

export class SourcesView extends Schema.Class<SourcesView>("SourcesView")({
  sources: Schema.Array(SourceView),
  /** the tenant's own interval, if set */
  intervalSeconds: Schema.optional(Schema.Int),
  /** what the scheduler uses: the tenant's interval or the server's default */
  effectiveIntervalSeconds: Schema.Int
}) {}

const STRICT = { parseOptions: { onExcessProperty: "error", errors: "all" } } as const

/** An update's source: as the view, with the secret in plaintext, or left out to keep the stored one. */
export const SourceInput = Schema.Union(
  Schema.Struct({
    ...GraphSourceView.fields,
    clientSecret: Schema.optional(Schema.String),
    graphBaseUrl: Schema.optional(Schema.String),
    includeGroups: Schema.optional(Schema.Boolean)
  }),
  Schema.Struct({ ...LdapSourceView.fields, password: Schema.optional(Schema.String) }),
  FileSourceView
)
export type SourceInput = typeof SourceInput.Type

export const SourcesUpdate = Schema.Struct({
  sources: Schema.Array(SourceInput),
  intervalSeconds: Schema.optional(Schema.Int)
}).annotations({ ...STRICT, identifier: "SourcesUpdate" })
export type SourcesUpdate = typeof SourcesUpdate.Type

const tenantId = HttpApiSchema.param("tenantId", Schema.String)

export class SyncGroup extends HttpApiGroup.make("sync")
  .add(HttpApiEndpoint.get("status")`/tenants/${tenantId}/directory/sync`.addSuccess(SyncStatusView))
  .add(HttpApiEndpoint.post("syncNow")`/tenants/${tenantId}/directory/sync`.addSuccess(SyncStatusView, { status: 202 }).addError(SyncNotConfigured))
  .add(HttpApiEndpoint.get("getSources")`/tenants/${tenantId}/directory/sources`.addSuccess(SourcesView))
  .add(HttpApiEndpoint.put("putSources")`/tenants/${tenantId}/directory/sources`.setPayload(SourcesUpdate).addSuccess(SourcesView).addError(SourcesInvalid))
  .addError(TenantNotFound, { status: 404 })
  .addError(StoreFailure)
  .addError(Forbidden)
  .middleware(AdminAuth)
  .annotate(OpenApi.Description, "Directory sync: status and progress (every member), sync now and sources (owner, admin). Credentials are write-only.") {}
