import { Schema } from "effect"
import { ApiError } from "../http/ApiError.js"
import { TenantImportReport } from "./ImportReport.js"

/** Errors of the tenants endpoints (the domain's TenantNotFound, TenantFileInvalid and TenantConflict get their status in the contract). */

export class TenantAlreadyExists extends ApiError<TenantAlreadyExists>()("TenantAlreadyExists", 409, {
  tenantId: Schema.String,
  message: Schema.String
}) {}

/** An all-or-nothing import with a failing tenant: nothing was written; the report says which tenants and why. */
export class TenantImportRejected extends ApiError<TenantImportRejected>()("TenantImportRejected", 422, {
  message: Schema.String,
  report: TenantImportReport
}) {}
