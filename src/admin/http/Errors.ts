import { Schema } from "effect"
import { ApiError } from "./ApiError.js"

/**
 * The errors every feature of the admin API may answer, each with its HTTP
 * status (one family: ApiError); messages say what to fix. A feature's own
 * errors are in admin/<feature>/Errors.ts. Domain errors (TenantNotFound, TenantFileInvalid, …) are added
 * to endpoints with their status where the contract names them.
 */

/** Same answer for a missing, unknown, expired and revoked credential: no hint which one it was. */
export class Unauthorized extends ApiError<Unauthorized>()("Unauthorized", 401, { message: Schema.String }) {}

export const UNAUTHORIZED_MESSAGE =
  "a valid credential is required: send 'Authorization: Bearer <token>' with an operator token (`imprint admin token create --name NAME`), a session token from POST /auth/login, or a tenant API token"

/** The caller is known and may see the resource, but its role may not do this. */
export class Forbidden extends ApiError<Forbidden>()("Forbidden", 403, { message: Schema.String }) {}

/** The store failed or holds a record that no longer decodes; the message names the database and key. */
export class StoreFailure extends ApiError<StoreFailure>()("StoreFailure", 500, { message: Schema.String }) {}

/** Cluster mode: the record changed on another node since this one read it (compare-and-set on its revision). */
export class ConcurrentEdit extends ApiError<ConcurrentEdit>()("ConcurrentEdit", 409, { message: Schema.String }) {}

/** Cluster mode: the node cannot reach the cluster, so it takes no changes now (mail keeps flowing). */
export class ClusterUnavailable extends ApiError<ClusterUnavailable>()("ClusterUnavailable", 503, { message: Schema.String }) {}

/** A store failure as the API answers it: 409 for a cluster write that lost a race, 503 while the cluster is unreachable, else 500. */
export const storeFailureOf = (e: { readonly message: string; readonly op?: string }) =>
  e.op === "conflict"
    ? new ConcurrentEdit({ message: e.message })
    : e.op === "unavailable"
      ? new ClusterUnavailable({ message: e.message })
      : new StoreFailure({ message: e.message })

export class NotReady extends ApiError<NotReady>()("NotReady", 503, { message: Schema.String }) {}

/** A request body over its route's cap (src/admin/http/BodyLimits.ts); answered before the body is read. */
export class PayloadTooLarge extends ApiError<PayloadTooLarge>()("PayloadTooLarge", 413, { limit: Schema.Int, message: Schema.String }) {}
