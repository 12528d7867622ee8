import { Effect } from "effect"
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto"

/**
 * Connector passwords at rest: scrypt with a random salt per password, stored
 * as "scrypt$N$r$p$salt$hash" (salt and hash base64). The whole password is
 * hashed (no truncation, unlike bcrypt's 72 bytes). Verification compares in
 * constant time and bounds the parameters it accepts, so a hostile tenant file
 * cannot make one AUTH cost gigabytes.
 */

/** 2^14 with r=8 costs 16 MiB and tens of milliseconds: the OWASP floor for scrypt. */
export const SCRYPT_N = 16384
export const SCRYPT_R = 8
export const SCRYPT_P = 1
export const SALT_BYTES = 16
export const HASH_BYTES = 32
/** largest parameters `verify` accepts from a stored hash */
export const MAX_SCRYPT_N = 1 << 17
export const MAX_SCRYPT_R = 16
export const MAX_SCRYPT_P = 4
/** a stored salt or hash longer than this is refused (the hash length sets scrypt's output length) */
export const MAX_STORED_BYTES = 64

export interface ParsedHash {
  readonly N: number
  readonly r: number
  readonly p: number
  readonly salt: Buffer
  readonly hash: Buffer
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

const isPowerOfTwo = (n: number) => n > 1 && (n & (n - 1)) === 0

/** Parses a stored hash; undefined when it is not one this module can verify. */
export const parse = (encoded: string): ParsedHash | undefined => {
  const parts = encoded.split("$")
  if (parts.length !== 6 || parts[0] !== "scrypt") return undefined
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])]
  if (![N, r, p].every(Number.isSafeInteger)) return undefined
  if (!isPowerOfTwo(N) || N > MAX_SCRYPT_N || r < 1 || r > MAX_SCRYPT_R || p < 1 || p > MAX_SCRYPT_P) return undefined
  if (!BASE64.test(parts[4]) || !BASE64.test(parts[5])) return undefined
  const salt = Buffer.from(parts[4], "base64")
  const hash = Buffer.from(parts[5], "base64")
  if (salt.length < 8 || hash.length < 16 || salt.length > MAX_STORED_BYTES || hash.length > MAX_STORED_BYTES) return undefined
  return { N, r, p, salt, hash }
}

export const isValid = (encoded: string): boolean => parse(encoded) !== undefined

const derive = (password: string, salt: Buffer, N: number, r: number, p: number, length: number) =>
  Effect.async<Buffer>((resume) => {
    // maxmem must exceed 128*N*r; Node's default (32 MiB) is too small for the accepted maximum
    scrypt(Buffer.from(password, "utf8"), salt, length, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (err, key) =>
      resume(err ? Effect.die(err) : Effect.succeed(key))
    )
  })

/** A new hash with a fresh random salt. */
export const hash = Effect.fn("PasswordHash.hash")(function* (password: string) {
  const salt = randomBytes(SALT_BYTES)
  const key = yield* derive(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, HASH_BYTES)
  return `scrypt$${SCRYPT_N}$${SCRYPT_R}$${SCRYPT_P}$${salt.toString("base64")}$${key.toString("base64")}`
})

/** True when `password` matches `encoded`; false for a wrong password or an unusable hash. */
export const verify = Effect.fn("PasswordHash.verify")(function* (password: string, encoded: string) {
  const parsed = parse(encoded)
  if (parsed === undefined) return false
  const key = yield* derive(password, parsed.salt, parsed.N, parsed.r, parsed.p, parsed.hash.length)
  return timingSafeEqual(key, parsed.hash)
})
