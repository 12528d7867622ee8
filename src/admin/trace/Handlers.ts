import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { Effect, Option, Schema } from "effect"
import { TenantNotFound } from "../../domain/Errors.js"
import { TenantId } from "../../domain/Tenant.js"
import type { StoreError } from "../../store/StoreError.js"
import { traceCsv } from "../../trace/TraceCsv.js"
import {
  type TraceCursorInvalid,
  type TraceExportTooLarge as ExportTooLarge,
  type TraceNodesMissing,
  type TraceQuery,
  TraceSearch
} from "../../trace/TraceSearch.js"
import { Api, StoreFailure } from "../Api.js"
import { requireOperator, requireTenantRole } from "../http/Principal.js"
import { AUDIT_ROLES } from "../../domain/Role.js"
import { TraceExportTooLarge, TraceNodesUnavailable, TracePageView, TraceQueryInvalid, type TraceAllFilter } from "./Api.js"

/**
 * The message trace's API: reads only (records are written by the relay).
 * A tenant route checks the caller first — another tenant's id is 404 — and
 * then only that the id is a tenant id: a deleted tenant's records stay
 * readable until its retention ends, as its audit log does.
 */

type Filter = typeof TraceAllFilter.Type & { readonly limit?: number | undefined }

const moment = (s: string | undefined): number | undefined => (s === undefined ? undefined : /^\d{1,15}$/.test(s) ? Number(s) : Date.parse(s))

const toQuery = (params: Filter, tenant: string | undefined): Effect.Effect<TraceQuery, TraceQueryInvalid> => {
  const from = moment(params.from)
  const to = moment(params.to)
  if (from !== undefined && to !== undefined && from > to) {
    return Effect.fail(new TraceQueryInvalid({ message: `from (${params.from}) is after to (${params.to})` }))
  }
  const { tenant: _, from: _f, to: _t, ...rest } = params
  return Effect.succeed({ ...rest, tenant, from, to })
}

const answer = <A>(effect: Effect.Effect<A, StoreError | TraceCursorInvalid | ExportTooLarge | TraceNodesMissing>) =>
  effect.pipe(
    Effect.catchTags({
      StoreError: (e) => Effect.logError("admin API: trace read failed", e).pipe(Effect.zipRight(Effect.fail(new StoreFailure({ message: e.message })))),
      TraceCursorInvalid: (e) =>
        Effect.fail(new TraceQueryInvalid({ message: `cursor "${e.cursor}" is not one this API gave out; pass the "next" of a page` })),
      TraceExportTooLarge: (e) =>
        Effect.fail(
          new TraceExportTooLarge({
            limit: e.limit,
            message: `more than ${e.limit} records match; narrow the time range (from, to) or add filters, or page with GET …/trace`
          })
        ),
      TraceNodesMissing: (e) =>
        Effect.fail(
          new TraceNodesUnavailable({
            nodes: e.nodes,
            message: `node(s) ${e.nodes.join(", ")} did not answer, so the export would miss their records; try again, or page with GET …/trace (pages say partial)`
          })
        )
    })
  )

/** The caller may read this tenant's trace (owner, admin, auditor; operators), and it is a tenant id. */
const tenantTrace = (tenantId: string) =>
  Effect.zipRight(
    requireTenantRole(tenantId, AUDIT_ROLES),
    Option.isSome(Schema.decodeUnknownOption(TenantId)(tenantId)) ? Effect.succeed(tenantId) : Effect.fail(new TenantNotFound({ tenantId }))
  )

export const TraceLive = HttpApiBuilder.group(Api, "trace", (handlers) =>
  Effect.gen(function* () {
    const trace = yield* TraceSearch
    const page = (params: Filter, tenant: string | undefined) =>
      Effect.flatMap(toQuery(params, tenant), (q) => answer(Effect.map(trace.search(q), (p) => new TracePageView(p))))
    const all = (params: Filter, tenant: string | undefined) => Effect.flatMap(toQuery(params, tenant), (q) => answer(trace.exportAll(q)))
    return handlers
      .handle("search", ({ path, urlParams }) => Effect.flatMap(tenantTrace(path.tenantId), (t) => page(urlParams, t)))
      .handle("exportCsv", ({ path, urlParams }) => Effect.flatMap(tenantTrace(path.tenantId), (t) => Effect.map(all(urlParams, t), traceCsv)))
      .handle("exportJson", ({ path, urlParams }) => Effect.flatMap(tenantTrace(path.tenantId), (t) => all(urlParams, t)))
      .handle("searchAll", ({ urlParams }) => Effect.zipRight(requireOperator, page(urlParams, urlParams.tenant)))
      .handle("exportAllCsv", ({ urlParams }) => Effect.zipRight(requireOperator, Effect.map(all(urlParams, urlParams.tenant), traceCsv)))
      .handle("exportAllJson", ({ urlParams }) => Effect.zipRight(requireOperator, all(urlParams, urlParams.tenant)))
  })
)
