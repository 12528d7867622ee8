import { Clock, Effect, Option, Schema } from "effect"
import { TemplateInUse, TemplateNotFound, TemplateVersionNotFound } from "../domain/ContentErrors.js"
import { TenantNotFound } from "../domain/Errors.js"
import { Rule } from "../domain/Rule.js"
import { Template } from "../domain/Template.js"
import type { TenantId } from "../domain/Tenant.js"
import * as Keys from "./Keys.js"
import { Db } from "./Keys.js"
import { Store, Write } from "./Store.js"
import { RuleList, TenantRepo } from "./TenantRepo.js"

/**
 * Templates and rules changed one at a time (the admin API), instead of
 * re-importing the whole tenant. Each change is one store batch under the
 * tenant prefix, so the tenant's actor reloads from the change feed and the
 * next relayed message uses it. Every template write bumps `version` and keeps
 * the saved version in the template's history. The repository stores what it
 * is given: actors/ContentChanges sanitizes and compiles templates and checks
 * rules first, and runs the read-check-write under TenantRepo's import lock
 * (`exclusive`), so a concurrent import or change cannot be overwritten by a
 * stale read; writeTemplate and writeRules expect to run under that lock.
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

export interface SaveOptions {
  readonly mode: "create" | "update"
  readonly savedBy: string
  readonly restoredFrom?: number
}

const versionOfKey = (key: string): number => Number(key.slice(key.lastIndexOf("/") + 1))

const make = Effect.gen(function* () {
  const store = yield* Store
  const tenants = yield* TenantRepo

  const requireTenant = (id: TenantId) =>
    Effect.flatMap(
      tenants.getTenant(id),
      Option.match({
        onNone: () => Effect.fail(new TenantNotFound({ tenantId: id })),
        onSome: Effect.succeed
      })
    )

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

  /** The ids of the tenant's templates (rule checks). */
  const templateIds = Effect.fn("ContentRepo.templateIds")(function* (id: TenantId) {
    return new Set((yield* store.keys(Db.templates, Keys.templatePrefix(id))).map((k) => k.slice(Keys.templatePrefix(id).length)))
  })

  /** The ids of the tenant's library images (the template save's `image:` check). */
  const imageIds = Effect.fn("ContentRepo.imageIds")(function* (id: TenantId) {
    return new Set((yield* store.keys(Db.images, Keys.imagePrefix(id))).map((k) => k.slice(Keys.imagePrefix(id).length)))
  })

  /**
   * Stores a checked template as the next version (`current`: what it
   * replaces, read under the same lock). Runs under `tenants.exclusive`
   * (actors/ContentChanges).
   */
  const writeTemplate = Effect.fn("ContentRepo.writeTemplate")(function* (
    id: TenantId,
    template: Template,
    current: Option.Option<Template>,
    options: SaveOptions
  ) {
    // a whole-tenant import may have reset `version`; numbering continues after the newest kept version
    const history = yield* store.keys(Db.templateVersions, Keys.templateVersionPrefix(id, template.id))
    const newest = history.length > 0 ? versionOfKey(history[history.length - 1]) : 0
    const previousVersion = Option.getOrUndefined(Option.map(current, (t) => t.version))
    const version = Math.max(previousVersion ?? 0, newest) + 1
    const saved = new Template({ ...template, version })
    const savedAt = yield* Clock.currentTimeMillis
    const entry = new TemplateVersion({
      template: saved,
      savedAt,
      savedBy: options.savedBy,
      ...(options.restoredFrom !== undefined ? { restoredFrom: options.restoredFrom } : {})
    })
    // the version being replaced came from an import (no history entry): keep it too, so it can be restored
    const replaced = Option.filter(current, (t) => !history.includes(Keys.templateVersionKey(id, t.id, t.version)))
    const kept = Option.match(replaced, {
      onNone: () => [],
      onSome: (t) => [
        Write.put(
          Db.templateVersions,
          TemplateVersion,
          Keys.templateVersionKey(id, t.id, t.version),
          new TemplateVersion({ template: t, savedBy: "tenant import (before the history)" })
        )
      ]
    })
    const dropped = history.slice(0, Math.max(0, history.length + kept.length + 1 - MAX_TEMPLATE_VERSIONS))
    yield* store.batch([
      Write.put(Db.templates, Template, Keys.templateKey(id, saved.id), saved),
      ...kept,
      Write.put(Db.templateVersions, TemplateVersion, Keys.templateVersionKey(id, saved.id, version), entry),
      ...dropped.map((key) => Write.remove(Db.templateVersions, key))
    ])
    return { template: saved, previousVersion }
  })

  const deleteTemplate = Effect.fn("ContentRepo.deleteTemplate")(
    function* (id: TenantId, templateId: string) {
      yield* requireTenant(id)
      const existing = yield* template(id, templateId)
      const users = (yield* tenants.rules(id)).filter((r) => r.templateId === templateId).map((r) => r.id)
      if (users.length > 0) {
        return yield* new TemplateInUse({
          templateId,
          ruleIds: users,
          message: `template "${templateId}" is used by rule${users.length > 1 ? "s" : ""} ${users.map((r) => `"${r}"`).join(", ")}; point them at another template or delete them first`
        })
      }
      yield* store.batch([
        Write.remove(Db.templates, Keys.templateKey(id, templateId)),
        Write.removePrefix(Db.templateVersions, Keys.templateVersionPrefix(id, templateId))
      ])
      return existing
    },
    (effect) => tenants.exclusive(effect)
  )

  /** Saved versions, oldest first; 404 when the template itself is gone. */
  const versions = Effect.fn("ContentRepo.versions")(function* (id: TenantId, templateId: string) {
    yield* template(id, templateId)
    return (yield* store.list(Db.templateVersions, TemplateVersion, Keys.templateVersionPrefix(id, templateId))).map((e) => e.value)
  })

  const version = Effect.fn("ContentRepo.version")(function* (id: TenantId, templateId: string, v: number) {
    yield* template(id, templateId)
    return yield* Option.match(yield* store.get(Db.templateVersions, TemplateVersion, Keys.templateVersionKey(id, templateId, v)), {
      onNone: () =>
        Effect.fail(
          new TemplateVersionNotFound({
            templateId,
            version: v,
            message: `template "${templateId}" has no saved version ${v}; GET its /versions for the ones kept`
          })
        ),
      onSome: Effect.succeed
    })
  })

  /** Replaces the ordered rule list with checked rules; runs under `tenants.exclusive` (actors/ContentChanges). */
  const writeRules = Effect.fn("ContentRepo.writeRules")(function* (id: TenantId, rules: ReadonlyArray<Rule>) {
    yield* store.batch([Write.put(Db.rules, RuleList, Keys.rulesKey(id), rules)])
    return rules
  })

  return {
    templates,
    rules,
    template,
    findTemplate,
    requireTenant,
    templateIds,
    imageIds,
    writeTemplate,
    deleteTemplate,
    versions,
    version,
    writeRules,
    /** runs `effect` while no import or other content change runs (TenantRepo's lock) */
    exclusive: tenants.exclusive
  } as const
})

export class ContentRepo extends Effect.Service<ContentRepo>()("imprint/ContentRepo", {
  effect: make,
  dependencies: [TenantRepo.Default, Store.Default]
}) {}
