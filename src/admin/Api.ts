import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { ClusterUnavailable, ConcurrentEdit, Forbidden, NotReady, PayloadTooLarge, StoreFailure, TenantAlreadyExists } from "./http/Errors.js"
import { AuditGroup } from "./audit/Api.js"
import { DirectoryGroup } from "./directory/Api.js"
import { ImagesGroup } from "./images/Api.js"
import { SyncGroup } from "./sync/Api.js"
import { AdminAuth } from "./http/Principal.js"
import { AuthGroup } from "./auth/Api.js"
import { ApiTokensGroup, UsersGroup } from "./accounts/Api.js"
import { PreviewGroupApi } from "./rules/PreviewApi.js"
import { RulesGroup } from "./rules/Api.js"
import { TemplateRemoval, TemplatesGroup } from "./templates/Api.js"
import { TraceGroup } from "./trace/Api.js"
import { TenantConflict, TenantFileInvalid, TenantNotFound } from "../domain/Errors.js"
import { TlsPolicy } from "../domain/Tenant.js"
import { TenantAccount } from "../domain/TenantAccount.js"
import { TraceSettings } from "../domain/Trace.js"
import { TenantPayload } from "../domain/TenantFile.js"

/**
 * The admin API contract: Schema and platform only, no handlers, so the typed
 * client, the server and the OpenAPI document all derive from this one file.
 * Handlers live in admin/handlers/, the server's parts in admin/AdminServer.ts, its Layers in src/AdminRoot.ts.
 *
 * Every group but ops runs behind AdminAuth (src/admin/Principal.ts), which
 * turns the bearer token into a Principal; handlers authorize from it.
 * Groups live here or in their own admin/*Api.ts file, composed in `Api`.
 */

export * from "./http/Errors.js"
export { AdminAuth, CurrentPrincipal, Operator, type Principal, TenantMember } from "./http/Principal.js"
export { Role } from "../domain/Role.js"

// ---- views ------------------------------------------------------------------------

/** A connector as the API shows it: credentials never leave the server, not even their hashes. */
export const ConnectorView = Schema.Union(
  Schema.Struct({ type: Schema.Literal("auth"), username: Schema.String }),
  Schema.Struct({ type: Schema.Literal("certificate"), fingerprint256: Schema.String }),
  Schema.Struct({ type: Schema.Literal("cidr"), cidrs: Schema.Array(Schema.String) }),
  /** the Microsoft 365 tenant id (GUID) and onmicrosoft.com domain each message must prove (README "Pointing Office 365 at Imprint") */
  Schema.Struct({ type: Schema.Literal("microsoft365"), tenantId: Schema.String, domain: Schema.String })
)
export type ConnectorView = typeof ConnectorView.Type

/** The downstream without its password. */
export const DownstreamView = Schema.Struct({
  host: Schema.String,
  port: Schema.Int,
  tls: TlsPolicy,
  rejectUnauthorized: Schema.Boolean,
  authUser: Schema.optional(Schema.String)
})

export class TenantView extends Schema.Class<TenantView>("TenantView")({
  id: Schema.String,
  name: Schema.String,
  domains: Schema.Array(Schema.String),
  connectors: Schema.Array(ConnectorView),
  downstream: Schema.optional(DownstreamView),
  suspended: Schema.Boolean,
  /** the customer's account data (src/domain/TenantAccount.ts), when set */
  account: Schema.optional(TenantAccount),
  /** message trace retention and recipient hashing, when set */
  trace: Schema.optional(TraceSettings),
  /** on single-tenant answers only: counting a large directory per tenant would make listing slow */
  counts: Schema.optional(Schema.Struct({ templates: Schema.Int, rules: Schema.Int, users: Schema.Int }))
}) {}

/** what the sanitizer took out of a template: the same schema the template endpoints answer */
export const SanitizerRemoval = TemplateRemoval

/** What a create or update wrote, with what the sanitizer took out of each template. */
export class TenantSaved extends Schema.Class<TenantSaved>("TenantSaved")({
  tenant: TenantView,
  created: Schema.Boolean,
  removed: Schema.Array(Schema.Struct({ templateId: Schema.String, removed: Schema.Array(SanitizerRemoval) })),
  /**
   * Passwords generated for auth connectors sent without one. Shown in this
   * answer only: the server keeps just their scrypt hashes.
   */
  credentials: Schema.optional(Schema.Array(Schema.Struct({ username: Schema.String, password: Schema.String })))
}) {}

// ---- payloads -----------------------------------------------------------------------

const STRICT = { parseOptions: { onExcessProperty: "error", errors: "all" } } as const

/**
 * A whole tenant, as the tenant file (src/domain/TenantFile.ts): auth
 * connectors take a plaintext `password` (hashed before it is stored), a
 * `passwordHash`, or neither: then the stored password of that username is
 * kept, or a new one is generated and returned once in `credentials`.
 * Unknown keys are errors, as in the file.
 */
export const TenantCreate = TenantPayload.annotations({ ...STRICT, identifier: "TenantCreate" })

/**
 * Fields to change; absent fields keep their stored value. Giving
 * `templates`, `rules` or `directory` replaces that whole list.
 */
export const TenantUpdate = Schema.partial(TenantPayload.from.omit("id")).annotations({ ...STRICT, identifier: "TenantUpdate" })
export type TenantUpdate = typeof TenantUpdate.Type

const tenantId = HttpApiSchema.param("tenantId", Schema.String)

// ---- batch import (issue 21) ---------------------------------------------------------

export const TenantImportMode = Schema.Literal("all-or-nothing", "per-tenant")

export const TenantImportQuery = Schema.Struct({
  /** all-or-nothing (default): every tenant valid, then all written in one transaction, else none. per-tenant: the valid ones are written. */
  mode: Schema.optional(TenantImportMode)
})

/** One entry of the batch, in the order sent; `source` is `tenants[i]`. */
export const TenantImportOutcome = Schema.Union(
  Schema.Struct({
    source: Schema.String,
    tenantId: Schema.String,
    /** not-written: valid, but another entry failed an all-or-nothing import */
    status: Schema.Literal("created", "updated", "not-written"),
    templates: Schema.Int,
    rules: Schema.Int,
    users: Schema.Int,
    removed: Schema.Array(Schema.Struct({ templateId: Schema.String, removed: Schema.Array(TemplateRemoval) }))
  }),
  Schema.Struct({
    source: Schema.String,
    tenantId: Schema.optional(Schema.String),
    status: Schema.Literal("failed"),
    error: Schema.Literal("TenantFileInvalid", "TenantConflict"),
    message: Schema.String
  })
)

export class TenantImportReport extends Schema.Class<TenantImportReport>("TenantImportReport")({
  mode: TenantImportMode,
  /** false: nothing was written */
  written: Schema.Boolean,
  created: Schema.Int,
  updated: Schema.Int,
  failed: Schema.Int,
  tenants: Schema.Array(TenantImportOutcome)
}) {}

/** An all-or-nothing import with a failing tenant: nothing was written; the report says which tenants and why. */
export class TenantImportRejected extends Schema.TaggedError<TenantImportRejected>()(
  "TenantImportRejected",
  { message: Schema.String, report: TenantImportReport },
  HttpApiSchema.annotations({ status: 422 })
) {}

// ---- groups -------------------------------------------------------------------------

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

export class OpsGroup extends HttpApiGroup.make("ops")
  .add(HttpApiEndpoint.get("healthz", "/healthz").addSuccess(Schema.Struct({
    /** degraded: a cluster node whose watch of the cluster is down; it relays mail with its last state */
    status: Schema.Literal("ok", "degraded"),
    config_stale_seconds: Schema.optional(Schema.Int),
    cluster_revision: Schema.optional(Schema.Int)
  })))
  .add(
    HttpApiEndpoint.get("readyz", "/readyz")
      .addSuccess(Schema.Struct({ status: Schema.Literal("ready"), tenants: Schema.Int }))
      .addError(NotReady)
  )
  .add(
    HttpApiEndpoint.get("openapi", "/openapi.json")
      .addSuccess(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
  )
  .annotate(OpenApi.Description, "Liveness, readiness and this API's OpenAPI document; no authentication.")
{}

export class MetricsGroup extends HttpApiGroup.make("metrics")
  .add(
    HttpApiEndpoint.get("metrics", "/metrics")
      .addSuccess(HttpApiSchema.Text({ contentType: PROMETHEUS_CONTENT_TYPE }))
  )
  .addError(Forbidden)
  .middleware(AdminAuth)
  .annotate(OpenApi.Description, "Prometheus text exposition of the relay's metrics; operator token required.")
{}

export class TenantsGroup extends HttpApiGroup.make("tenants")
  .add(HttpApiEndpoint.get("list", "/tenants").addSuccess(Schema.Array(TenantView)))
  .add(HttpApiEndpoint.get("get")`/tenants/${tenantId}`.addSuccess(TenantView).addError(TenantNotFound, { status: 404 }))
  .add(
    HttpApiEndpoint.post("create", "/tenants")
      .setPayload(TenantCreate)
      .addSuccess(TenantSaved, { status: 201 })
      .addError(TenantAlreadyExists)
      .addError(TenantFileInvalid, { status: 400 })
      .addError(TenantConflict, { status: 409 })
  )
  .add(
    HttpApiEndpoint.patch("update")`/tenants/${tenantId}`
      .setPayload(TenantUpdate)
      .addSuccess(TenantSaved)
      .addError(TenantNotFound, { status: 404 })
      .addError(TenantFileInvalid, { status: 400 })
      .addError(TenantConflict, { status: 409 })
  )
  .add(
    HttpApiEndpoint.post("import", "/tenants/import")
      .setUrlParams(TenantImportQuery)
      .setPayload(Schema.Array(Schema.Unknown))
      .addSuccess(TenantImportReport)
      .addError(TenantImportRejected)
  )
  .add(HttpApiEndpoint.post("suspend")`/tenants/${tenantId}/suspend`.addSuccess(TenantView).addError(TenantNotFound, { status: 404 }))
  .add(HttpApiEndpoint.post("resume")`/tenants/${tenantId}/resume`.addSuccess(TenantView).addError(TenantNotFound, { status: 404 }))
  .add(HttpApiEndpoint.del("delete")`/tenants/${tenantId}`.addSuccess(HttpApiSchema.NoContent).addError(TenantNotFound, { status: 404 }))
  .addError(StoreFailure)
  .addError(Forbidden)
  .middleware(AdminAuth)
  .annotate(OpenApi.Description, "Tenants: relay identity, connectors, downstream and signature content; operators only.")
{}

export class Api extends HttpApi.make("imprint-admin")
  .add(OpsGroup)
  .add(MetricsGroup)
  .add(TenantsGroup)
  .add(AuthGroup)
  .add(UsersGroup)
  .add(ApiTokensGroup)
  .add(TemplatesGroup)
  .add(RulesGroup)
  .add(PreviewGroupApi)
  .add(AuditGroup)
  .add(DirectoryGroup)
  .add(SyncGroup)
  // any endpoint: a body over its route's cap (src/admin/BodyLimits.ts)
  .addError(PayloadTooLarge)
  .add(TraceGroup)
  .add(ImagesGroup)
  // cluster mode: any write may lose a compare-and-set race (409) or find the cluster unreachable (503)
  .addError(ConcurrentEdit)
  .addError(ClusterUnavailable)
  .annotate(OpenApi.Title, "Imprint admin API")
{}

/** Where the OpenAPI document is served. */
export const OPENAPI_PATH = "/openapi.json"
