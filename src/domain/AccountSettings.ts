import { Context, Schema } from "effect"

/**
 * Configuration (shared by config and the admin API) of tenant members' sign-in (`admin.login`) and of the mail
 * server that carries their one-time codes (`admin.mail`). Decoded with the
 * rest of the configuration: a value outside its bounds stops start-up.
 */

/** A code that outlives this is no longer "one-time" in any useful sense; config refuses more. */
export const MAX_CODE_TTL_MINUTES = 240

const PositiveInt = Schema.Int.pipe(Schema.positive())

export class LoginSettings extends Schema.Class<LoginSettings>("LoginSettings")({
  /** how long an emailed sign-in code is valid */
  codeTtlMinutes: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, MAX_CODE_TTL_MINUTES)), { default: () => 15 }),
  /** wrong codes per login attempt before the attempt is dead */
  codeMaxTries: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 20)), { default: () => 5 }),
  /** a session unused this long ends */
  sessionIdleMinutes: Schema.optionalWith(PositiveInt, { default: () => 30 }),
  /** a session ends this long after sign-in, used or not */
  sessionMaxHours: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 24 * 30)), { default: () => 12 }),
  /** how long a trusted device skips the emailed code */
  trustedDeviceDays: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 365)), { default: () => 90 }),
  /** failed sign-ins for one account before each further try must wait */
  throttleAccountFailures: Schema.optionalWith(PositiveInt, { default: () => 5 }),
  /** failed sign-ins from one address before it must wait (higher: offices share addresses) */
  throttleAddressFailures: Schema.optionalWith(PositiveInt, { default: () => 20 }),
  /** the first wait; it doubles with each further failure */
  throttleBaseSeconds: Schema.optionalWith(PositiveInt, { default: () => 1 }),
  /** the longest wait */
  throttleMaxSeconds: Schema.optionalWith(PositiveInt, { default: () => 900 })
}) {}

/** SMTP submission for sign-in codes (nodemailer). */
export class MailSettings extends Schema.Class<MailSettings>("MailSettings")({
  host: Schema.String.pipe(Schema.minLength(1)),
  port: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 65535)), { default: () => 587 }),
  /** TLS from the first byte (port 465); false: STARTTLS when offered */
  secure: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /** refuse to send unless STARTTLS succeeds (ignored with `secure`) */
  requireTLS: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /** verify the server's certificate */
  rejectUnauthorized: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  auth: Schema.optional(Schema.Struct({ user: Schema.String, pass: Schema.String })),
  /** the From address of sign-in mail, e.g. "Imprint <no-reply@example.org>" */
  from: Schema.String.pipe(Schema.minLength(3))
}) {}

export interface AccountConfigShape {
  readonly login: LoginSettings
  /** absent: codes cannot be sent, so only trusted devices can sign in */
  readonly mail: MailSettings | undefined
}

export class AccountConfig extends Context.Tag("imprint/admin/AccountConfig")<AccountConfig, AccountConfigShape>() {
  static readonly defaults: AccountConfigShape = { login: LoginSettings.make({}), mail: undefined }
}

const MINUTE = 60_000
export const codeTtlMs = (s: LoginSettings) => s.codeTtlMinutes * MINUTE
export const sessionIdleMs = (s: LoginSettings) => s.sessionIdleMinutes * MINUTE
export const sessionMaxMs = (s: LoginSettings) => s.sessionMaxHours * 60 * MINUTE
export const trustedDeviceMs = (s: LoginSettings) => s.trustedDeviceDays * 24 * 60 * MINUTE
