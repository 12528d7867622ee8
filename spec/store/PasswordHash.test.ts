import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as PasswordHash from "../../src/store/PasswordHash.js"

describe("PasswordHash", () => {
  it.effect("verifies the password it hashed and nothing else", () =>
    Effect.gen(function* () {
      const hash = yield* PasswordHash.hash("correct horse")
      expect(hash).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/)
      expect(yield* PasswordHash.verify("correct horse", hash)).toBe(true)
      expect(yield* PasswordHash.verify("correct hors", hash)).toBe(false)
      expect(yield* PasswordHash.verify("", hash)).toBe(false)
    })
  )

  it.effect("salts every hash", () =>
    Effect.gen(function* () {
      const [a, b] = yield* Effect.all([PasswordHash.hash("same"), PasswordHash.hash("same")])
      expect(a).not.toBe(b)
    })
  )

  it.effect("does not truncate long passwords", () =>
    Effect.gen(function* () {
      const long = "x".repeat(200)
      const hash = yield* PasswordHash.hash(long)
      expect(yield* PasswordHash.verify(long, hash)).toBe(true)
      // differs only after byte 72, where bcrypt would stop reading
      expect(yield* PasswordHash.verify("x".repeat(199) + "y", hash)).toBe(false)
    })
  )

  it.effect("refuses malformed or oversized parameters instead of computing them", () =>
    Effect.gen(function* () {
      const hash = yield* PasswordHash.hash("pw")
      const parts = hash.split("$")
      expect(yield* PasswordHash.verify("pw", "plain")).toBe(false)
      expect(yield* PasswordHash.verify("pw", ["scrypt", String(1 << 22), ...parts.slice(2)].join("$"))).toBe(false)
      expect(yield* PasswordHash.verify("pw", ["scrypt", "1000", ...parts.slice(2)].join("$"))).toBe(false)
      expect(PasswordHash.isValid(hash)).toBe(true)
      expect(PasswordHash.isValid(parts.slice(0, 5).join("$"))).toBe(false)
    })
  )
})
