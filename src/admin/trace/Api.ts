import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import { TenantNotFound } from "../../domain/Errors.js"
import { MAX_TRACE_PAGE } from "../../domain/Paging.js"
import { TraceDecision, TraceOutcome, TraceRecord } from "../../domain/Trace.js"
import { Forbidden, StoreFailure } from "../http/Errors.js"
import { AdminAuth } from "../http/Principal.js"
import { TraceQueryInvalid, TraceExportTooLarge, TraceNodesUnavailable } from "./Errors.js"

export * from "./Errors.js"

/**
 * The message trace (issue 19): what happened to each transaction, without
 * its content. Tenant routes for owners, admins and auditors of that tenant
 * (another tenant's id answers 404, as everywhere); `/trace` for operators,
 * across tenants. Newest first, paged by `cursor`; CSV and JSON export.
 */

/** an ISO 8601 time (`2026-12-06T10:00:00Z`) or epoch milliseconds */
const Moment = Schema.String.pipe(
  Schema.filter((s) => /^\d{1,15}$/.test(s) || !Number.isNaN(Date.parse(s)) || "an ISO 8601 time such as 2026-12-06T10:00:00Z, or epoch milliseconds")
)

const filterFields = {
  /** envelope sender, exact (any case) */
  sender: Schema.optional(Schema.String.pipe(Schema.maxLength(320))),
  /** envelope recipient, exact (any case); also finds hashed recipients */
  recipient: Schema.optional(Schema.String.pipe(Schema.maxLength(320))),
  /** with or without angle brackets */
  messageId: Schema.optional(Schema.String.pipe(Schema.maxLength(998))),
  from: Schema.optional(Moment),
  to: Schema.optional(Moment),
  outcome: Schema.optional(TraceOutcome),
  decision: Schema.optional(TraceDecision),
  /** why unstamped: sender-not-in-directory, signed, calendar, report, loop, failsafe-retry, already-signed, … */
  reason: Schema.optional(Schema.String.pipe(Schema.maxLength(100))),
  /** a rule id applied to at least one copy */
  rule: Schema.optional(Schema.String.pipe(Schema.maxLength(200))),
  /** the `next` of the previous page (or where an export starts); in a cluster it holds a place per node */
  cursor: Schema.optional(Schema.String.pipe(Schema.maxLength(8000)))
}

export const TraceFilter = Schema.Struct(filterFields)
export const TraceSearchParams = Schema.Struct({
  ...filterFields,
  limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, MAX_TRACE_PAGE)))
})
/** operators: every tenant, or one with `tenant` */
export const TraceAllSearchParams = Schema.Struct({ ...TraceSearchParams.fields, tenant: Schema.optional(Schema.String.pipe(Schema.maxLength(63))) })
export const TraceAllFilter = Schema.Struct({ ...filterFields, tenant: Schema.optional(Schema.String.pipe(Schema.maxLength(63))) })

/** In a cluster: one node asked for its part of a page. */
export const TraceNodeView = Schema.Struct({
  node: Schema.String,
  answered: Schema.Boolean,
  /** records this node looked at */
  scanned: Schema.optional(Schema.Int),
  /** why it did not answer (unreachable, timed out, …) */
  error: Schema.optional(Schema.String)
})

export class TracePageView extends Schema.Class<TracePageView>("TracePage")({
  records: Schema.Array(TraceRecord),
  /** pass as `cursor` for the next, older page; absent when the range is exhausted */
  next: Schema.optional(Schema.String),
  /** records looked at for this page (a page stops after 100,000 even when not full; `next` goes on) */
  scanned: Schema.Int,
  /** in a cluster: every node asked and whether it answered; absent on a single node */
  nodes: Schema.optional(Schema.Array(TraceNodeView)),
  /** in a cluster: true when a node did not answer, so its records are missing from this page */
  partial: Schema.optional(Schema.Boolean)
}) {}

export const TRACE_CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
const Csv = HttpApiSchema.Text({ contentType: TRACE_CSV_CONTENT_TYPE })

const tenantId = HttpApiSchema.param("tenantId", Schema.String)

export class TraceGroup extends HttpApiGroup.make("trace")
  .add(
    HttpApiEndpoint.get("search")`/tenants/${tenantId}/trace`
      .setUrlParams(TraceSearchParams)
      .addSuccess(TracePageView)
      .addError(TenantNotFound, { status: 404 })
  )
  .add(
    HttpApiEndpoint.get("exportCsv")`/tenants/${tenantId}/trace/export.csv`.setUrlParams(TraceFilter).addSuccess(Csv).addError(TenantNotFound, { status: 404 })
  )
  .add(
    HttpApiEndpoint.get("exportJson")`/tenants/${tenantId}/trace/export.json`
      .setUrlParams(TraceFilter)
      .addSuccess(Schema.Array(TraceRecord))
      .addError(TenantNotFound, { status: 404 })
  )
  .add(HttpApiEndpoint.get("searchAll", "/trace").setUrlParams(TraceAllSearchParams).addSuccess(TracePageView))
  .add(HttpApiEndpoint.get("exportAllCsv", "/trace/export.csv").setUrlParams(TraceAllFilter).addSuccess(Csv))
  .add(HttpApiEndpoint.get("exportAllJson", "/trace/export.json").setUrlParams(TraceAllFilter).addSuccess(Schema.Array(TraceRecord)))
  .addError(TraceQueryInvalid)
  .addError(TraceExportTooLarge)
  .addError(TraceNodesUnavailable)
  .addError(StoreFailure)
  .addError(Forbidden)
  .middleware(AdminAuth)
  .annotate(
    OpenApi.Description,
    "Message trace: one record per transaction with its copies, no content; tenant owners, admins and auditors for their tenant, operators for all (/trace)."
  ) {}
