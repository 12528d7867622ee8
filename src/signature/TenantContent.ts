import { Either } from "effect"
import { TenantFileInvalid } from "../domain/Errors.js"
import type { Rule } from "../domain/Rule.js"
import type { Template, TemplateRemovals } from "../domain/Template.js"
import type { CheckedTenantFile, TenantFile } from "../domain/TenantFile.js"
import { ruleProblems } from "./RuleValidation.js"
import { prepareTemplate } from "./TemplatePreparation.js"

/**
 * What a tenant import checks before anything is stored (the admin API, the
 * tenant import CLI and endpoint, demo seeding): every template sanitized and
 * compiled, every rule checked against the file's templates. The tenant store
 * (store/TenantRepo) stores what it is given; this is where the file's
 * signature content is made storable. All problems are reported at once, one
 * line each, naming the template or rule.
 */

export const prepareSignatureContent = (
  templateList: ReadonlyArray<Template>,
  ruleList: ReadonlyArray<Rule>
): Either.Either<{ templates: ReadonlyArray<Template>; removed: ReadonlyArray<TemplateRemovals> }, TenantFileInvalid> => {
  const problems: Array<string> = []
  const templates: Array<Template> = []
  const removed: Array<TemplateRemovals> = []
  templateList.forEach((template, i) => {
    const prepared = prepareTemplate(template)
    if (Either.isLeft(prepared)) {
      problems.push(`templates[${i}] "${template.id}": ${prepared.left.part} does not compile: ${prepared.left.message}`)
      return
    }
    templates.push(prepared.right.template)
    if (prepared.right.removed.length > 0) removed.push({ templateId: template.id, removed: prepared.right.removed })
  })
  const templateIds = new Set(templateList.map((t) => t.id))
  ruleList.forEach((rule, i) => {
    for (const problem of ruleProblems(rule, templateIds)) problems.push(`rules[${i}] "${rule.id}": ${problem}`)
  })
  return problems.length > 0 ? Either.left(new TenantFileInvalid({ message: problems.join("\n") })) : Either.right({ templates, removed })
}

/** The decoded file with its templates sanitized and compiled and its rules checked; or every problem at once. */
export const checkTenantFile = (file: TenantFile): Either.Either<CheckedTenantFile, TenantFileInvalid> =>
  Either.map(prepareSignatureContent(file.templates ?? [], file.rules ?? []), ({ templates, removed }) => ({
    // a file without templates stays without them, so the stored tenant is the same as before the check
    file: file.templates === undefined ? file : { ...file, templates },
    removed
  }))
