import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { COMMON_PASSWORDS } from "../../src/admin/auth/CommonPasswords.js"
import { checkPassword, isCommonPassword, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, passwordProblems } from "../../src/admin/auth/PasswordPolicy.js"

describe("PasswordPolicy", () => {
  it("accepts a password with upper, lower, digit and enough length", () => {
    expect(passwordProblems("Granite7Lantern")).toEqual([])
    expect(Either.isRight(checkPassword("Granite7Lantern"))).toBe(true)
  })

  it("says each thing to fix", () => {
    expect(passwordProblems("short1A")).toEqual([`use at least ${MIN_PASSWORD_LENGTH} characters (this one has 7)`])
    expect(passwordProblems("alllowercase1")).toEqual(["add an upper-case letter"])
    expect(passwordProblems("ALLUPPERCASE1")).toEqual(["add a lower-case letter"])
    expect(passwordProblems("NoDigitsHereAtAll")).toEqual(["add a digit"])
    expect(passwordProblems("Tab\tInside99x")).toEqual(["remove control characters (tabs, line breaks)"])
    const rejected = checkPassword("abc")
    expect(Either.isLeft(rejected) && rejected.left.problems).toEqual([
      `use at least ${MIN_PASSWORD_LENGTH} characters (this one has 3)`,
      "add an upper-case letter",
      "add a digit"
    ])
    expect(Either.isLeft(rejected) && rejected.left.message).toContain("add an upper-case letter; add a digit")
  })

  it("counts code points, not UTF-16 units, and takes passphrases up to the maximum", () => {
    // 9 code points, 18 UTF-16 units: too short
    expect(passwordProblems("Aa1🌲🌲🌲🌲🌲🌲")[0]).toBe(`use at least ${MIN_PASSWORD_LENGTH} characters (this one has 9)`)
    expect(passwordProblems("Aa1🌲🌲🌲🌲🌲🌲🌲")).toEqual([])
    const phrase = "Seven quiet otters 4 ever drift past the harbour lights"
    expect(passwordProblems(phrase)).toEqual([])
    const longest = "Aa1" + "🌲".repeat(MAX_PASSWORD_LENGTH - 3)
    expect(passwordProblems(longest)).toEqual([])
    expect(passwordProblems(longest + "x")).toEqual([`use at most ${MAX_PASSWORD_LENGTH} characters (this one has ${MAX_PASSWORD_LENGTH + 1})`])
  })

  it("normalizes to NFC, so composed and decomposed accents are one password", () => {
    const composed = checkPassword("Caf\u00e9Terrasse42")
    const decomposed = checkPassword("Cafe\u0301Terrasse42")
    expect(Either.getOrThrow(composed)).toBe(Either.getOrThrow(decomposed))
  })

  describe("blocklist", () => {
    it("holds a few hundred entries", () => {
      expect(COMMON_PASSWORDS.length).toBeGreaterThan(300)
      expect(new Set(COMMON_PASSWORDS).size).toBe(COMMON_PASSWORDS.length)
    })

    it("refuses common passwords that otherwise meet the rules, case-insensitively, with digits or symbols appended, or with swapped letters", () => {
      for (const p of [
        "Password123",
        "PASSWORD2024",
        "pAsSwOrD1234",
        "Welcome2024!",
        "Qwertyuiop12",
        "P@ssw0rd2024",
        "Letmein12345",
        "Sunshine2026",
        "Iloveyou1234",
        "Administrator9"
      ]) {
        expect(isCommonPassword(p), p).toBe(true)
      }
      const problems = passwordProblems("Password123")
      expect(problems).toHaveLength(1)
      expect(problems[0]).toContain("not a common one")
    })

    it("does not refuse a password that merely contains a common word among other words", () => {
      for (const p of ["Password7Granite", "Dragonfly9Meadow", "Autumn4Lantern9"]) expect(isCommonPassword(p), p).toBe(false)
    })
  })

  it("refuses a password built on the account's email", () => {
    expect(passwordProblems("Alexandra2026", { email: "alexandra@acme.example" })).toEqual(["do not build the password on your email address"])
    expect(passwordProblems("Alexandra2026", { email: "bo@acme.example" })).toEqual([])
  })
})
