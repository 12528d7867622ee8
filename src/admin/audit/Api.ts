import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import { TenantNotFound } from "../../domain/Errors.js"
import { AuditEntry } from "../../domain/Audit.js"
import { MAX_AUDIT_PAGE } from "../../domain/Paging.js"
import { Forbidden, StoreFailure } from "../http/Errors.js"
import { AdminAuth } from "../http/Principal.js"

/**
 * GET /tenants/{tenantId}/audit: the tenant's audit log, newest first.
 * Owners, admins and auditors (AUDIT_ROLES); operators for any tenant, also
 * one that was deleted (its entries are kept).
 */

export class AuditPageView extends Schema.Class<AuditPageView>("AuditPage")({
  entries: Schema.Array(AuditEntry),
  /** pass as `before` to get the next, older page; absent on the last page */
  next: Schema.optional(Schema.String)
}) {}

export const AuditQuery = Schema.Struct({
  limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, MAX_AUDIT_PAGE))),
  before: Schema.optional(Schema.String.pipe(Schema.maxLength(100)))
})

const tenantId = HttpApiSchema.param("tenantId", Schema.String)

export class AuditGroup extends HttpApiGroup.make("audit")
  .add(HttpApiEndpoint.get("list")`/tenants/${tenantId}/audit`.setUrlParams(AuditQuery).addSuccess(AuditPageView).addError(TenantNotFound, { status: 404 }))
  .addError(StoreFailure)
  .addError(Forbidden)
  .middleware(AdminAuth)
  .annotate(OpenApi.Description, "The tenant's audit log: who changed what, when, with before/after identifiers; newest first, paged by `before`.") {}
