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
