import { Effect, Layer, Option, Redacted } from "effect"
import { AccountRepo, API_TOKEN_PREFIX } from "../../store/AccountRepo.js"
import { AdminRepo } from "../../store/AdminRepo.js"
import { SESSION_PREFIX, SessionRepo } from "../../store/SessionRepo.js"
import { notePrincipal } from "../http/AccessLog.js"
import { AccountConfig, sessionIdleMs } from "../../domain/AccountSettings.js"
import { UNAUTHORIZED_MESSAGE, Unauthorized } from "../http/Errors.js"
import { AdminAuth, Operator, type Principal, TenantMember } from "../http/Principal.js"

/**
 * The bearer token check behind AdminAuth. The prefix says where to look:
 * `imp_op_` an operator token (AdminRepo), `imp_ses_` a member's session
 * (idle and absolute expiry checked, last use noted), `imp_tok_` a tenant API
 * token. The member's role is read from the user record at every request, so
 * a demotion or a disable applies at once. A missing, malformed, unknown,
 * expired or revoked token gets the same 401 and message, so a caller learns
 * nothing about which tokens exist. A store failure is a 500 (a defect), not
 * a 401: the caller's token may be fine.
 */
export const AdminAuthLive = Layer.effect(
  AdminAuth,
  Effect.gen(function* () {
    const admin = yield* AdminRepo
    const accounts = yield* AccountRepo
    const sessions = yield* SessionRepo
    const { login } = yield* AccountConfig
    const idleMs = sessionIdleMs(login)

    const resolve = (token: string): Effect.Effect<Option.Option<Principal>> =>
      Effect.gen(function* () {
        if (token.startsWith(SESSION_PREFIX)) {
          const session = yield* sessions.resolveSession(token, idleMs)
          if (Option.isNone(session)) return Option.none()
          const user = yield* accounts.getUser(session.value.tenantId, session.value.userId)
          if (Option.isNone(user) || user.value.disabled === true) return Option.none()
          return Option.some(
            new TenantMember({
              tenantId: user.value.tenantId,
              role: user.value.role,
              subjectId: user.value.id,
              label: user.value.email,
              via: "session"
            })
          )
        }
        if (token.startsWith(API_TOKEN_PREFIX)) {
          const found = yield* accounts.resolveApiToken(token)
          return Option.map(found, (t) => new TenantMember({ tenantId: t.tenantId, role: t.role, subjectId: t.id, label: t.name, via: "apiToken" }))
        }
        const found = yield* admin.resolveOperatorToken(token)
        return Option.map(found, (t) => new Operator({ tokenId: t.id, name: t.name }))
      }).pipe(Effect.orDie)

    return AdminAuth.of({
      bearer: (token) =>
        Effect.flatMap(
          resolve(Redacted.value(token)),
          Option.match({
            onNone: () => Effect.fail(new Unauthorized({ message: UNAUTHORIZED_MESSAGE })),
            onSome: (principal) => Effect.as(notePrincipal(principal), principal)
          })
        )
    })
  })
)
