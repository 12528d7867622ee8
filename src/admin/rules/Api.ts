import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import { RuleAlreadyExists, RuleInvalid, RuleNotFound, RuleOrderInvalid } from "../../domain/ContentErrors.js"
import { TenantNotFound } from "../../domain/Errors.js"
import { Rule } from "../../domain/Rule.js"
import { Forbidden, StoreFailure } from "../http/Errors.js"
import { AdminAuth } from "../http/Principal.js"

/**
 * The ordered rules of one tenant (issue 6). Order is meaning: the first
 * matching rule wins for a recipient (unless it says `continue`). Rules are
 * checked against the tenant's templates when saved (400 naming the problem).
 */

const STRICT = { parseOptions: { onExcessProperty: "error", errors: "all" } } as const

/** A rule as the API shows and takes it: the domain Rule, defaults filled in. */
export const RuleView = Rule

/** POST: a rule, optionally inserted at `at` (0 = first; absent or past the end: last). */
export const RuleCreate = Schema.Struct({
  ...Rule.fields,
  at: Schema.optional(Schema.Int.pipe(Schema.nonNegative()))
}).annotations({ ...STRICT, identifier: "RuleCreate" })

/** PUT: the whole rule (the id comes from the path); it keeps its place in the order. */
export const RuleReplace = Schema.Struct(Rule.fields)
  .pipe(Schema.omit("id"))
  .annotations({ ...STRICT, identifier: "RuleReplace" })

/** The new order: every current rule id exactly once. */
export const RuleOrder = Schema.Struct({ ids: Schema.Array(Schema.String) }).annotations({ ...STRICT, identifier: "RuleOrder" })

const tenantId = HttpApiSchema.param("tenantId", Schema.String)
const ruleId = HttpApiSchema.param("ruleId", Schema.String)

export class RulesGroup extends HttpApiGroup.make("rules")
  .add(HttpApiEndpoint.get("list")`/tenants/${tenantId}/rules`.addSuccess(Schema.Array(RuleView)))
  .add(HttpApiEndpoint.get("get")`/tenants/${tenantId}/rules/${ruleId}`.addSuccess(RuleView))
  .add(
    HttpApiEndpoint.post("create")`/tenants/${tenantId}/rules`
      .setPayload(RuleCreate)
      .addSuccess(RuleView, { status: 201 })
      .addError(RuleAlreadyExists, { status: 409 })
  )
  .add(HttpApiEndpoint.put("replace")`/tenants/${tenantId}/rules/${ruleId}`.setPayload(RuleReplace).addSuccess(RuleView))
  .add(HttpApiEndpoint.del("delete")`/tenants/${tenantId}/rules/${ruleId}`.addSuccess(HttpApiSchema.NoContent))
  .add(
    HttpApiEndpoint.post("reorder")`/tenants/${tenantId}/rules/order`
      .setPayload(RuleOrder)
      .addSuccess(Schema.Array(RuleView))
      .addError(RuleOrderInvalid, { status: 400 })
  )
  .add(HttpApiEndpoint.post("enable")`/tenants/${tenantId}/rules/${ruleId}/enable`.addSuccess(RuleView))
  .add(HttpApiEndpoint.post("disable")`/tenants/${tenantId}/rules/${ruleId}/disable`.addSuccess(RuleView))
  .addError(TenantNotFound, { status: 404 })
  .addError(RuleNotFound, { status: 404 })
  .addError(RuleInvalid, { status: 400 })
  .addError(StoreFailure)
  .addError(Forbidden)
  .middleware(AdminAuth)
  .annotate(OpenApi.Description, "A tenant's ordered signature rules: which template goes on which message.") {}
