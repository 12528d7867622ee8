import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Effect, Option } from "effect"
import { AccountRepo, type AccountUser } from "../../store/AccountRepo.js"
import * as PasswordHash from "../../store/PasswordHash.js"
import { LastOwnerRequired, LoginNameTaken, UserNotFound } from "./Errors.js"
import { Api, Forbidden } from "../Api.js"
import { recordAudit } from "../audit/Audit.js"
import { LoginThrottle, type ThrottleKey } from "../auth/LoginThrottle.js"
import { checkPassword, normalizePassword } from "../auth/PasswordPolicy.js"
import { type Principal, requireTenantRole } from "../http/Principal.js"
import { ADMIN_ROLES, READ_ROLES } from "../../domain/Role.js"
import { managesOwners, requireTenantExists, storeFailure, userView } from "./Views.js"

/**
 * /tenants/{tenantId}/users: owners and admins manage members; only owners
 * (and operators) touch owners; a tenant keeps at least one enabled owner.
 * Every lookup is under the path's tenant, so another tenant's user id is
 * 404 like an unknown one. Members change their own password with their
 * current one; a password change ends the user's other sessions and devices.
 */

const notFound = (userId: string) => new UserNotFound({ userId, message: `this tenant has no user ${userId}; GET /tenants/{tenantId}/users lists them` })

const ownersOnly = (what: string) => new Forbidden({ message: `only an owner may ${what}` })

const lastOwner = () => new LastOwnerRequired({ message: "a tenant keeps at least one enabled owner: make another user owner first" })

export const UsersLive = HttpApiBuilder.group(Api, "users", (handlers) =>
  Effect.gen(function* () {
    const accounts = yield* AccountRepo
    const throttle = yield* LoginThrottle

    /** role check first (404 for another tenant's id, 403 for a role), then the tenant must exist */
    const guard = (tenantId: string, roles: typeof ADMIN_ROLES) => Effect.zipLeft(requireTenantRole(tenantId, roles), requireTenantExists(tenantId))

    const target = (tenantId: string, userId: string) =>
      Effect.flatMap(accounts.getUser(tenantId, userId), Option.match({ onNone: () => Effect.fail(notFound(userId)), onSome: Effect.succeed }))

    const mayTouch = (p: Principal, user: AccountUser, what: string) =>
      user.role === "owner" && !managesOwners(p) ? Effect.fail(ownersOnly(what)) : Effect.void

    return handlers
      .handle("list", ({ path }) =>
        guard(path.tenantId, ADMIN_ROLES).pipe(
          Effect.zipRight(accounts.listUsers(path.tenantId)),
          Effect.map((us) => us.map(userView)),
          Effect.catchTags({ StoreError: storeFailure, StoreDecodeError: storeFailure })
        )
      )
      .handle("get", ({ path }) =>
        guard(path.tenantId, ADMIN_ROLES).pipe(
          Effect.zipRight(target(path.tenantId, path.userId)),
          Effect.map(userView),
          Effect.catchTags({ StoreError: storeFailure, StoreDecodeError: storeFailure })
        )
      )
      .handle("create", ({ path, payload }) =>
        Effect.gen(function* () {
          const principal = yield* guard(path.tenantId, ADMIN_ROLES)
          if (payload.role === "owner" && !managesOwners(principal)) return yield* ownersOnly("create an owner")
          const password = yield* checkPassword(payload.password, { email: payload.email })
          const user = yield* accounts
            .createUser(path.tenantId, { ...payload, password })
            .pipe(
              Effect.catchTag(
                "EmailTaken",
                (e) => new LoginNameTaken({ message: `${e.email} already signs in (login names are unique across tenants); choose another email` })
              )
            )
          yield* recordAudit(path.tenantId, "user.create", `user/${user.email}`, { after: user.role })
          return userView(user)
        }).pipe(Effect.catchTags({ StoreError: storeFailure, StoreDecodeError: storeFailure }))
      )
      .handle("update", ({ path, payload }) =>
        Effect.gen(function* () {
          const principal = yield* guard(path.tenantId, ADMIN_ROLES)
          const before = yield* target(path.tenantId, path.userId)
          yield* mayTouch(principal, before, "change an owner")
          if (payload.role === "owner" && !managesOwners(principal)) return yield* ownersOnly("make a user owner")
          const after = yield* accounts
            .updateUser(path.tenantId, path.userId, payload)
            .pipe(Effect.catchTags({ NoSuchUser: () => Effect.fail(notFound(path.userId)), LastOwner: () => Effect.fail(lastOwner()) }))
          const state = (u: AccountUser) => `${u.role}${u.disabled === true ? ", disabled" : ""}`
          yield* recordAudit(path.tenantId, "user.update", `user/${after.email}`, { before: state(before), after: state(after) })
          return userView(after)
        }).pipe(Effect.catchTags({ StoreError: storeFailure, StoreDecodeError: storeFailure }))
      )
      .handle("delete", ({ path }) =>
        Effect.gen(function* () {
          const principal = yield* guard(path.tenantId, ADMIN_ROLES)
          yield* mayTouch(principal, yield* target(path.tenantId, path.userId), "remove an owner")
          const removed = yield* accounts
            .removeUser(path.tenantId, path.userId)
            .pipe(Effect.catchTags({ NoSuchUser: () => Effect.fail(notFound(path.userId)), LastOwner: () => Effect.fail(lastOwner()) }))
          yield* recordAudit(path.tenantId, "user.delete", `user/${removed.email}`, { before: removed.role })
        }).pipe(Effect.catchTags({ StoreError: storeFailure, StoreDecodeError: storeFailure }))
      )
      .handle("setPassword", ({ path, payload }) =>
        Effect.gen(function* () {
          const principal = yield* guard(path.tenantId, READ_ROLES)
          const user = yield* target(path.tenantId, path.userId)
          const self = principal._tag === "TenantMember" && principal.via === "session" && principal.subjectId === user.id
          if (self) {
            // a session left open on someone's desk must not be enough to take the account over,
            // nor to guess the current password at line speed: the sign-in throttle applies
            const account: ThrottleKey = { kind: "account", value: user.email.toLowerCase() }
            yield* throttle.begin([account])
            const current = payload.currentPassword
            if (current === undefined || !(yield* PasswordHash.verify(normalizePassword(current), user.passwordHash))) {
              return yield* new Forbidden({ message: "to change your own password, send your current one as currentPassword" })
            }
            yield* throttle.forgive([account])
          } else {
            if (principal._tag === "TenantMember" && !ADMIN_ROLES.includes(principal.role)) {
              return yield* new Forbidden({ message: `the ${principal.role} role may change only its own password` })
            }
            yield* mayTouch(principal, user, "set an owner's password")
          }
          const password = yield* checkPassword(payload.password, { email: user.email })
          const keep = self ? yield* Effect.map(HttpServerRequest.HttpServerRequest, (r) => (r.headers["authorization"] ?? "").slice(7).trim()) : undefined
          const ended = yield* accounts
            .setPassword(path.tenantId, user.id, password, keep)
            .pipe(Effect.catchTag("NoSuchUser", () => Effect.fail(notFound(path.userId))))
          yield* recordAudit(path.tenantId, "user.password", `user/${user.email}`, {
            detail: `${self ? "changed by the user" : "set by an administrator"}; ${ended.sessions} sessions and ${ended.devices} trusted devices ended`
          })
        }).pipe(Effect.catchTags({ StoreError: storeFailure, StoreDecodeError: storeFailure }))
      )
  })
)
