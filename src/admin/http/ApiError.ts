import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import { Schema } from "effect"

/**
 * The admin API's one error family: every error the API owns is a
 * Schema.TaggedError with a `message` saying what to fix, its HTTP status
 * annotated on the class, and the extra fields its callers read. The body is
 * the encoded error, `_tag` first, then the fields in the order given here
 * (so the order a class lists them is the order of its JSON body).
 *
 *   class ImageGone extends ApiError<ImageGone>()("ImageGone", 404, { imageId: Schema.String, message: Schema.String }) {}
 *
 * Errors of the domain (TenantNotFound, TemplateInvalid, …) are the same shape
 * without the HTTP status, which their endpoints add (`addError(E, { status })`).
 */
export const ApiError =
  <Self = never>() =>
  <Tag extends string, Fields extends { readonly message: typeof Schema.String } & Schema.Struct.Fields>(tag: Tag, status: number, fields: Fields) =>
    Schema.TaggedError<Self>()(tag, fields, HttpApiSchema.annotations({ status }))
