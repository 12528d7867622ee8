import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Effect, FiberSet, Option } from "effect"
import { randomBytes } from "node:crypto"
import { AccountRepo, type AccountUser } from "../../store/AccountRepo.js"
import * as PasswordHash from "../../store/PasswordHash.js"
import { SESSION_PREFIX, SessionRepo } from "../../store/SessionRepo.js"
import { LoginUnavailable } from "./Errors.js"
import { AccountConfig, codeTtlMs, sessionMaxMs, trustedDeviceMs } from "../../domain/AccountSettings.js"
import { Api, Unauthorized } from "../Api.js"
import { recordAudit } from "../audit/Audit.js"
import type { SessionIssued } from "./Api.js"
import { LoginMailer } from "./LoginMailer.js"
import { LoginThrottle, type ThrottleKey } from "./LoginThrottle.js"
import { normalizePassword } from "./PasswordPolicy.js"
import { CurrentPrincipal, TenantMember } from "../http/Principal.js"
import { iso, storeFailure } from "../accounts/Views.js"

/**
 * POST /auth/login, /auth/verify, /auth/logout, GET /auth/me.
 *
 * An unknown email, a wrong password and a disabled account get one answer,
 * and an unknown email still costs one scrypt (against a hash made at start
 * with the same parameters), so neither the answer nor its timing tells
 * which emails have accounts. Throttling runs first, keyed by the email as
 * typed and by the source address, for the same reason.
 */

export const LOGIN_FAILED = "the email or password is wrong; check both and try again"
export const ATTEMPT_INVALID = "this sign-in attempt is unknown, used, expired or out of tries; start again with POST /auth/login"

const member = (u: AccountUser) => new TenantMember({ tenantId: u.tenantId, role: u.role, subjectId: u.id, label: u.email, via: "session" })

/** Audit a sign-in event as the member it concerns: there is no bearer yet. */
const audit = (u: AccountUser, action: string, detail: string) =>
  recordAudit(u.tenantId, action, `user/${u.email}`, { detail }).pipe(Effect.provideService(CurrentPrincipal, member(u)))

/** The bearer of this request (logout revokes exactly it). */
const bearerOf = Effect.map(HttpServerRequest.HttpServerRequest, (r) => {
  const header = r.headers["authorization"] ?? ""
  return header.toLowerCase().startsWith("bearer ") ? header.slice(7).trim() : ""
})

const addressOf = Effect.map(HttpServerRequest.HttpServerRequest, (r) => Option.getOrElse(r.remoteAddress, () => "unknown"))

export const AuthLive = HttpApiBuilder.group(Api, "auth", (handlers) =>
  Effect.gen(function* () {
    const accounts = yield* AccountRepo
    const sessions = yield* SessionRepo
    const mailer = yield* LoginMailer
    const throttle = yield* LoginThrottle
    const { login: settings } = yield* AccountConfig
    // the same scrypt parameters as real hashes, so an unknown email costs what a known one does
    const dummyHash = yield* PasswordHash.hash(randomBytes(16).toString("hex"))
    // a failed sign-in of a known account is audited off the request's path: awaiting that write would
    // make a wrong password answer measurably slower than an unknown email
    const background = yield* FiberSet.make()

    const issue = (user: AccountUser, trustDevice: boolean) =>
      Effect.gen(function* () {
        const { token, record } = yield* sessions.createSession(user.tenantId, user.id, sessionMaxMs(settings))
        const device = trustDevice ? yield* sessions.createDevice(user.tenantId, user.id, trustedDeviceMs(settings)) : undefined
        const issued: SessionIssued = {
          status: "session",
          sessionToken: token,
          expiresAt: iso(record.expiresAt),
          idleMinutes: settings.sessionIdleMinutes,
          ...(device === undefined ? {} : { deviceToken: device.token, deviceExpiresAt: iso(device.record.expiresAt) })
        }
        return issued
      })

    return handlers
      .handle("login", ({ payload }) =>
        Effect.gen(function* () {
          const email = payload.email.trim().toLowerCase()
          const keys: ReadonlyArray<ThrottleKey> = [
            { kind: "account", value: email },
            { kind: "address", value: yield* addressOf }
          ]
          yield* throttle.begin(keys)
          const found = yield* accounts.findByEmail(email)
          const hash = Option.match(found, { onNone: () => dummyHash, onSome: (u) => u.passwordHash })
          const matches = yield* PasswordHash.verify(normalizePassword(payload.password), hash)
          if (Option.isNone(found)) return yield* new Unauthorized({ message: LOGIN_FAILED })
          const user = found.value
          if (!matches || user.disabled === true) {
            yield* FiberSet.run(background, audit(user, "login.failure", user.disabled === true ? "account disabled" : "wrong password"))
            return yield* new Unauthorized({ message: LOGIN_FAILED })
          }
          // the password was right: this try is forgiven; the account starts over only once a session is issued
          yield* throttle.forgive(keys)
          if (payload.deviceToken !== undefined && (yield* sessions.isTrustedDevice(payload.deviceToken, user.tenantId, user.id))) {
            yield* throttle.reset([keys[0]])
            yield* audit(user, "login.success", "trusted device")
            return yield* issue(user, false)
          }
          const attempt = yield* sessions.createAttempt(user.tenantId, user.id, codeTtlMs(settings))
          const expiresAt = new Date(attempt.record.expiresAt)
          yield* mailer.sendCode({ to: user.email, name: user.name, code: attempt.code, expiresAt }).pipe(
            Effect.tapError((e) => Effect.logError("admin API: sign-in code not sent", e.message)),
            Effect.mapError((e) => new LoginUnavailable({ message: `${e.message}; ask the operator to check admin.mail` }))
          )
          yield* audit(user, "login.code-sent", "one-time code emailed")
          return { status: "code-sent" as const, attemptId: attempt.attemptId, expiresAt: expiresAt.toISOString() }
        }).pipe(Effect.catchTags({ StoreError: storeFailure, StoreDecodeError: storeFailure }))
      )
      .handle("verify", ({ payload }) =>
        Effect.gen(function* () {
          const address: ThrottleKey = { kind: "address", value: yield* addressOf }
          yield* throttle.begin([address])
          const check = yield* sessions.checkCode(payload.attemptId, payload.code.trim(), settings.codeMaxTries)
          if (check._tag === "Invalid") return yield* new Unauthorized({ message: ATTEMPT_INVALID })
          const user = yield* accounts.getUser(check.tenantId, check.userId)
          if (Option.isNone(user) || user.value.disabled === true) return yield* new Unauthorized({ message: ATTEMPT_INVALID })
          const account: ThrottleKey = { kind: "account", value: user.value.email.toLowerCase() }
          if (check._tag === "WrongCode") {
            // wrong codes count against the account too: new attempts (each needs the password) do not reset them
            yield* throttle.fail([account])
            yield* audit(user.value, "login.failure", "wrong code")
            return yield* new Unauthorized({
              message:
                check.triesLeft > 0 ? `the code is wrong; ${check.triesLeft} ${check.triesLeft === 1 ? "try" : "tries"} left for this attempt` : ATTEMPT_INVALID
            })
          }
          yield* throttle.forgive([address])
          yield* throttle.reset([account])
          yield* audit(user.value, "login.success", payload.trustDevice === true ? "code; device trusted" : "code")
          return yield* issue(user.value, payload.trustDevice === true)
        }).pipe(Effect.catchTags({ StoreError: storeFailure, StoreDecodeError: storeFailure }))
      )
      .handle("logout", () =>
        Effect.gen(function* () {
          const token = yield* bearerOf
          // operator and API tokens are not sessions: they are revoked where they are managed
          if (token.startsWith(SESSION_PREFIX)) yield* sessions.revokeSession(token)
        }).pipe(Effect.catchTags({ StoreError: storeFailure, StoreDecodeError: storeFailure }))
      )
      .handle("me", () => CurrentPrincipal)
  })
)
