import { Option } from "effect"
import type { DirectoryUser } from "../domain/Directory.js"
import type { MessageKind, Rule, SignatureSettings } from "../domain/Rule.js"
import { NoSignature, RecipientGroup, SignatureElement, Stamp, type SignatureDecision } from "../domain/Signature.js"
import { messageKind, type ThreadingFacts } from "./MessageKindDetection.js"
import { RenderCache } from "./RenderCache.js"
import { groupRecipients, normalizeAddress, type MessageFacts } from "./RuleEngine.js"
import { renderTemplate, type CompiledTemplate } from "./TemplateEngine.js"
import { userValues, valuesIdentity, type TemplateValues } from "./TemplateValues.js"

/**
 * Builds the SignatureDecision for one message: the rules per recipient group,
 * each applied rule's template rendered for the sender (through the render
 * cache), wrapped in an element that carries a marker so a stamped signature
 * is recognised when the message comes by again (a reply quoting it).
 */

export const NoSignatureReasons = {
  /** MAIL FROM:<> (bounces, receipts) */
  nullSender: "null-sender",
  noRecipients: "no-recipients",
  senderNotInDirectory: "sender-not-in-directory",
  noRuleMatched: "no-rule-matched"
} as const

/** The attribute that marks a stamped element; its value is the rule id. */
export const MARKER_ATTRIBUTE = "data-imprint-signature"

export const markerFor = (ruleId: string): string => `${MARKER_ATTRIBUTE}="${ruleId}"`

export interface ResolveInput {
  readonly rules: ReadonlyArray<Rule>
  /** compiled templates by template id */
  readonly templates: ReadonlyMap<string, CompiledTemplate>
  readonly user: Option.Option<DirectoryUser>
  readonly envelope: { readonly mailFrom: string; readonly rcptTo: ReadonlyArray<string> }
  readonly header: ThreadingFacts
  /** the message kind when already known (the rules tester); absent: read from `header` */
  readonly kind?: MessageKind
  readonly tenantDomains: ReadonlyArray<string>
  readonly settings: SignatureSettings
  /** epoch milliseconds */
  readonly now: number
  readonly cache?: RenderCache<SignatureElement>
}

/** One rule's element for a sender; cached per rule, position, template version and directory values. */
export const renderElement = (
  rule: Rule, template: CompiledTemplate, values: TemplateValues, cache?: RenderCache<SignatureElement>
): SignatureElement => {
  const make = () => {
    const rendered = renderTemplate(template, values)
    const marker = markerFor(rule.id)
    return new SignatureElement(
      { ruleId: rule.id, templateId: template.id, templateVersion: template.version, html: `<div ${marker}>${rendered.html}</div>`, text: rendered.text, marker, position: rule.position },
      true // built from checked parts; skips re-validating on the hot path
    )
  }
  if (cache === undefined) return make()
  const key = `${rule.id}\u0000${rule.position}\u0000${template.id}\u0000${template.version}\u0000${valuesIdentity(values)}`
  return cache.getOrCompute(key, make)
}

/** Decides and renders the signature elements of one message, per recipient group. */
export const resolveSignature = (input: ResolveInput): SignatureDecision => {
  if (normalizeAddress(input.envelope.mailFrom) === "") return new NoSignature({ reason: NoSignatureReasons.nullSender }, true)
  if (input.envelope.rcptTo.length === 0) return new NoSignature({ reason: NoSignatureReasons.noRecipients }, true)
  if (Option.isNone(input.user)) return new NoSignature({ reason: NoSignatureReasons.senderNotInDirectory }, true)
  const facts: MessageFacts = {
    sender: input.envelope.mailFrom,
    user: input.user,
    kind: input.kind ?? messageKind(input.header),
    subject: input.header.subject,
    tenantDomains: input.tenantDomains,
    now: input.now
  }
  const hasTemplate = (id: string) => input.templates.has(id)
  const groups = groupRecipients(input.rules, facts, input.envelope.rcptTo, hasTemplate)
  if (groups.every((g) => g.rules.length === 0)) return new NoSignature({ reason: NoSignatureReasons.noRuleMatched }, true)
  const values = userValues(input.user.value)
  return new Stamp({
    groups: groups.map((g) => new RecipientGroup({
      recipients: g.recipients,
      elements: g.rules.map((rule) => renderElement(rule, input.templates.get(rule.templateId)!, values, input.cache))
    }, true)),
    skipIfPresent: input.settings.skipIfPresent,
    ...(input.settings.placeholder !== undefined ? { placeholder: input.settings.placeholder } : {})
  }, true)
}
