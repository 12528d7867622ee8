import { Data, Effect } from "effect"
import nodemailer from "nodemailer"
import { AccountConfig } from "../../domain/AccountSettings.js"

/**
 * Sends sign-in codes through the configured SMTP server (`admin.mail`).
 * One pooled nodemailer transport per admin server, closed with it. The code
 * is the only secret in the message; it expires and is bound to one attempt.
 */

/** bounds on each SMTP step, so a dead mail server fails a sign-in instead of hanging it */
export const MAIL_CONNECT_TIMEOUT_MS = 10_000
export const MAIL_SOCKET_TIMEOUT_MS = 20_000

export class MailUnavailable extends Data.TaggedError("MailUnavailable")<{ readonly message: string }> {}

export interface CodeMail {
  readonly to: string
  readonly name: string
  readonly code: string
  readonly expiresAt: Date
}

export const codeMailText = (mail: CodeMail) =>
  [
    `Hello ${mail.name},`,
    "",
    `your Imprint sign-in code is: ${mail.code}`,
    "",
    `It works once, only for the sign-in you just started, until ${mail.expiresAt.toISOString()}.`,
    "If you did not try to sign in, someone knows your password: change it and tell your administrator.",
    ""
  ].join("\r\n")

export class LoginMailer extends Effect.Service<LoginMailer>()("imprint/admin/LoginMailer", {
  scoped: Effect.gen(function* () {
    const { mail } = yield* AccountConfig
    const transport =
      mail === undefined
        ? undefined
        : yield* Effect.acquireRelease(
            Effect.sync(() =>
              nodemailer.createTransport({
                host: mail.host,
                port: mail.port,
                secure: mail.secure,
                requireTLS: mail.requireTLS,
                tls: { rejectUnauthorized: mail.rejectUnauthorized, minVersion: "TLSv1.2" },
                ...(mail.auth === undefined ? {} : { auth: { user: mail.auth.user, pass: mail.auth.pass } }),
                connectionTimeout: MAIL_CONNECT_TIMEOUT_MS,
                greetingTimeout: MAIL_CONNECT_TIMEOUT_MS,
                socketTimeout: MAIL_SOCKET_TIMEOUT_MS
              })
            ),
            (t) => Effect.sync(() => t.close())
          )

    const sendCode = Effect.fn("LoginMailer.sendCode")(function* (code: CodeMail) {
      if (transport === undefined || mail === undefined) {
        return yield* new MailUnavailable({ message: "no mail server is configured (admin.mail), so sign-in codes cannot be sent" })
      }
      yield* Effect.tryPromise({
        try: () => transport.sendMail({ from: mail.from, to: code.to, subject: "Your Imprint sign-in code", text: codeMailText(code) }),
        catch: (e) => new MailUnavailable({ message: `sending the sign-in code failed: ${String(e)}` })
      })
    })

    return { sendCode } as const
  })
}) {}
