import { Schema } from "effect"
import { ApiError } from "../http/ApiError.js"

/** Errors of the test stamp (rules preview) endpoint, each with its HTTP status (ApiError); messages say what to fix. */

export class UploadTooLarge extends ApiError<UploadTooLarge>()("UploadTooLarge", 413, { limit: Schema.Int, message: Schema.String }) {}

/** The upload or its parameters cannot be tested (no sender, no recipients, unreadable headers). */
export class TestStampInvalid extends ApiError<TestStampInvalid>()("TestStampInvalid", 400, { message: Schema.String }) {}

/** The relay would not have relayed this message (a mail loop, a stamping failure); `reason` is the relay's. */
export class TestStampFailed extends ApiError<TestStampFailed>()("TestStampFailed", 422, { reason: Schema.String, message: Schema.String }) {}
