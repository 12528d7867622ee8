import { Either } from "effect"
import { COMMON_PASSWORDS } from "./CommonPasswords.js"
import { PasswordRejected } from "./Errors.js"

/**
 * What a tenant member's password must be. Length is counted in code points
 * (an emoji is one character, as the person typing it sees it), after NFC
 * normalization, which is also what gets hashed, so the same passphrase typed
 * on two keyboards hashes the same. Long passphrases are welcome up to
 * MAX_PASSWORD_LENGTH; the cap only bounds the work scrypt does per request.
 */

export { PasswordRejected }

export const MIN_PASSWORD_LENGTH = 10
export const MAX_PASSWORD_LENGTH = 128

const BLOCKED = new Set(COMMON_PASSWORDS)

/** "P@ssw0rd" reads as "password" to anyone guessing; undo the usual swaps before comparing. */
const LEET: Readonly<Record<string, string>> = { "0": "o", "1": "i", "3": "e", "4": "a", "@": "a", "5": "s", $: "s", "7": "t", "!": "i" }
const unleet = (s: string) => s.replace(/[013457@$!]/g, (c) => LEET[c] ?? c)

/** the password with trailing digits and punctuation taken off: "Password123!" → "password" */
const stem = (lower: string) => lower.replace(/[\p{Nd}\p{P}\p{S}\s]+$/u, "")

/** The password as hashed and compared: NFC, so composed and decomposed accents are one password. */
export const normalizePassword = (password: string): string => password.normalize("NFC")

/** True when the password is, or is built on, a blocklisted word. */
export const isCommonPassword = (password: string): boolean => {
  const lower = normalizePassword(password).toLowerCase()
  const candidates = [lower, stem(lower), unleet(lower), stem(unleet(lower)), unleet(stem(lower))]
  return candidates.some((c) => c.length > 0 && BLOCKED.has(c))
}

/**
 * The problems with a password, empty when it is acceptable. `context` holds
 * words the password must not be built on (the account's email), since those
 * are the first guesses against that account.
 */
export const passwordProblems = (password: string, context: { readonly email?: string } = {}): ReadonlyArray<string> => {
  const normalized = normalizePassword(password)
  const length = [...normalized].length
  const problems: Array<string> = []
  if (length < MIN_PASSWORD_LENGTH) problems.push(`use at least ${MIN_PASSWORD_LENGTH} characters (this one has ${length})`)
  if (length > MAX_PASSWORD_LENGTH) problems.push(`use at most ${MAX_PASSWORD_LENGTH} characters (this one has ${length})`)
  if (!/\p{Lu}/u.test(normalized)) problems.push("add an upper-case letter")
  if (!/\p{Ll}/u.test(normalized)) problems.push("add a lower-case letter")
  if (!/\p{Nd}/u.test(normalized)) problems.push("add a digit")
  if (/\p{Cc}/u.test(normalized)) problems.push("remove control characters (tabs, line breaks)")
  if (length <= MAX_PASSWORD_LENGTH && isCommonPassword(normalized)) {
    problems.push("choose a password that is not a common one or a common word with digits added (a few unrelated words make a strong passphrase)")
  }
  const local = context.email?.split("@")[0]?.toLowerCase()
  if (local !== undefined && local.length >= 4 && normalized.toLowerCase().includes(local)) {
    problems.push("do not build the password on your email address")
  }
  return problems
}

/** Either the normalized password or why it is refused. */
export const checkPassword = (password: string, context: { readonly email?: string } = {}): Either.Either<string, PasswordRejected> => {
  const problems = passwordProblems(password, context)
  return problems.length === 0
    ? Either.right(normalizePassword(password))
    : Either.left(new PasswordRejected({ message: `the password is not accepted: ${problems.join("; ")}`, problems }))
}
