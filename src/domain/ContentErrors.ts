import { Schema } from "effect"

/**
 * Expected failures when templates and rules are changed one at a time (the
 * admin API's content endpoints, the ContentRepo). Schema errors so they cross
 * the wire; each carries a `message` that says what to fix. The HTTP status is
 * given where an endpoint names the error.
 */

export class TemplateNotFound extends Schema.TaggedError<TemplateNotFound>()("TemplateNotFound", {
  templateId: Schema.String,
  message: Schema.String
}) {
  static of(templateId: string) {
    return new TemplateNotFound({ templateId, message: `no template "${templateId}" in this tenant` })
  }
}

export class TemplateVersionNotFound extends Schema.TaggedError<TemplateVersionNotFound>()("TemplateVersionNotFound", {
  templateId: Schema.String,
  version: Schema.Int,
  message: Schema.String
}) {}

export class TemplateAlreadyExists extends Schema.TaggedError<TemplateAlreadyExists>()("TemplateAlreadyExists", {
  templateId: Schema.String,
  message: Schema.String
}) {}

/** The template does not compile after sanitizing: `part` is "html" or "text". */
export class TemplateInvalid extends Schema.TaggedError<TemplateInvalid>()("TemplateInvalid", {
  templateId: Schema.String,
  part: Schema.String,
  message: Schema.String
}) {}

/** A template that rules still use cannot be deleted. */
export class TemplateInUse extends Schema.TaggedError<TemplateInUse>()("TemplateInUse", {
  templateId: Schema.String,
  ruleIds: Schema.Array(Schema.String),
  message: Schema.String
}) {}

export class RuleNotFound extends Schema.TaggedError<RuleNotFound>()("RuleNotFound", {
  ruleId: Schema.String,
  message: Schema.String
}) {
  static of(ruleId: string) {
    return new RuleNotFound({ ruleId, message: `no rule "${ruleId}" in this tenant` })
  }
}

export class RuleAlreadyExists extends Schema.TaggedError<RuleAlreadyExists>()("RuleAlreadyExists", {
  ruleId: Schema.String,
  message: Schema.String
}) {}

/** ruleProblems found something (a missing template, an empty date window, …); one line per problem. */
export class RuleInvalid extends Schema.TaggedError<RuleInvalid>()("RuleInvalid", {
  ruleId: Schema.String,
  problems: Schema.Array(Schema.String),
  message: Schema.String
}) {}

/** A new rule order that is not a permutation of the current rule ids. */
export class RuleOrderInvalid extends Schema.TaggedError<RuleOrderInvalid>()("RuleOrderInvalid", {
  missing: Schema.Array(Schema.String),
  unknown: Schema.Array(Schema.String),
  duplicates: Schema.Array(Schema.String),
  message: Schema.String
}) {}

export class DirectoryUserNotFound extends Schema.TaggedError<DirectoryUserNotFound>()("DirectoryUserNotFound", {
  mail: Schema.String,
  message: Schema.String
}) {
  static of(mail: string) {
    return new DirectoryUserNotFound({ mail, message: `${mail} is not in this tenant's directory (by mail or proxy address)` })
  }
}
