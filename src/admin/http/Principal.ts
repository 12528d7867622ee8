import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSecurity from "@effect/platform/HttpApiSecurity"
import { Context, Effect, Schema } from "effect"
import { TenantNotFound } from "../../domain/Errors.js"
import { Role } from "../../domain/Role.js"
import { Forbidden, Unauthorized } from "./Errors.js"

/**
 * Who is calling the admin API, and what they may do.
 *
 * Every authenticated endpoint runs behind AdminAuth, which turns the bearer
 * token (operator token, session token or tenant API token) into a Principal.
 * Handlers never read a tenant id or role from a request body: they call
 * `requireTenantRole(pathTenantId, roles)` first. A tenant member naming
 * another tenant's id gets TenantNotFound (404) — the same answer as for an
 * id that does not exist, so ids of other tenants cannot be probed — and a
 * member of the right tenant whose role is not allowed gets Forbidden (403).
 */

/** An operator API token: every tenant, every endpoint. */
export class Operator extends Schema.TaggedClass<Operator>()("Operator", {
  tokenId: Schema.String,
  name: Schema.String
}) {}

/** A person or an automation acting inside one tenant with one role. */
export class TenantMember extends Schema.TaggedClass<TenantMember>()("TenantMember", {
  tenantId: Schema.String,
  role: Role,
  /** the user's id, or the API token's id */
  subjectId: Schema.String,
  /** the user's email, or the API token's name */
  label: Schema.String,
  via: Schema.Literal("session", "apiToken")
}) {}

export type Principal = Operator | TenantMember

export class CurrentPrincipal extends Context.Tag("imprint/admin/CurrentPrincipal")<CurrentPrincipal, Principal>() {}

/** Resolves `Authorization: Bearer <token>` to a Principal, or fails with 401. */
export class AdminAuth extends HttpApiMiddleware.Tag<AdminAuth>()("imprint/admin/AdminAuth", {
  failure: Unauthorized,
  provides: CurrentPrincipal,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

/** How the audit log and logs name the caller: never a secret. */
export const principalLabel = (p: Principal): string =>
  p._tag === "Operator" ? `operator:${p.name}` : `${p.via === "session" ? "user" : "api-token"}:${p.label}`

/** Operators only (tenants, metrics). */
export const requireOperator: Effect.Effect<Operator, Forbidden, CurrentPrincipal> = Effect.flatMap(CurrentPrincipal, (p) =>
  p._tag === "Operator"
    ? Effect.succeed(p)
    : Effect.fail(new Forbidden({ message: "only an operator token may do this; tenant members manage their own tenant under /tenants/{tenantId}/…" }))
)

/**
 * The caller may act on `tenantId` with one of `allowed`. Operators always
 * may; a member of another tenant gets 404 as if the tenant did not exist.
 * With `allowed` empty: operators only, but still 404 for other tenants' ids.
 */
export const requireTenantRole = (tenantId: string, allowed: ReadonlyArray<Role>) =>
  Effect.flatMap(CurrentPrincipal, (p): Effect.Effect<Principal, TenantNotFound | Forbidden> => {
    if (p._tag === "Operator") return Effect.succeed(p)
    if (p.tenantId !== tenantId) return Effect.fail(new TenantNotFound({ tenantId }))
    if (allowed.includes(p.role)) return Effect.succeed(p)
    return Effect.fail(
      new Forbidden({
        message: allowed.length === 0 ? "only an operator token may do this" : `the ${p.role} role may not do this; it needs one of: ${allowed.join(", ")}`
      })
    )
  })
