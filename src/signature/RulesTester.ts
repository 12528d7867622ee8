import { Option } from "effect"
import type { DirectoryUser } from "../domain/Directory.js"
import type { MessageKind, Rule, SignatureSettings } from "../domain/Rule.js"
import { SignatureSettings as Settings } from "../domain/Rule.js"
import type { SignatureDecision } from "../domain/Signature.js"
import { messageKind } from "./MessageKindDetection.js"
import { explainRules, type MessageFacts, type RuleVerdict } from "./RuleEngine.js"
import { resolveSignature, type TenantImages } from "./SignatureResolver.js"
import type { CompiledTemplate } from "./TemplateEngine.js"

/**
 * The preview / rules tester behind the admin API: for a made-up message
 * (sender, recipients, subject, kind), which rule wins for each recipient, why
 * each earlier one did not, and the signature that would be stamped.
 */

export interface PreviewInput {
  readonly rules: ReadonlyArray<Rule>
  readonly templates: ReadonlyMap<string, CompiledTemplate>
  readonly user: Option.Option<DirectoryUser>
  readonly sender: string
  readonly recipients: ReadonlyArray<string>
  readonly subject: string
  /** absent: read from the subject's prefix, as for a real message */
  readonly kind?: MessageKind
  readonly tenantDomains: ReadonlyArray<string>
  readonly settings?: SignatureSettings
  /** the tenant's image library, so the rendered elements carry their images */
  readonly images?: TenantImages
  /** epoch milliseconds */
  readonly now: number
}

export interface RuleOutcome {
  readonly ruleId: string
  readonly ruleName: string
  readonly verdict: RuleVerdict
  /** one line for a person: "applied", "skipped: message is new, rule wants reply", … */
  readonly summary: string
}

export interface RecipientPreview {
  readonly recipient: string
  readonly outcomes: ReadonlyArray<RuleOutcome>
  /** ids of the rules applied, in order */
  readonly applied: ReadonlyArray<string>
}

export interface PreviewResult {
  readonly kind: MessageKind
  readonly recipients: ReadonlyArray<RecipientPreview>
  /** what a real message would get, with the rendered HTML and text of each element */
  readonly decision: SignatureDecision
}

export const describeVerdict = (verdict: RuleVerdict): string => {
  switch (verdict._tag) {
    case "Matched":
      return "applied"
    case "Disabled":
      return "skipped: the rule is disabled"
    case "TemplateMissing":
      return `skipped: template ${JSON.stringify(verdict.templateId)} does not exist`
    case "ConditionFailed":
      return `skipped: condition ${verdict.condition} not met (${verdict.detail})`
    case "ExceptionHit":
      return `skipped: exception ${verdict.exception} applies (${verdict.detail})`
    case "NotReached":
      return `not evaluated: rule ${JSON.stringify(verdict.decidedBy)} already decided`
  }
}

export const previewRules = (input: PreviewInput): PreviewResult => {
  const kind = input.kind ?? messageKind({ subject: input.subject })
  const facts: MessageFacts = {
    sender: input.sender,
    user: input.user,
    kind,
    subject: input.subject,
    tenantDomains: input.tenantDomains,
    now: input.now
  }
  const hasTemplate = (id: string) => input.templates.has(id)
  const recipients = input.recipients.map((recipient): RecipientPreview => {
    const outcomes = explainRules(input.rules, facts, recipient, hasTemplate).map(({ rule, verdict }) => ({
      ruleId: rule.id,
      ruleName: rule.name,
      verdict,
      summary: describeVerdict(verdict)
    }))
    return { recipient, outcomes, applied: outcomes.filter((o) => o.verdict._tag === "Matched").map((o) => o.ruleId) }
  })
  const decision = resolveSignature({
    rules: input.rules,
    templates: input.templates,
    user: input.user,
    envelope: { mailFrom: input.sender, rcptTo: input.recipients },
    header: { subject: input.subject },
    kind,
    tenantDomains: input.tenantDomains,
    settings: input.settings ?? new Settings({}),
    now: input.now,
    ...(input.images !== undefined ? { images: input.images } : {})
  })
  return { kind, recipients, decision }
}
