import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import { PreviewResult } from "../../domain/RulesPreview.js"
import { TenantNotFound } from "../../domain/Errors.js"
import { MessageKind } from "../../domain/Rule.js"
import { Forbidden, NotReady, StoreFailure } from "../http/Errors.js"
import { AdminAuth } from "../http/Principal.js"
import { UploadTooLarge, TestStampInvalid, TestStampFailed } from "./Errors.js"

export * from "./Errors.js"

/**
 * The rules tester and the test stamp (issue 6). Neither relays anything.
 * Preview: a made-up message (sender, recipients, subject, kind, time) →
 * which rule wins per recipient, why the earlier ones did not, the rendered
 * HTML and text. Test stamp: an uploaded message runs through the relay's own
 * stamping pipeline and comes back stamped, with the decision.
 */

const STRICT = { parseOptions: { onExcessProperty: "error", errors: "all" } } as const

/** The largest upload the test stamp takes (bytes as uploaded). */
export const TEST_STAMP_MAX_BYTES = 25 * 1024 * 1024

export const TEST_STAMP_CONTENT_TYPE = "message/rfc822"

export const uploadTooLarge = () =>
  new UploadTooLarge({
    limit: TEST_STAMP_MAX_BYTES,
    message: `the message exceeds the test stamp's limit of ${TEST_STAMP_MAX_BYTES} bytes (${TEST_STAMP_MAX_BYTES / (1024 * 1024)} MB)`
  })

export const PreviewRequest = Schema.Struct({
  sender: Schema.String,
  recipients: Schema.NonEmptyArray(Schema.String),
  subject: Schema.optional(Schema.String),
  /** absent: read from the subject's prefix (Re:, Fwd:), as for a real message */
  kind: Schema.optional(MessageKind),
  /** the moment to evaluate date windows at (ISO 8601); absent: now */
  at: Schema.optional(Schema.Date)
}).annotations({ ...STRICT, identifier: "PreviewRequest" })

/** One recipient group's signature as it would be stamped: the applied rules and their elements joined. */
export const PreviewGroup = Schema.Struct({
  recipients: Schema.Array(Schema.String),
  ruleIds: Schema.Array(Schema.String),
  html: Schema.String,
  text: Schema.String
})

export const PreviewAnswer = Schema.Struct({
  ...PreviewResult.fields,
  /** the moment date windows were read at (ISO 8601) */
  at: Schema.String,
  /** per recipient group: absent when the decision is NoSignature */
  groups: Schema.Array(PreviewGroup)
})

export const TestStampParams = Schema.Struct({
  /** the envelope sender; absent: the From header's address */
  sender: Schema.optional(Schema.String),
  /** comma-separated envelope recipients; absent: the To and Cc headers' addresses */
  recipients: Schema.optional(Schema.String)
})

export const StampedCopy = Schema.Struct({
  recipients: Schema.Array(Schema.String),
  /** the rules whose elements were stamped into this copy */
  ruleIds: Schema.Array(Schema.String),
  /** the body parts that received the signature */
  stamped: Schema.Array(Schema.Literal("html", "text")),
  /** why this copy passed unstamped, when it did (already-signed, signed, calendar, …) */
  skipped: Schema.optional(Schema.String),
  /** the message as the downstream would receive it, decoded as UTF-8 for reading */
  message: Schema.String,
  /** the exact bytes, base64 */
  messageBase64: Schema.String
})

export const TestStampResult = Schema.Struct({
  sender: Schema.String,
  recipients: Schema.Array(Schema.String),
  /** why the whole message passes unstamped (loop, calendar, sender-not-in-directory, no-rule-matched, …) */
  unstamped: Schema.optional(Schema.String),
  copies: Schema.Array(StampedCopy),
  /** bytes read from the upload */
  bytes: Schema.Int
})

const tenantId = HttpApiSchema.param("tenantId", Schema.String)

export class PreviewGroupApi extends HttpApiGroup.make("preview")
  .add(HttpApiEndpoint.post("preview")`/tenants/${tenantId}/preview`.setPayload(PreviewRequest).addSuccess(PreviewAnswer))
  .add(
    HttpApiEndpoint.post("testStamp")`/tenants/${tenantId}/test-stamp`
      .setPayload(HttpApiSchema.Uint8Array({ contentType: TEST_STAMP_CONTENT_TYPE }))
      .setUrlParams(TestStampParams)
      .addSuccess(TestStampResult)
      .addError(UploadTooLarge)
      .addError(TestStampInvalid)
      .addError(TestStampFailed)
  )
  .addError(TenantNotFound, { status: 404 })
  .addError(StoreFailure)
  .addError(NotReady)
  .addError(Forbidden)
  .middleware(AdminAuth)
  .annotate(OpenApi.Description, "Rules tester (preview) and test stamp of an uploaded message; nothing is relayed.") {}
