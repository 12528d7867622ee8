import { Schema } from "effect"
import { ImageDeliveryMode } from "./Images.js"

/**
 * The contract between the control plane (the tenant actor's signature
 * engine) and the data plane (the stamper): what to put into one message.
 */

/** Where an element goes: above the quoted reply (default), or at the very bottom. */
export const Position = Schema.Literal("above-reply", "bottom")
export type Position = typeof Position.Type

/** A library image shown by an element, with its bytes (shared with the tenant's state, not copied). */
export class ElementImage extends Schema.Class<ElementImage>("ElementImage")({
  /** without angle brackets */
  contentId: Schema.String,
  contentType: Schema.String,
  /** exactly what the element's HTML has in the img src (cid:… or a hosted https URL) */
  src: Schema.String,
  /** base64 on a wire (a remote actor, the admin API); in process the stored bytes themselves */
  data: Schema.Uint8ArrayFromBase64
}) {}

/** One rendered signature element (a signature, a banner, a disclaimer). */
export class SignatureElement extends Schema.Class<SignatureElement>("SignatureElement")({
  ruleId: Schema.String,
  templateId: Schema.String,
  /** the template's version rendered (the message trace records it) */
  templateVersion: Schema.optional(Schema.Int),
  html: Schema.String,
  text: Schema.String,
  /** a literal string present in `html` that identifies this element if it is met again */
  marker: Schema.String,
  position: Position,
  /** how `images` travel: "embedded" ones go into the message as multipart/related parts */
  delivery: Schema.optionalWith(ImageDeliveryMode, { default: () => "embedded" as const }),
  /** the library images the HTML shows */
  images: Schema.optionalWith(Schema.Array(ElementImage), { default: () => [] })
}) {}

/** Recipients that get the same elements; `elements` empty means: relay their copy unstamped. */
export class RecipientGroup extends Schema.Class<RecipientGroup>("RecipientGroup")({
  recipients: Schema.Array(Schema.String),
  elements: Schema.Array(SignatureElement)
}) {}

export class Stamp extends Schema.TaggedClass<Stamp>()("Stamp", {
  groups: Schema.Array(RecipientGroup),
  /** texts whose presence anywhere in the chosen part's thread text, quoted history too, means "already signed" */
  skipIfPresent: Schema.Array(Schema.String),
  /** an opt-in token typed by the user (e.g. "{{signature}}") that is replaced in place */
  placeholder: Schema.optional(Schema.String)
}) {}

export class NoSignature extends Schema.TaggedClass<NoSignature>()("NoSignature", {
  /** e.g. "no-rule-matched", "sender-not-in-directory" */
  reason: Schema.String
}) {}

export const SignatureDecision = Schema.Union(Stamp, NoSignature)
export type SignatureDecision = typeof SignatureDecision.Type

/** What the data plane tells the control plane about a message, read from its root headers. */
export class HeaderSummary extends Schema.Class<HeaderSummary>("HeaderSummary")({
  subject: Schema.String,
  messageId: Schema.optional(Schema.String),
  inReplyTo: Schema.optional(Schema.String),
  references: Schema.optional(Schema.String),
  contentType: Schema.String
}) {}

/** The bound session's envelope: sender and recipients come from SMTP, never from a header. */
export class MessageEnvelope extends Schema.Class<MessageEnvelope>("MessageEnvelope")({
  mailFrom: Schema.String,
  rcptTo: Schema.Array(Schema.String)
}) {}
