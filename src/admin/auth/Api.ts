import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import { LoginUnavailable, TooManyAttempts } from "./Errors.js"
import { StoreFailure, Unauthorized } from "../http/Errors.js"
import { MAX_PASSWORD_LENGTH } from "./PasswordPolicy.js"
import { AdminAuth, Operator, TenantMember } from "../http/Principal.js"

/**
 * Sign-in of tenant members, in two steps. POST /auth/login checks email and
 * password; from a trusted device it answers a session at once, otherwise it
 * emails a one-time code and answers a pending attempt. POST /auth/verify
 * trades the attempt id and the code for a session (and, if asked, a device
 * token that skips the code next time). Login and verify need no bearer;
 * logout and me do (the endpoint-level AdminAuth middleware).
 */

const STRICT = { parseOptions: { onExcessProperty: "error", errors: "all" } } as const

export const MAX_EMAIL_LENGTH = 254
/** UTF-16 units: MAX_PASSWORD_LENGTH code points are at most twice as many units */
const MAX_PASSWORD_UNITS = MAX_PASSWORD_LENGTH * 2
const MAX_SECRET_LENGTH = 200

export const LoginRequest = Schema.Struct({
  email: Schema.String.pipe(Schema.maxLength(MAX_EMAIL_LENGTH)),
  password: Schema.String.pipe(Schema.maxLength(MAX_PASSWORD_UNITS)),
  /** from an earlier verify with `trustDevice: true` */
  deviceToken: Schema.optional(Schema.String.pipe(Schema.maxLength(MAX_SECRET_LENGTH)))
}).annotations({ ...STRICT, identifier: "LoginRequest" })

export const VerifyRequest = Schema.Struct({
  attemptId: Schema.String.pipe(Schema.maxLength(MAX_SECRET_LENGTH)),
  code: Schema.String.pipe(Schema.maxLength(32)),
  /** also answer a device token, so sign-ins from this device skip the code */
  trustDevice: Schema.optional(Schema.Boolean)
}).annotations({ ...STRICT, identifier: "VerifyRequest" })

/** A new session: send `Authorization: Bearer <sessionToken>`. */
export const SessionIssued = Schema.Struct({
  status: Schema.Literal("session"),
  sessionToken: Schema.String,
  /** ISO time the session ends however it is used */
  expiresAt: Schema.String,
  /** minutes without a request after which it ends sooner */
  idleMinutes: Schema.Int,
  /** shown once; keep it to skip the code at the next sign-in from this device */
  deviceToken: Schema.optional(Schema.String),
  deviceExpiresAt: Schema.optional(Schema.String)
}).annotations({ identifier: "SessionIssued" })
export type SessionIssued = typeof SessionIssued.Type

/** The code went out by mail; POST it to /auth/verify with this attempt id before `expiresAt`. */
export const CodeSent = Schema.Struct({
  status: Schema.Literal("code-sent"),
  attemptId: Schema.String,
  expiresAt: Schema.String
}).annotations({ identifier: "CodeSent" })

export const LoginResult = Schema.Union(SessionIssued, CodeSent)

export const Me = Schema.Union(Operator, TenantMember)

export class AuthGroup extends HttpApiGroup.make("auth")
  .add(
    HttpApiEndpoint.post("login", "/auth/login")
      .setPayload(LoginRequest)
      .addSuccess(LoginResult)
      .addError(Unauthorized)
      .addError(TooManyAttempts)
      .addError(LoginUnavailable)
  )
  .add(HttpApiEndpoint.post("verify", "/auth/verify").setPayload(VerifyRequest).addSuccess(SessionIssued).addError(Unauthorized).addError(TooManyAttempts))
  .add(HttpApiEndpoint.post("logout", "/auth/logout").addSuccess(HttpApiSchema.NoContent).middleware(AdminAuth))
  .add(HttpApiEndpoint.get("me", "/auth/me").addSuccess(Me).middleware(AdminAuth))
  .addError(StoreFailure)
  .annotate(OpenApi.Description, "Tenant members' sign-in: password, then an emailed one-time code (skipped on a trusted device); sessions; who am I.") {}
