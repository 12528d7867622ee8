import { Clock, Effect, Either, Option, Schema } from "effect"
import {
  RuleInvalid, TemplateAlreadyExists, TemplateInUse, TemplateInvalid, TemplateNotFound, TemplateVersionNotFound
} from "../domain/ContentErrors.js"
import { TenantNotFound } from "../domain/Errors.js"
import type { ImageDeliveryMode } from "../domain/Images.js"
import { Rule } from "../domain/Rule.js"
import { Template } from "../domain/Template.js"
import type { TenantId } from "../domain/Tenant.js"
import { ruleProblems } from "../signature/RuleValidation.js"
import { prepareTemplate } from "../signature/TemplatePreparation.js"
import type { Removal } from "../signature/TemplateSanitizer.js"
import * as Keys from "./Keys.js"
import { Db } from "./Keys.js"
import { Store, Write, type WriteOp } from "./Store.js"
import { RuleList, TenantRepo } from "./TenantRepo.js"

/**
 * Templates and rules changed one at a time (the admin API), instead of
 * re-importing the whole tenant. Each change is one store batch under the
 * tenant prefix, so the tenant's actor reloads from the change feed and the
 * next relayed message uses it. Every template save sanitizes and compiles
 * (what is stored renders), bumps `version`, and keeps the saved version in
 * the template's history; every rule change is checked with ruleProblems
 * against the tenant's templates. Changes run under TenantRepo's import lock,
 * so a concurrent import or change cannot be overwritten by a stale read.
 */

/** Saved versions kept per template; older ones are dropped in the same batch as the save. */
export const MAX_TEMPLATE_VERSIONS = 100

/** One saved version of a template: what was stored, when, by whom. */
export class TemplateVersion extends Schema.Class<TemplateVersion>("TemplateVersion")({
  template: Template,
  /** epoch milliseconds; absent for a version saved before the history (a tenant import) */
  savedAt: Schema.optional(Schema.Number),
  /** who saved it (principalLabel), never a secret */
  savedBy: Schema.String,
  /** set when the save restored an older version */
  restoredFrom: Schema.optional(Schema.Int)
}) {}

export interface TemplateInput {
  readonly id: string
  readonly name: string
  readonly html: string
  readonly text?: string | undefined
  /** how the template's library images travel; absent: the rule's, else the server's default */
  readonly delivery?: ImageDeliveryMode | undefined
}

export interface SaveOptions {
  readonly mode: "create" | "update"
  readonly savedBy: string
  readonly restoredFrom?: number
}

export interface SavedTemplate {
  readonly template: Template
  /** what the sanitizer took out */
  readonly removed: ReadonlyArray<Removal>
  /** the version this save replaced (undefined: a new template) */
  readonly previousVersion: number | undefined
}

const versionOfKey = (key: string): number => Number(key.slice(key.lastIndexOf("/") + 1))

/** Same encoded form: the rule did not change (stored rules are not re-checked when others change). */
const sameRule = (a: Rule, b: Rule): boolean =>
  JSON.stringify(Schema.encodeSync(Rule)(a)) === JSON.stringify(Schema.encodeSync(Rule)(b))

const make = Effect.gen(function* () {
  const store = yield* Store
  const tenants = yield* TenantRepo

  const requireTenant = (id: TenantId) =>
    Effect.flatMap(tenants.getTenant(id), Option.match({
      onNone: () => Effect.fail(new TenantNotFound({ tenantId: id })),
      onSome: Effect.succeed
    }))

  const findTemplate = Effect.fn("ContentRepo.template")(function* (id: TenantId, templateId: string) {
    return yield* store.get(Db.templates, Template, Keys.templateKey(id, templateId))
  })

  /** The stored template, or TemplateNotFound: lookups go under this tenant's prefix only. */
  const template = Effect.fn("ContentRepo.requireTemplate")(function* (id: TenantId, templateId: string) {
    return yield* Option.match(yield* findTemplate(id, templateId), {
      onNone: () => Effect.fail(TemplateNotFound.of(templateId)),
      onSome: Effect.succeed
    })
  })

  /** The tenant's templates in id order; TenantNotFound for a tenant that does not exist. */
  const templates = Effect.fn("ContentRepo.templates")(function* (id: TenantId) {
    yield* requireTenant(id)
    return yield* tenants.templates(id)
  })

  /** The tenant's rules in their order; TenantNotFound for a tenant that does not exist. */
  const rules = Effect.fn("ContentRepo.rules")(function* (id: TenantId) {
    yield* requireTenant(id)
    return yield* tenants.rules(id)
  })

  const saveTemplate = Effect.fn("ContentRepo.saveTemplate")(function* (id: TenantId, input: TemplateInput, options: SaveOptions) {
    yield* requireTenant(id)
    const current = yield* findTemplate(id, input.id)
    if (options.mode === "create" && Option.isSome(current)) {
      return yield* new TemplateAlreadyExists({
        templateId: input.id, message: `template "${input.id}" already exists; change it with PUT or PATCH /tenants/${id}/templates/${input.id}`
      })
    }
    if (options.mode === "update" && Option.isNone(current)) return yield* TemplateNotFound.of(input.id)
    const prepared = prepareTemplate(new Template({
      id: input.id, name: input.name, html: input.html, ...(input.text !== undefined ? { text: input.text } : {}),
      ...(input.delivery !== undefined ? { delivery: input.delivery } : {})
    }))
    if (Either.isLeft(prepared)) {
      const e = prepared.left
      return yield* new TemplateInvalid({ templateId: input.id, part: e.part, message: `the ${e.part} part does not compile: ${e.message}` })
    }
    // `<img src="image:ID">` must name an image of the library (issue 17)
    const known = new Set((yield* store.keys(Db.images, Keys.imagePrefix(id))).map((k) => k.slice(Keys.imagePrefix(id).length)))
    const unknownImages = prepared.right.compiled.images.filter((i) => !known.has(i))
    if (unknownImages.length > 0) {
      return yield* new TemplateInvalid({
        templateId: input.id, part: "html",
        message: `unknown image${unknownImages.length > 1 ? "s" : ""} ${unknownImages.map((i) => `"${i}"`).join(", ")} in <img src="image:…">: ` +
          `upload ${unknownImages.length > 1 ? "them" : "it"} first (POST /tenants/${id}/images/{imageId}) or fix the id` +
          (known.size > 0 ? `; this tenant has ${[...known].map((i) => `"${i}"`).join(", ")}` : "; this tenant has no images yet")
      })
    }
    // a whole-tenant import may have reset `version`; numbering continues after the newest kept version
    const history = yield* store.keys(Db.templateVersions, Keys.templateVersionPrefix(id, input.id))
    const newest = history.length > 0 ? versionOfKey(history[history.length - 1]) : 0
    const previousVersion = Option.getOrUndefined(Option.map(current, (t) => t.version))
    const version = Math.max(previousVersion ?? 0, newest) + 1
    const saved = new Template({ ...prepared.right.template, version })
    const savedAt = yield* Clock.currentTimeMillis
    const entry = new TemplateVersion({
      template: saved, savedAt, savedBy: options.savedBy,
      ...(options.restoredFrom !== undefined ? { restoredFrom: options.restoredFrom } : {})
    })
    // the version being replaced came from an import (no history entry): keep it too, so it can be restored
    const replaced = Option.filter(current, (t) => !history.includes(Keys.templateVersionKey(id, t.id, t.version)))
    const kept = Option.match(replaced, {
      onNone: () => [],
      onSome: (t) => [Write.put(Db.templateVersions, TemplateVersion, Keys.templateVersionKey(id, t.id, t.version),
        new TemplateVersion({ template: t, savedBy: "tenant import (before the history)" }))]
    })
    const dropped = history.slice(0, Math.max(0, history.length + kept.length + 1 - MAX_TEMPLATE_VERSIONS))
    yield* store.batch([
      Write.put(Db.templates, Template, Keys.templateKey(id, saved.id), saved),
      ...kept,
      Write.put(Db.templateVersions, TemplateVersion, Keys.templateVersionKey(id, saved.id, version), entry),
      ...dropped.map((key) => Write.remove(Db.templateVersions, key))
    ])
    return { template: saved, removed: prepared.right.removed, previousVersion } satisfies SavedTemplate
  }, (effect) => tenants.exclusive(effect))

  const deleteTemplate = Effect.fn("ContentRepo.deleteTemplate")(function* (id: TenantId, templateId: string) {
    yield* requireTenant(id)
    const existing = yield* template(id, templateId)
    const users = (yield* tenants.rules(id)).filter((r) => r.templateId === templateId).map((r) => r.id)
    if (users.length > 0) {
      return yield* new TemplateInUse({
        templateId, ruleIds: users,
        message: `template "${templateId}" is used by rule${users.length > 1 ? "s" : ""} ${users.map((r) => `"${r}"`).join(", ")}; point them at another template or delete them first`
      })
    }
    yield* store.batch([
      Write.remove(Db.templates, Keys.templateKey(id, templateId)),
      Write.removePrefix(Db.templateVersions, Keys.templateVersionPrefix(id, templateId))
    ])
    return existing
  }, (effect) => tenants.exclusive(effect))

  /** Saved versions, oldest first; 404 when the template itself is gone. */
  const versions = Effect.fn("ContentRepo.versions")(function* (id: TenantId, templateId: string) {
    yield* template(id, templateId)
    return (yield* store.list(Db.templateVersions, TemplateVersion, Keys.templateVersionPrefix(id, templateId))).map((e) => e.value)
  })

  const version = Effect.fn("ContentRepo.version")(function* (id: TenantId, templateId: string, v: number) {
    yield* template(id, templateId)
    return yield* Option.match(yield* store.get(Db.templateVersions, TemplateVersion, Keys.templateVersionKey(id, templateId, v)), {
      onNone: () => Effect.fail(new TemplateVersionNotFound({
        templateId, version: v, message: `template "${templateId}" has no saved version ${v}; GET its /versions for the ones kept`
      })),
      onSome: Effect.succeed
    })
  })

  /**
   * Read-modify-write of the ordered rule list: `change` gets the stored list
   * and returns the new one (or fails). New and changed rules are checked with
   * ruleProblems against the tenant's templates; unchanged ones are not, so a
   * rule that predates a check does not block changes to the others.
   */
  const updateRules = <E>(id: TenantId, change: (rules: ReadonlyArray<Rule>) => Either.Either<ReadonlyArray<Rule>, E>) =>
    tenants.exclusive(Effect.gen(function* () {
      yield* requireTenant(id)
      const before = yield* tenants.rules(id)
      const after = yield* change(before)
      const templateIds = new Set((yield* store.keys(Db.templates, Keys.templatePrefix(id))).map((k) => k.slice(Keys.templatePrefix(id).length)))
      for (const rule of after) {
        const old = before.find((r) => r.id === rule.id)
        if (old !== undefined && sameRule(old, rule)) continue
        const problems = ruleProblems(rule, templateIds)
        if (problems.length > 0) {
          return yield* new RuleInvalid({ ruleId: rule.id, problems, message: `rule "${rule.id}": ${problems.join("; ")}` })
        }
      }
      const ops: Array<WriteOp> = [Write.put(Db.rules, RuleList, Keys.rulesKey(id), after)]
      yield* store.batch(ops)
      return after
    })).pipe(Effect.withSpan("ContentRepo.updateRules"))

  return { templates, rules, template, findTemplate, saveTemplate, deleteTemplate, versions, version, updateRules } as const
})

export class ContentRepo extends Effect.Service<ContentRepo>()("imprint/ContentRepo", {
  effect: make,
  dependencies: [TenantRepo.Default, Store.Default]
}) {}
