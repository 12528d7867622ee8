import { Schema } from "effect"
import { ApiError } from "../http/ApiError.js"

/** Errors of the directory sync endpoints, each with its HTTP status (ApiError); messages say what to fix. */

/** "Sync now" for a tenant without a scheduled source. */
export class SyncNotConfigured extends ApiError<SyncNotConfigured>()("SyncNotConfigured", 409, { message: Schema.String }) {}

/** Sources that cannot be saved; the message names the source and what to fix. */
export class SourcesInvalid extends ApiError<SourcesInvalid>()("SourcesInvalid", 400, { message: Schema.String }) {}
