import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"

/** Errors of the sign-in, users and API token endpoints, each with its HTTP status; messages say what to do. */

/** A user id this tenant does not have: also the answer for another tenant's user ids. */
export class UserNotFound extends Schema.TaggedError<UserNotFound>()(
  "UserNotFound",
  { userId: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

export class ApiTokenNotFound extends Schema.TaggedError<ApiTokenNotFound>()(
  "ApiTokenNotFound",
  { tokenId: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

/** Login names are unique across all tenants. */
export class LoginNameTaken extends Schema.TaggedError<LoginNameTaken>()(
  "LoginNameTaken",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

/** The change would leave the tenant without an enabled owner. */
export class LastOwnerRequired extends Schema.TaggedError<LastOwnerRequired>()(
  "LastOwnerRequired",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

/** The sign-in code could not be sent (no mail server configured, or it failed). */
export class LoginUnavailable extends Schema.TaggedError<LoginUnavailable>()(
  "LoginUnavailable",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 503 })
) {}

/** Throttled: `retryAfterSeconds` says when the next try is looked at. */
export class TooManyAttempts extends Schema.TaggedError<TooManyAttempts>()(
  "TooManyAttempts",
  { message: Schema.String, retryAfterSeconds: Schema.Int },
  HttpApiSchema.annotations({ status: 429 })
) {}
