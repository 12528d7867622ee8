import { Schema } from "effect"
import { ApiError } from "../http/ApiError.js"

/** Errors of the message trace endpoints, each with its HTTP status (ApiError); messages say what to fix. */

/** A filter the trace cannot run: a cursor it did not give out, `from` after `to`. */
export class TraceQueryInvalid extends ApiError<TraceQueryInvalid>()("TraceQueryInvalid", 400, { message: Schema.String }) {}

/** More records match than one export holds. */
export class TraceExportTooLarge extends ApiError<TraceExportTooLarge>()("TraceExportTooLarge", 422, { message: Schema.String, limit: Schema.Int }) {}

/** In a cluster, an export while a node does not answer: it would be incomplete without saying so. */
export class TraceNodesUnavailable extends ApiError<TraceNodesUnavailable>()("TraceNodesUnavailable", 503, {
  message: Schema.String,
  nodes: Schema.Array(Schema.String)
}) {}
