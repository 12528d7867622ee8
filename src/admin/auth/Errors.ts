import { Schema } from "effect"
import { ApiError } from "../http/ApiError.js"

/** Errors of the sign-in endpoints and the password policy, each with its HTTP status (ApiError); messages say what to do. */

/** The sign-in code could not be sent (no mail server configured, or it failed). */
export class LoginUnavailable extends ApiError<LoginUnavailable>()("LoginUnavailable", 503, { message: Schema.String }) {}

/** Throttled: `retryAfterSeconds` says when the next try is looked at. */
export class TooManyAttempts extends ApiError<TooManyAttempts>()("TooManyAttempts", 429, { message: Schema.String, retryAfterSeconds: Schema.Int }) {}

/** A password the policy refuses; `problems` lists each thing to fix. */
export class PasswordRejected extends ApiError<PasswordRejected>()("PasswordRejected", 400, {
  message: Schema.String,
  problems: Schema.Array(Schema.String)
}) {}
