import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import { Effect } from "effect"
import { RESOLVE_TIMEOUT } from "../../actors/ControlPlaneLive.js"
import { TenantRegistry } from "../../actors/TenantRegistry.js"
import { NoSignature, RecipientGroup, SignatureElement, Stamp, type SignatureDecision } from "../../domain/Signature.js"
import { withDataUrls } from "../../signature/TemplateImages.js"
import { TestStamper, type TestStampRefused } from "../../domain/TestStamp.js"
import { Api } from "../Api.js"
import { CONTENT_ROLES } from "../../domain/Role.js"
import { TEST_STAMP_MAX_BYTES, TestStampFailed, TestStampInvalid, uploadTooLarge } from "./PreviewApi.js"
import { actorUnavailable, authorize, catchStore } from "../http/ContentAccess.js"

/**
 * The rules tester and the test stamp. The preview asks the tenant's actor
 * (PreviewRules: the same rules, templates and directory the relay uses).
 * The test stamp streams the upload through the TestStamper (the pipeline's
 * DryRun: the relay's own DATA pipeline with the downstream replaced by memory); nothing is relayed and
 * nothing is written, so neither is audited.
 */

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
    : new Stamp(
        {
          skipIfPresent: decision.skipIfPresent,
          ...(decision.placeholder !== undefined ? { placeholder: decision.placeholder } : {}),
          groups: decision.groups.map(
            (g) =>
              new RecipientGroup(
                {
                  recipients: g.recipients,
                  elements: g.elements.map((e) => new SignatureElement({ ...e, images: [] }, true))
                },
                true
              )
          )
        },
        true
      )

/** A refusal of the test stamp: 413 past the upload limit, else a 422 naming the reason. */
const refused = (e: TestStampRefused) => (e.tooBig ? tooLarge() : new TestStampFailed({ reason: e.reason, message: e.message }))

const splitList = (s: string | undefined) =>
  s === undefined
    ? undefined
    : s
        .split(",")
        .map((a) => a.trim())
        .filter((a) => a !== "")

export const PreviewLive = HttpApiBuilder.group(Api, "preview", (handlers) =>
  Effect.gen(function* () {
    const registry = yield* TenantRegistry
    const stamper = yield* TestStamper

    return handlers
      .handle("preview", ({ path, payload }) =>
        Effect.gen(function* () {
          const id = yield* authorize(path.tenantId, CONTENT_ROLES)
          const at = payload.at?.getTime() ?? Date.now()
          const actor = yield* registry.actor(id)
          const result = yield* actor.previewRules({
            sender: payload.sender,
            recipients: payload.recipients,
            subject: payload.subject ?? "",
            ...(payload.kind !== undefined ? { kind: payload.kind } : {}),
            at
          })
          return { ...result, decision: withoutImageBytes(result.decision), at: new Date(at).toISOString(), groups: joined(result.decision) }
        }).pipe(Effect.catchTag("TenantActorUnavailable", actorUnavailable), catchStore)
      )
      .handleRaw("testStamp", ({ path, request, urlParams }) =>
        Effect.gen(function* () {
          const id = yield* authorize(path.tenantId, CONTENT_ROLES)
          // refused before a byte is read when the client says how much is coming
          const declared = Number(request.headers["content-length"] ?? "0")
          if (declared > TEST_STAMP_MAX_BYTES) return yield* tooLarge()
          const actor = yield* registry.actor(id)
          const tenant = yield* actor.relayState
          const sender = urlParams.sender?.trim()
          const result = yield* stamper
            .run({
              upload: NodeHttpServerRequest.toIncomingMessage(request),
              uploadLimit: TEST_STAMP_MAX_BYTES,
              tenant,
              sender,
              recipients: splitList(urlParams.recipients),
              serverName: "imprint",
              resolve: (envelope, header) =>
                actor.resolveSignature(envelope, header).pipe(
                  Effect.timeout(RESOLVE_TIMEOUT),
                  Effect.catchAll((e) => Effect.succeed(new NoSignature({ reason: `tenant-unavailable: ${e.message}` })))
                )
            })
            .pipe(Effect.catchTag("TestStampRefused", (e) => Effect.fail(refused(e))))
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
              stamped: c.stamped,
              ...(c.skipped !== undefined ? { skipped: c.skipped } : {}),
              message: c.message.toString("utf8"),
              messageBase64: c.message.toString("base64")
            })),
            bytes: result.bytes
          }
        }).pipe(Effect.catchTag("TenantActorUnavailable", actorUnavailable), catchStore)
      )
  })
)
