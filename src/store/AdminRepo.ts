import { Clock, Data, Effect, Option, Schema } from "effect"
import { createHash, randomBytes } from "node:crypto"
import { Store } from "./Store.js"

/**
 * Admin API credentials at rest. Slice 1 holds operator API tokens: opaque
 * random strings shown once at creation and stored only as their SHA-256
 * digest. A plain (unsalted, fast) digest is enough here because the token
 * carries TOKEN_BYTES of CSPRNG entropy: nothing to brute-force, and the
 * digest doubles as the lookup key. (Passwords, which people choose, will be
 * hashed with scrypt and a salt — see PasswordHash.)
 *
 * Keys live outside `tenant/`: an operator belongs to no tenant.
 */

export const OPERATOR_TOKEN_DB = "operator_tokens"
/** 256 bits; the issue asks for at least 128 */
export const TOKEN_BYTES = 32
/** recognisable in logs and secret scanners, never part of the secret */
export const TOKEN_PREFIX = "imp_op_"
export const MAX_TOKEN_NAME = 100
/** anything longer is not one of ours; refused before hashing */
export const MAX_PRESENTED_TOKEN = 200

const TOKEN_KEY_ROOT = "operator-token/"
const tokenKey = (digest: string) => `${TOKEN_KEY_ROOT}${digest}`

export const digestToken = (token: string): string => createHash("sha256").update(token, "utf8").digest("hex")

export class OperatorToken extends Schema.Class<OperatorToken>("OperatorToken")({
  /** public id (for listing and revoking); not derived from the secret */
  id: Schema.String,
  name: Schema.String,
  createdAt: Schema.Number,
  revokedAt: Schema.optional(Schema.Number)
}) {}

export class InvalidTokenName extends Data.TaggedError("InvalidTokenName")<{ readonly message: string }> {}

const make = Effect.gen(function* () {
  const store = yield* Store

  /** Creates a token; the returned `token` is the only time the secret exists outside the caller's hands. */
  const createOperatorToken = Effect.fn("AdminRepo.createOperatorToken")(function* (name: string) {
    const trimmed = name.trim()
    if (trimmed.length === 0 || trimmed.length > MAX_TOKEN_NAME || /[\u0000-\u001f\u007f]/.test(trimmed)) {
      return yield* new InvalidTokenName({ message: `a token name is 1-${MAX_TOKEN_NAME} printable characters, such as "ci-deploy"` })
    }
    const token = TOKEN_PREFIX + randomBytes(TOKEN_BYTES).toString("base64url")
    const record = new OperatorToken({
      id: randomBytes(8).toString("hex"),
      name: trimmed,
      createdAt: yield* Clock.currentTimeMillis
    })
    yield* store.put(OPERATOR_TOKEN_DB, OperatorToken, tokenKey(digestToken(token)), record)
    return { token, record }
  })

  /** The token's record when it exists and is not revoked; unknown and revoked look the same to callers. */
  const resolveOperatorToken = Effect.fn("AdminRepo.resolveOperatorToken")(function* (token: string) {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > MAX_PRESENTED_TOKEN) return Option.none<OperatorToken>()
    const found = yield* store.get(OPERATOR_TOKEN_DB, OperatorToken, tokenKey(digestToken(token)))
    return Option.filter(found, (r) => r.revokedAt === undefined)
  })

  const listOperatorTokens = Effect.fn("AdminRepo.listOperatorTokens")(function* () {
    return (yield* store.list(OPERATOR_TOKEN_DB, OperatorToken, TOKEN_KEY_ROOT)).map((e) => e.value)
  })

  /** Marks the token revoked (kept, so a listing shows when); false when no token has this id. */
  const revokeOperatorToken = Effect.fn("AdminRepo.revokeOperatorToken")(function* (id: string) {
    const entries = yield* store.list(OPERATOR_TOKEN_DB, OperatorToken, TOKEN_KEY_ROOT)
    const entry = entries.find((e) => e.value.id === id)
    if (entry === undefined) return false
    if (entry.value.revokedAt === undefined) {
      const revoked = new OperatorToken({ ...entry.value, revokedAt: yield* Clock.currentTimeMillis })
      yield* store.put(OPERATOR_TOKEN_DB, OperatorToken, entry.key, revoked)
    }
    return true
  })

  return { createOperatorToken, resolveOperatorToken, listOperatorTokens, revokeOperatorToken } as const
})

export class AdminRepo extends Effect.Service<AdminRepo>()("imprint/AdminRepo", { effect: make, dependencies: [Store.Default] }) {}
