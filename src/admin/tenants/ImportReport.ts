import { Schema } from "effect"
import { TemplateRemoval } from "../templates/Api.js"

/** The batch import's query and report (POST /tenants/import); TenantImportRejected carries the report. */

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
