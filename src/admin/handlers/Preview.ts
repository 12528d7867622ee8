import { HttpApiBuilder } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Effect } from "effect"
import type { IncomingMessage } from "node:http"
import { RESOLVE_TIMEOUT } from "../../actors/ControlPlaneLive.js"
import { TenantRegistry } from "../../actors/TenantRegistry.js"
import { NoSignature, RecipientGroup, SignatureElement, Stamp, type SignatureDecision } from "../../domain/Signature.js"
import { withDataUrls } from "../../signature/TemplateImages.js"
import { dryRun, UploadNormalizer } from "../../pipeline/DryRun.js"
import type { RelayError } from "../../pipeline/RelayError.js"
import { Api } from "../Api.js"
import { CONTENT_ROLES } from "../../domain/Role.js"
import { TEST_STAMP_MAX_BYTES, TestStampFailed, TestStampInvalid, uploadTooLarge } from "../PreviewApi.js"
import { actorUnavailable, authorize, catchStore } from "./ContentAccess.js"

/**
 * The rules tester and the test stamp. The preview asks the tenant's actor
 * (PreviewRules: the same rules, templates and directory the relay uses).
 * The test stamp streams the upload through DryRun, the relay's own DATA
 * pipeline with the downstream replaced by memory; nothing is relayed and
 * nothing is written, so neither is audited.
 */

/** Normalizing bare LF to CRLF at most doubles the bytes; LineGuard's limit only has to allow that. */
const NORMALIZED_MAX_BYTES = 2 * TEST_STAMP_MAX_BYTES

const tooLarge = uploadTooLarge

const joined = (decision: SignatureDecision) =>
  decision._tag === "NoSignature"
    ? []
    : decision.groups.map((g) => ({
      recipients: g.recipients,
      ruleIds: g.elements.map((e) => e.ruleId),
      // images as data: URLs, so the preview shows them whatever the delivery
      html: g.elements.map((e) => withDataUrls(e.html, e.images)).join("\n"),
      text: g.elements.map((e) => e.text).join("\n\n")
    }))

/** The decision without image bytes: the groups' HTML already carries them as data URLs. */
const withoutImageBytes = (decision: SignatureDecision): SignatureDecision =>
  decision._tag === "NoSignature"
    ? decision
    : new Stamp({
      skipIfPresent: decision.skipIfPresent,
      ...(decision.placeholder !== undefined ? { placeholder: decision.placeholder } : {}),
      groups: decision.groups.map((g) => new RecipientGroup({
        recipients: g.recipients,
        elements: g.elements.map((e) => new SignatureElement({ ...e, images: [] }, true))
      }, true))
    }, true)

/** What the relay would have answered instead of relaying, as a 422 naming the reason. */
const refused = (e: RelayError) => {
  switch (e._tag) {
    case "MailLoop":
      return new TestStampFailed({ reason: "mail-loop", message: `the relay refuses this message as a mail loop: ${e.received} Received headers` })
    case "BareLineEnding":
      return new TestStampFailed({ reason: "bare-line-ending", message: `the relay refuses this message: a line of NULs and one dot at byte ${e.offset}` })
    case "StampingFailed":
      return new TestStampFailed({
        reason: "stamping-failed",
        message: `stamping failed (${e.detail}); the relay would answer 451 and relay the retry unstamped`
      })
    default:
      return new TestStampFailed({ reason: e._tag, message: `the message could not be processed: ${e._tag}` })
  }
}

/**
 * The request body into the normalizer. Past the limit the body is no longer
 * fed but not destroyed either (that would reset the connection before the
 * 413 is written); Node discards the rest after the answer.
 */
const feedUpload = (incoming: IncomingMessage, normalizer: UploadNormalizer): UploadNormalizer => {
  incoming.pipe(normalizer)
  incoming.once("error", (e) => normalizer.destroy(e))
  normalizer.once("error", () => {
    incoming.unpipe(normalizer)
    incoming.resume()
  })
  return normalizer
}

const splitList = (s: string | undefined) =>
  s === undefined ? undefined : s.split(",").map((a) => a.trim()).filter((a) => a !== "")

export const PreviewLive = HttpApiBuilder.group(Api, "preview", (handlers) =>
  Effect.gen(function* () {
    const registry = yield* TenantRegistry

    return handlers
      .handle("preview", ({ path, payload }) =>
        Effect.gen(function* () {
          const id = yield* authorize(path.tenantId, CONTENT_ROLES)
          const at = payload.at?.getTime() ?? Date.now()
          const actor = yield* registry.actor(id)
          const result = yield* actor.previewRules({
            sender: payload.sender, recipients: payload.recipients, subject: payload.subject ?? "",
            ...(payload.kind !== undefined ? { kind: payload.kind } : {}), at
          })
          return { ...result, decision: withoutImageBytes(result.decision), at: new Date(at).toISOString(), groups: joined(result.decision) }
        }).pipe(Effect.catchTag("TenantActorUnavailable", actorUnavailable), catchStore))
      .handleRaw("testStamp", ({ path, request, urlParams }) =>
        Effect.gen(function* () {
          const id = yield* authorize(path.tenantId, CONTENT_ROLES)
          // refused before a byte is read when the client says how much is coming
          const declared = Number(request.headers["content-length"] ?? "0")
          if (declared > TEST_STAMP_MAX_BYTES) return yield* tooLarge()
          const actor = yield* registry.actor(id)
          const tenant = yield* actor.relayState
          const sender = urlParams.sender?.trim()
          const normalizer = new UploadNormalizer(TEST_STAMP_MAX_BYTES)
          const upstream = feedUpload(NodeHttpServerRequest.toIncomingMessage(request), normalizer)
          const result = yield* dryRun({
            upstream, tenant, sender, recipients: splitList(urlParams.recipients), maxBytes: NORMALIZED_MAX_BYTES, serverName: "imprint",
            resolve: (envelope, header) =>
              actor.resolveSignature(envelope, header).pipe(
                Effect.timeout(RESOLVE_TIMEOUT),
                Effect.catchAll((e) => Effect.succeed(new NoSignature({ reason: `tenant-unavailable: ${e.message}` })))
              )
          }).pipe(Effect.catchAll((e) =>
            Effect.fail(normalizer.uploaded > TEST_STAMP_MAX_BYTES || e._tag === "MessageTooBig" ? tooLarge() : refused(e))))
          if (sender === undefined && result.sender === "") {
            return yield* new TestStampInvalid({ message: "no sender: give ?sender=address or a From header with an address" })
          }
          if (result.recipients.length === 0) {
            return yield* new TestStampInvalid({ message: "no recipients: give ?recipients=a@example.com,b@example.com or To/Cc headers with addresses" })
          }
          return {
            sender: result.sender,
            recipients: result.recipients,
            ...(result.unstamped !== undefined ? { unstamped: result.unstamped } : {}),
            copies: result.copies.map((c) => ({
              recipients: c.recipients,
              ruleIds: c.ruleIds,
              stamped: c.outcome?.stamped ?? [],
              ...(c.outcome?.skipped !== undefined ? { skipped: c.outcome.skipped } : {}),
              message: c.message.toString("utf8"),
              messageBase64: c.message.toString("base64")
            })),
            bytes: normalizer.uploaded
          }
        }).pipe(Effect.catchTag("TenantActorUnavailable", actorUnavailable), catchStore))
  }))
