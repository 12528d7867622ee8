import { Schema } from "effect"
import { ImageDeliveryMode } from "./Images.js"
import { Position } from "./Signature.js"

export const MessageKind = Schema.Literal("new", "reply", "forward")
export type MessageKind = typeof MessageKind.Type

export class AttributeCondition extends Schema.Class<AttributeCondition>("AttributeCondition")({
  /** a DirectoryUser attribute name, or "custom.<name>" */
  name: Schema.String,
  op: Schema.Literal("equals", "contains"),
  value: Schema.String
}) {}

/** A local date-time window ("2026-12-01T00:00") read in `timeZone` (IANA name). */
export class DateWindow extends Schema.Class<DateWindow>("DateWindow")({
  start: Schema.optional(Schema.String),
  end: Schema.optional(Schema.String),
  timeZone: Schema.optionalWith(Schema.String, { default: () => "UTC" })
}) {}

/**
 * Conditions of a rule. Every field that is present must match (AND); inside a
 * list, any entry matching is enough (OR). An empty set matches everything.
 * Recipient fields are read per recipient, so one message can split into groups.
 */
export class Conditions extends Schema.Class<Conditions>("Conditions")({
  senders: Schema.optional(Schema.Array(Schema.String)),
  senderDomains: Schema.optional(Schema.Array(Schema.String)),
  groups: Schema.optional(Schema.Array(Schema.String)),
  attributes: Schema.optional(Schema.Array(AttributeCondition)),
  /** "internal": the recipient is in one of the tenant's domains; "external": it is not */
  recipientScope: Schema.optional(Schema.Literal("internal", "external")),
  recipientAddresses: Schema.optional(Schema.Array(Schema.String)),
  recipientDomains: Schema.optional(Schema.Array(Schema.String)),
  kinds: Schema.optional(Schema.Array(MessageKind)),
  dateWindow: Schema.optional(DateWindow),
  subjectContains: Schema.optional(Schema.Array(Schema.String))
}) {}

export class Rule extends Schema.Class<Rule>("Rule")({
  id: Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9._-]{1,64}$/)),
  name: Schema.String,
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  templateId: Schema.String,
  position: Schema.optionalWith(Position, { default: () => "above-reply" as const }),
  /** keep evaluating later rules after this one matched (e.g. a disclaimer at the bottom) */
  continue: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  conditions: Schema.optionalWith(Conditions, { default: () => new Conditions({}) }),
  exceptions: Schema.optionalWith(Conditions, { default: () => new Conditions({}) }),
  /** how the template's library images travel for this rule; absent: the template's, else `images.defaultDelivery` */
  delivery: Schema.optional(ImageDeliveryMode)
}) {}

/** Tenant-wide stamping settings. */
export class SignatureSettings extends Schema.Class<SignatureSettings>("SignatureSettings")({
  /** texts whose presence anywhere in the chosen part's thread text (quoted history too) means the message is already signed */
  skipIfPresent: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  /** an opt-in token the user types (e.g. "{{signature}}") replaced by the signature in place */
  placeholder: Schema.optional(Schema.String)
}) {}
