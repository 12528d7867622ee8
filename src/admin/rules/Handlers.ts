import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { Effect, Either } from "effect"
import { RuleAlreadyExists, RuleNotFound, RuleOrderInvalid } from "../../domain/ContentErrors.js"
import { Rule } from "../../domain/Rule.js"
import type { TenantId } from "../../domain/Tenant.js"
import { makeContentChanges } from "../../actors/ContentChanges.js"
import { ContentRepo } from "../../store/ContentRepo.js"
import { Api } from "../Api.js"
import { recordAudit } from "../audit/Audit.js"
import { CONTENT_ROLES, READ_ROLES } from "../../domain/Role.js"
import { authorize, catchStore } from "../http/ContentAccess.js"

/**
 * Rule handlers. Every change is a pure edit of the ordered list, applied by
 * ContentChanges.updateRules under the import lock (read, edit, check, write in
 * one batch), so two editors cannot lose each other's changes.
 */

const indexOf = (rules: ReadonlyArray<Rule>, ruleId: string) => rules.findIndex((r) => r.id === ruleId)

const withRule = (ruleId: string, f: (rule: Rule) => Rule) => (rules: ReadonlyArray<Rule>) => {
  const i = indexOf(rules, ruleId)
  if (i === -1) return Either.left(RuleNotFound.of(ruleId))
  return Either.right(rules.map((r, j) => (j === i ? f(r) : r)))
}

/** `ids` must name every current rule once; the error lists what is missing, unknown or repeated. */
export const reorderRules = (rules: ReadonlyArray<Rule>, ids: ReadonlyArray<string>): Either.Either<ReadonlyArray<Rule>, RuleOrderInvalid> => {
  const current = new Set(rules.map((r) => r.id))
  const seen = new Set<string>()
  const duplicates = new Set<string>()
  for (const id of ids) (seen.has(id) ? duplicates : seen).add(id)
  const missing = rules.map((r) => r.id).filter((id) => !seen.has(id))
  const unknown = [...seen].filter((id) => !current.has(id))
  if (missing.length === 0 && unknown.length === 0 && duplicates.size === 0) {
    return Either.right(ids.map((id) => rules[indexOf(rules, id)]))
  }
  const parts = [
    missing.length > 0 ? `missing: ${missing.join(", ")}` : "",
    unknown.length > 0 ? `unknown: ${unknown.join(", ")}` : "",
    duplicates.size > 0 ? `given more than once: ${[...duplicates].join(", ")}` : ""
  ].filter((p) => p !== "")
  return Either.left(
    new RuleOrderInvalid({
      missing,
      unknown,
      duplicates: [...duplicates],
      message: `ids must list every current rule exactly once (${parts.join("; ")}); GET /rules for the current ids`
    })
  )
}

export const RulesLive = HttpApiBuilder.group(Api, "rules", (handlers) =>
  Effect.gen(function* () {
    const content = yield* ContentRepo
    const changes = yield* makeContentChanges

    const findIn = (id: TenantId, ruleId: string) =>
      Effect.flatMap(content.rules(id), (rules) => {
        const rule = rules.find((r) => r.id === ruleId)
        return rule === undefined ? Effect.fail(RuleNotFound.of(ruleId)) : Effect.succeed(rule)
      })

    /** enable/disable: no entry and no write when the rule is already in that state */
    const setEnabled = (rawTenantId: string, ruleId: string, enabled: boolean) =>
      Effect.gen(function* () {
        const id = yield* authorize(rawTenantId, CONTENT_ROLES)
        const rule = yield* findIn(id, ruleId)
        if (rule.enabled === enabled) return rule
        const rules = yield* changes.updateRules(
          id,
          withRule(ruleId, (r) => new Rule({ ...r, enabled }))
        )
        yield* recordAudit(id, enabled ? "rule.enable" : "rule.disable", `rule/${ruleId}`, { before: String(!enabled), after: String(enabled) })
        return rules[indexOf(rules, ruleId)]
      }).pipe(catchStore)

    return handlers
      .handle("list", ({ path }) => authorize(path.tenantId, READ_ROLES).pipe(Effect.flatMap(content.rules), catchStore))
      .handle("get", ({ path }) =>
        authorize(path.tenantId, READ_ROLES).pipe(
          Effect.flatMap((id) => findIn(id, path.ruleId)),
          catchStore
        )
      )
      .handle("create", ({ path, payload }) =>
        Effect.gen(function* () {
          const id = yield* authorize(path.tenantId, CONTENT_ROLES)
          const { at, ...fields } = payload
          const rule = new Rule(fields)
          const rules = yield* changes.updateRules(id, (current) => {
            if (indexOf(current, rule.id) !== -1) {
              return Either.left(
                new RuleAlreadyExists({
                  ruleId: rule.id,
                  message: `rule "${rule.id}" already exists; change it with PUT /tenants/${id}/rules/${rule.id}`
                })
              )
            }
            const position = Math.min(at ?? current.length, current.length)
            return Either.right([...current.slice(0, position), rule, ...current.slice(position)])
          })
          const position = indexOf(rules, rule.id)
          yield* recordAudit(id, "rule.create", `rule/${rule.id}`, { after: `position ${position}`, detail: `template ${rule.templateId}` })
          return rules[position]
        }).pipe(catchStore)
      )
      .handle("replace", ({ path, payload }) =>
        Effect.gen(function* () {
          const id = yield* authorize(path.tenantId, CONTENT_ROLES)
          const rules = yield* changes.updateRules(
            id,
            withRule(path.ruleId, () => new Rule({ ...payload, id: path.ruleId }))
          )
          yield* recordAudit(id, "rule.update", `rule/${path.ruleId}`)
          return rules[indexOf(rules, path.ruleId)]
        }).pipe(catchStore)
      )
      .handle("delete", ({ path }) =>
        Effect.gen(function* () {
          const id = yield* authorize(path.tenantId, CONTENT_ROLES)
          yield* changes.updateRules(id, (current) =>
            indexOf(current, path.ruleId) === -1 ? Either.left(RuleNotFound.of(path.ruleId)) : Either.right(current.filter((r) => r.id !== path.ruleId))
          )
          yield* recordAudit(id, "rule.delete", `rule/${path.ruleId}`)
        }).pipe(catchStore)
      )
      .handle("reorder", ({ path, payload }) =>
        Effect.gen(function* () {
          const id = yield* authorize(path.tenantId, CONTENT_ROLES)
          let before: ReadonlyArray<string> = []
          const rules = yield* changes.updateRules(id, (current) => {
            before = current.map((r) => r.id)
            return reorderRules(current, payload.ids)
          })
          yield* recordAudit(id, "rule.reorder", "rules", { before: before.join(","), after: rules.map((r) => r.id).join(",") })
          return rules
        }).pipe(catchStore)
      )
      .handle("enable", ({ path }) => setEnabled(path.tenantId, path.ruleId, true))
      .handle("disable", ({ path }) => setEnabled(path.tenantId, path.ruleId, false))
  })
)
