import { Schema } from "effect"
import { ApiError } from "../http/ApiError.js"

/** Errors of the users and API token endpoints, each with its HTTP status (ApiError); messages say what to do. */

/** A user id this tenant does not have: also the answer for another tenant's user ids. */
export class UserNotFound extends ApiError<UserNotFound>()("UserNotFound", 404, { userId: Schema.String, message: Schema.String }) {}

export class ApiTokenNotFound extends ApiError<ApiTokenNotFound>()("ApiTokenNotFound", 404, { tokenId: Schema.String, message: Schema.String }) {}

/** Login names are unique across all tenants. */
export class LoginNameTaken extends ApiError<LoginNameTaken>()("LoginNameTaken", 409, { message: Schema.String }) {}

/** The change would leave the tenant without an enabled owner. */
export class LastOwnerRequired extends ApiError<LastOwnerRequired>()("LastOwnerRequired", 409, { message: Schema.String }) {}
