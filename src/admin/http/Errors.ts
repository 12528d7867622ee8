import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"

/**
 * The admin API's own typed errors, each with its HTTP status; messages say
 * what to fix. Domain errors (TenantNotFound, TenantFileInvalid, …) are added
 * to endpoints with their status where the contract names them.
 */

/** Same answer for a missing, unknown, expired and revoked credential: no hint which one it was. */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()(
  "Unauthorized",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 401 })
) {}

export const UNAUTHORIZED_MESSAGE =
  "a valid credential is required: send 'Authorization: Bearer <token>' with an operator token (`imprint admin token create --name NAME`), a session token from POST /auth/login, or a tenant API token"

/** The caller is known and may see the resource, but its role may not do this. */
export class Forbidden extends Schema.TaggedError<Forbidden>()(
  "Forbidden",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 403 })
) {}

export class TenantAlreadyExists extends Schema.TaggedError<TenantAlreadyExists>()(
  "TenantAlreadyExists",
  { tenantId: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

/** The store failed or holds a record that no longer decodes; the message names the database and key. */
export class StoreFailure extends Schema.TaggedError<StoreFailure>()(
  "StoreFailure",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 500 })
) {}

/** Cluster mode: the record changed on another node since this one read it (compare-and-set on its revision). */
export class ConcurrentEdit extends Schema.TaggedError<ConcurrentEdit>()(
  "ConcurrentEdit",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

/** Cluster mode: the node cannot reach the cluster, so it takes no changes now (mail keeps flowing). */
export class ClusterUnavailable extends Schema.TaggedError<ClusterUnavailable>()(
  "ClusterUnavailable",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 503 })
) {}

/** A store failure as the API answers it: 409 for a cluster write that lost a race, 503 while the cluster is unreachable, else 500. */
export const storeFailureOf = (e: { readonly message: string; readonly op?: string }) =>
  e.op === "conflict"
    ? new ConcurrentEdit({ message: e.message })
    : e.op === "unavailable"
    ? new ClusterUnavailable({ message: e.message })
    : new StoreFailure({ message: e.message })

export class NotReady extends Schema.TaggedError<NotReady>()(
  "NotReady",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 503 })
) {}

/** A request body over its route's cap (src/admin/BodyLimits.ts); answered before the body is read. */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()(
  "PayloadTooLarge",
  { limit: Schema.Int, message: Schema.String },
  HttpApiSchema.annotations({ status: 413 })
) {}
