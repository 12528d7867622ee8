import { Schema } from "effect"
import { ApiError } from "../http/ApiError.js"

/** Errors of the directory endpoints, each with its HTTP status (ApiError); messages say what to fix. */

export const RejectedRowView = Schema.Struct({
  /** 1-based: the CSV line the record starts on, or the position in the JSON array */
  row: Schema.Int,
  mail: Schema.optional(Schema.String),
  reason: Schema.String
})

export class DirectoryUserNotFound extends ApiError<DirectoryUserNotFound>()("DirectoryUserNotFound", 404, { mail: Schema.String, message: Schema.String }) {}

/** A PUT body that is not a valid directory entry, or whose mail is not the path's. */
export class DirectoryUserInvalid extends ApiError<DirectoryUserInvalid>()("DirectoryUserInvalid", 400, { message: Schema.String }) {}

/** An import body that cannot be read at all (not JSON, not an array). */
export class DirectoryImportInvalid extends ApiError<DirectoryImportInvalid>()("DirectoryImportInvalid", 400, { message: Schema.String }) {}

export class ImportTooLarge extends ApiError<ImportTooLarge>()("ImportTooLarge", 413, { limit: Schema.String, message: Schema.String }) {}

/** A replace import with rejected rows and without `allowPartial=true`: nothing was written. */
export class DirectoryImportRejected extends ApiError<DirectoryImportRejected>()("DirectoryImportRejected", 422, {
  message: Schema.String,
  accepted: Schema.Int,
  rejectedCount: Schema.Int,
  rejected: Schema.Array(RejectedRowView)
}) {}
