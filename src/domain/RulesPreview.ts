import { Schema } from "effect"
import { MessageKind } from "./Rule.js"
import { SignatureDecision } from "./Signature.js"

/**
 * The rules tester's answer (src/signature/RulesTester.ts `PreviewResult`) as
 * a Schema, so `PreviewRules` can cross a wire and the admin API can expose it
 * as it is. Condition names stay plain strings: the wire need not know the
 * Conditions fields to carry them.
 */

export const RuleVerdict = Schema.Union(
  Schema.TaggedStruct("Matched", {}),
  Schema.TaggedStruct("Disabled", {}),
  Schema.TaggedStruct("TemplateMissing", { templateId: Schema.String }),
  Schema.TaggedStruct("ConditionFailed", { condition: Schema.String, detail: Schema.String }),
  Schema.TaggedStruct("ExceptionHit", { exception: Schema.String, detail: Schema.String }),
  Schema.TaggedStruct("NotReached", { decidedBy: Schema.String })
)
export type RuleVerdict = typeof RuleVerdict.Type

export const RuleOutcome = Schema.Struct({
  ruleId: Schema.String,
  ruleName: Schema.String,
  verdict: RuleVerdict,
  /** one line for a person: "applied", "skipped: …" */
  summary: Schema.String
})

export const RecipientPreview = Schema.Struct({
  recipient: Schema.String,
  outcomes: Schema.Array(RuleOutcome),
  /** ids of the rules applied, in order */
  applied: Schema.Array(Schema.String)
})

export const PreviewResult = Schema.Struct({
  kind: MessageKind,
  recipients: Schema.Array(RecipientPreview),
  /** what a real message would get, rendered */
  decision: SignatureDecision
})
export type PreviewResult = typeof PreviewResult.Type
