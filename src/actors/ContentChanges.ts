import { Effect, Either, Option, Schema } from "effect"
import { RuleInvalid, TemplateAlreadyExists, TemplateInvalid, TemplateNotFound } from "../domain/ContentErrors.js"
import type { ImageDeliveryMode } from "../domain/Images.js"
import { Rule } from "../domain/Rule.js"
import { type Removal, Template } from "../domain/Template.js"
import type { TenantId } from "../domain/Tenant.js"
import { ruleProblems } from "../signature/RuleValidation.js"
import { prepareTemplate } from "../signature/TemplatePreparation.js"
import { ContentRepo, type SaveOptions } from "../store/ContentRepo.js"

/**
 * Templates and rules changed one at a time (the admin API), checked before
 * ContentRepo stores them: every template save sanitizes and compiles (what is
 * stored renders) and checks that its `image:` sources name library images;
 * every rule change is checked with ruleProblems against the tenant's
 * templates. Each change reads, checks and writes under TenantRepo's import
 * lock, so a concurrent import or change cannot be overwritten by a stale read.
 */

export interface TemplateInput {
  readonly id: string
  readonly name: string
  readonly html: string
  readonly text?: string | undefined
  /** how the template's library images travel; absent: the rule's, else the server's default */
  readonly delivery?: ImageDeliveryMode | undefined
}

export interface SavedTemplate {
  readonly template: Template
  /** what the sanitizer took out */
  readonly removed: ReadonlyArray<Removal>
  /** the version this save replaced (undefined: a new template) */
  readonly previousVersion: number | undefined
}

/** Same encoded form: the rule did not change (stored rules are not re-checked when others change). */
const sameRule = (a: Rule, b: Rule): boolean => JSON.stringify(Schema.encodeSync(Rule)(a)) === JSON.stringify(Schema.encodeSync(Rule)(b))

/** The checked content writes over the ContentRepo in context (handlers build it once, with their repositories). */
export const makeContentChanges = Effect.gen(function* () {
  const content = yield* ContentRepo

  const saveTemplate = Effect.fn("ContentChanges.saveTemplate")(
    function* (id: TenantId, input: TemplateInput, options: SaveOptions) {
      yield* content.requireTenant(id)
      const current = yield* content.findTemplate(id, input.id)
      if (options.mode === "create" && Option.isSome(current)) {
        return yield* new TemplateAlreadyExists({
          templateId: input.id,
          message: `template "${input.id}" already exists; change it with PUT or PATCH /tenants/${id}/templates/${input.id}`
        })
      }
      if (options.mode === "update" && Option.isNone(current)) return yield* TemplateNotFound.of(input.id)
      const prepared = prepareTemplate(
        new Template({
          id: input.id,
          name: input.name,
          html: input.html,
          ...(input.text !== undefined ? { text: input.text } : {}),
          ...(input.delivery !== undefined ? { delivery: input.delivery } : {})
        })
      )
      if (Either.isLeft(prepared)) {
        const e = prepared.left
        return yield* new TemplateInvalid({ templateId: input.id, part: e.part, message: `the ${e.part} part does not compile: ${e.message}` })
      }
      // `<img src="image:ID">` must name an image of the library (issue 17)
      const known = yield* content.imageIds(id)
      const unknownImages = prepared.right.compiled.images.filter((i) => !known.has(i))
      if (unknownImages.length > 0) {
        return yield* new TemplateInvalid({
          templateId: input.id,
          part: "html",
          message:
            `unknown image${unknownImages.length > 1 ? "s" : ""} ${unknownImages.map((i) => `"${i}"`).join(", ")} in <img src="image:…">: ` +
            `upload ${unknownImages.length > 1 ? "them" : "it"} first (POST /tenants/${id}/images/{imageId}) or fix the id` +
            (known.size > 0 ? `; this tenant has ${[...known].map((i) => `"${i}"`).join(", ")}` : "; this tenant has no images yet")
        })
      }
      const { template, previousVersion } = yield* content.writeTemplate(id, prepared.right.template, current, options)
      return { template, removed: prepared.right.removed, previousVersion } satisfies SavedTemplate
    },
    (effect) => content.exclusive(effect)
  )

  /**
   * Read-modify-write of the ordered rule list: `change` gets the stored list
   * and returns the new one (or fails). New and changed rules are checked with
   * ruleProblems against the tenant's templates; unchanged ones are not, so a
   * rule that predates a check does not block changes to the others.
   */
  const updateRules = <E>(id: TenantId, change: (rules: ReadonlyArray<Rule>) => Either.Either<ReadonlyArray<Rule>, E>) =>
    content
      .exclusive(
        Effect.gen(function* () {
          yield* content.requireTenant(id)
          const before = yield* content.rules(id)
          const after = yield* change(before)
          const templateIds = yield* content.templateIds(id)
          for (const rule of after) {
            const old = before.find((r) => r.id === rule.id)
            if (old !== undefined && sameRule(old, rule)) continue
            const problems = ruleProblems(rule, templateIds)
            if (problems.length > 0) {
              return yield* new RuleInvalid({ ruleId: rule.id, problems, message: `rule "${rule.id}": ${problems.join("; ")}` })
            }
          }
          return yield* content.writeRules(id, after)
        })
      )
      .pipe(Effect.withSpan("ContentChanges.updateRules"))

  return { saveTemplate, updateRules } as const
})
