import { Schema } from "effect"

/**
 * The tenant's account data, as the seed service keeps it (issue 6): who the
 * customer is and where to reach them. Admin data only; the relay never reads
 * it. Every field is optional (a tenant made before this existed has none)
 * and bounded; text may not carry control characters or markup, because it
 * is shown in admin screens and mail footers of the operator's own tooling.
 */

export const MAX_ACCOUNT_TEXT = 200
export const MAX_ACCOUNT_EMAIL = 254 // RFC 5321's path limit
export const MAX_ACCOUNT_TELEPHONE = 40

// C0/C1 controls and DEL; a tab or newline has no place in a one-line field
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/
const MARKUP = /[<>]/

/** One line of plain text: trimmed on the way in, 1..max characters, no controls, no `<` or `>`. */
export const AccountText = (max: number = MAX_ACCOUNT_TEXT) =>
  Schema.Trim.pipe(
    Schema.minLength(1, { message: () => "must not be empty (leave the field out instead)" }),
    Schema.maxLength(max, { message: () => `at most ${max} characters` }),
    Schema.filter((s) => !CONTROL.test(s) || "control characters (tabs, line breaks) are not allowed"),
    Schema.filter((s) => !MARKUP.test(s) || "'<' and '>' are not allowed: plain text, not HTML")
  )

/** local@domain.tld, no spaces, one @. Deliberately not the full RFC 5322 grammar (quoted locals are never seen in practice). */
export const AccountEmail = Schema.Trim.pipe(
  Schema.maxLength(MAX_ACCOUNT_EMAIL, { message: () => `at most ${MAX_ACCOUNT_EMAIL} characters` }),
  Schema.pattern(/^[^\s@<>"(),;:]+@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i, {
    message: () => "an email address such as billing@example.com"
  })
)

/**
 * A phone number as people write it: an optional leading +, digits, spaces
 * and ( ) . - /, at least 3 digits, and an optional extension ("x12",
 * "ext. 12"). Letters and markup are refused.
 */
export const AccountTelephone = Schema.Trim.pipe(
  Schema.maxLength(MAX_ACCOUNT_TELEPHONE, { message: () => `at most ${MAX_ACCOUNT_TELEPHONE} characters` }),
  Schema.pattern(/^\+?[0-9 ().\/-]*[0-9][0-9 ().\/-]*(?:\s*(?:x|ext\.?)\s*[0-9]{1,6})?$/i, {
    message: () => "a phone number such as +44 20 7946 0958 (digits, spaces, + ( ) . - /, optional 'ext. 12')"
  }),
  Schema.filter((s) => (s.match(/[0-9]/g)?.length ?? 0) >= 3 || "a phone number has at least 3 digits")
)

const text = Schema.optional(AccountText())

export const TenantAccount = Schema.Struct({
  firstName: text,
  lastName: text,
  fullName: text,
  company: text,
  telephone: Schema.optional(AccountTelephone),
  email: Schema.optional(AccountEmail),
  addressLine1: text,
  addressLine2: text,
  /** town or city */
  city: text,
  /** postcode or zip */
  postcode: Schema.optional(AccountText(20)),
  country: text
}).annotations({ identifier: "TenantAccount", parseOptions: { onExcessProperty: "error" } })
export type TenantAccount = typeof TenantAccount.Type
