import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import { TenantConflict, TenantFileInvalid, TenantNotFound } from "../../domain/Errors.js"
import { TlsPolicy } from "../../domain/Tenant.js"
import { TenantAccount } from "../../domain/TenantAccount.js"
import { TenantPayload } from "../../domain/TenantFile.js"
import { TraceSettings } from "../../domain/Trace.js"
import { Forbidden, StoreFailure } from "../http/Errors.js"
import { AdminAuth } from "../http/Principal.js"
import { TemplateRemoval } from "../templates/Api.js"
import { TenantAlreadyExists, TenantImportRejected } from "./Errors.js"
import { TenantImportQuery, TenantImportReport } from "./ImportReport.js"

/** The tenants endpoints' contract: views, payloads, the batch import's report, the group. */

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

export * from "./Errors.js"
export * from "./ImportReport.js"

// ---- group -------------------------------------------------------------------------

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
  .annotate(OpenApi.Description, "Tenants: relay identity, connectors, downstream and signature content; operators only.") {}
