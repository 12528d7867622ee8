import { describe, expect, layer } from "@effect/vitest"
import { Duration, Effect, Layer, Option, TestClock, TestContext } from "effect"
import { AccountRepo } from "../../src/store/AccountRepo.js"
import { ACCOUNT_SESSIONS_DB, ACCOUNT_TOKENS_DB, ACCOUNTS_DB } from "../../src/store/AccountKeys.js"
import { digestToken } from "../../src/store/AdminRepo.js"
import { CODE_DIGITS, SESSION_PREFIX, SessionRepo } from "../../src/store/SessionRepo.js"
import { Store } from "../../src/store/Store.js"
import { TempStorePath } from "../store/TempStore.js"

/**
 * The clock-sensitive parts of sign-in, against the repositories and a real
 * LMDB, with TestClock (it.effect) driving every expiry.
 */

const Repos = Layer.mergeAll(Store.Default, SessionRepo.Default, AccountRepo.Default).pipe(Layer.provide(TempStorePath), Layer.orDie)

const MINUTE = 60_000
const IDLE = 30 * MINUTE
const MAX_AGE = 12 * 60 * MINUTE

/** every key of the three account databases */
const allKeys = Effect.gen(function* () {
  const store = yield* Store
  const out: Array<string> = []
  for (const db of [ACCOUNTS_DB, ACCOUNT_SESSIONS_DB, ACCOUNT_TOKENS_DB]) out.push(...(yield* store.keys(db, "")).map((k) => `${db}:${k}`))
  return out
})

/**
 * The store's own poll loop runs on the live clock (built without test
 * services); each test gets a fresh TestClock that only the code under test reads.
 */
layer(Repos, { excludeTestServices: true })("sessions, codes and devices", (it) => {
  const effect = <E>(name: string, body: () => Effect.Effect<void, E, Store | SessionRepo | AccountRepo>) =>
    it.effect(name, () => Effect.provide(body(), TestContext.TestContext))

  describe("sessions", () => {
    effect("an opaque 256-bit token, stored only as its SHA-256", () =>
      Effect.gen(function* () {
        const sessions = yield* SessionRepo
        const { token } = yield* sessions.createSession("t-opaque", "u1", MAX_AGE)
        expect(token.startsWith(SESSION_PREFIX)).toBe(true)
        expect(Buffer.from(token.slice(SESSION_PREFIX.length), "base64url").length).toBe(32)
        const keys = yield* allKeys
        expect(keys.some((k) => k.includes(digestToken(token)))).toBe(true)
        expect(keys.some((k) => k.includes(token.slice(SESSION_PREFIX.length)))).toBe(false)
        const { token: second } = yield* sessions.createSession("t-opaque", "u1", MAX_AGE)
        expect(second).not.toBe(token)
      })
    )

    effect("idle expiry: use keeps it alive, IDLE without a request ends it", () =>
      Effect.gen(function* () {
        const sessions = yield* SessionRepo
        const { token } = yield* sessions.createSession("t-idle", "u1", MAX_AGE)
        for (let i = 0; i < 4; i++) {
          yield* TestClock.adjust(Duration.millis(IDLE - MINUTE))
          expect(Option.isSome(yield* sessions.resolveSession(token, IDLE)), `use ${i}`).toBe(true)
        }
        yield* TestClock.adjust(Duration.millis(IDLE))
        expect(Option.isNone(yield* sessions.resolveSession(token, IDLE))).toBe(true)
        // gone for good, not just refused once
        expect((yield* allKeys).some((k) => k.includes(digestToken(token)))).toBe(false)
      })
    )

    effect("absolute expiry ends a session that is used all the time", () =>
      Effect.gen(function* () {
        const sessions = yield* SessionRepo
        const { token, record } = yield* sessions.createSession("t-abs", "u1", MAX_AGE)
        expect(record.expiresAt - record.createdAt).toBe(MAX_AGE)
        let alive = 0
        while (alive < 100 && Option.isSome(yield* sessions.resolveSession(token, IDLE))) {
          alive++
          yield* TestClock.adjust(Duration.millis(IDLE / 2))
        }
        // every 15 minutes for 12 hours: 48 uses, then refused
        expect(alive).toBe(MAX_AGE / (IDLE / 2))
      })
    )

    effect("revoke ends it at once; unknown, foreign-prefixed and oversized tokens are none", () =>
      Effect.gen(function* () {
        const sessions = yield* SessionRepo
        const { token } = yield* sessions.createSession("t-rev", "u1", MAX_AGE)
        expect(yield* sessions.revokeSession(token)).toBe(true)
        expect(Option.isNone(yield* sessions.resolveSession(token, IDLE))).toBe(true)
        expect(yield* sessions.revokeSession(token)).toBe(false)
        for (const t of [`${SESSION_PREFIX}nope`, `imp_op_${token.slice(8)}`, `${token}${"x".repeat(300)}`]) {
          expect(Option.isNone(yield* sessions.resolveSession(t, IDLE))).toBe(true)
        }
      })
    )
  })

  describe("one-time codes", () => {
    effect("a CSPRNG code of CODE_DIGITS digits works once", () =>
      Effect.gen(function* () {
        const sessions = yield* SessionRepo
        const { attemptId, code } = yield* sessions.createAttempt("t-code", "u1", 15 * MINUTE)
        expect(code).toMatch(new RegExp(`^\\d{${CODE_DIGITS}}$`))
        expect(Buffer.from(attemptId, "base64url").length).toBe(16)
        expect(yield* sessions.checkCode(attemptId, code, 5)).toEqual({ _tag: "Accepted", tenantId: "t-code", userId: "u1" })
        expect(yield* sessions.checkCode(attemptId, code, 5)).toEqual({ _tag: "Invalid" })
      })
    )

    effect("expires after its lifetime", () =>
      Effect.gen(function* () {
        const sessions = yield* SessionRepo
        const early = yield* sessions.createAttempt("t-exp", "u1", 15 * MINUTE)
        const late = yield* sessions.createAttempt("t-exp", "u1", 15 * MINUTE)
        yield* TestClock.adjust(Duration.millis(15 * MINUTE - 1))
        expect((yield* sessions.checkCode(early.attemptId, early.code, 5))._tag).toBe("Accepted")
        yield* TestClock.adjust(Duration.millis(1))
        expect(yield* sessions.checkCode(late.attemptId, late.code, 5)).toEqual({ _tag: "Invalid" })
      })
    )

    effect("a code belongs to its attempt: another attempt's code is wrong there", () =>
      Effect.gen(function* () {
        const sessions = yield* SessionRepo
        const a = yield* sessions.createAttempt("t-bind", "u1", 15 * MINUTE)
        let b = yield* sessions.createAttempt("t-bind", "u1", 15 * MINUTE)
        // codes are random; draw again in the (1 in 10^6) case the two match
        for (let i = 0; i < 5 && b.code === a.code; i++) b = yield* sessions.createAttempt("t-bind", "u1", 15 * MINUTE)
        expect((yield* sessions.checkCode(a.attemptId, b.code, 5))._tag).toBe("WrongCode")
        expect((yield* sessions.checkCode(b.attemptId, a.code, 5))._tag).toBe("WrongCode")
        expect((yield* sessions.checkCode(a.attemptId, a.code, 5))._tag).toBe("Accepted")
      })
    )

    effect("wrong codes count down, and the last try kills the attempt even for the right code", () =>
      Effect.gen(function* () {
        const sessions = yield* SessionRepo
        const { attemptId, code } = yield* sessions.createAttempt("t-tries", "u1", 15 * MINUTE)
        const wrong = code === "000000" ? "111111" : "000000"
        const left: Array<number> = []
        for (let i = 0; i < 5; i++) {
          const r = yield* sessions.checkCode(attemptId, wrong, 5)
          if (r._tag === "WrongCode") left.push(r.triesLeft)
        }
        expect(left).toEqual([4, 3, 2, 1, 0])
        expect(yield* sessions.checkCode(attemptId, code, 5)).toEqual({ _tag: "Invalid" })
      })
    )

    effect("an unknown or empty attempt id is invalid", () =>
      Effect.gen(function* () {
        const sessions = yield* SessionRepo
        expect(yield* sessions.checkCode("no-such-attempt", "123456", 5)).toEqual({ _tag: "Invalid" })
        expect(yield* sessions.checkCode("", "123456", 5)).toEqual({ _tag: "Invalid" })
      })
    )
  })

  describe("trusted devices", () => {
    effect("bound to their user and tenant, until they expire", () =>
      Effect.gen(function* () {
        const sessions = yield* SessionRepo
        const { token } = yield* sessions.createDevice("t-dev", "u1", 90 * 24 * 60 * MINUTE)
        expect(yield* sessions.isTrustedDevice(token, "t-dev", "u1")).toBe(true)
        expect(yield* sessions.isTrustedDevice(token, "t-dev", "u2")).toBe(false)
        expect(yield* sessions.isTrustedDevice(token, "t-other", "u1")).toBe(false)
        yield* TestClock.adjust(Duration.days(90))
        expect(yield* sessions.isTrustedDevice(token, "t-dev", "u1")).toBe(false)
      })
    )
  })

  effect("ending a user's credentials keeps the named session only, and touches no other user", () =>
    Effect.gen(function* () {
      const sessions = yield* SessionRepo
      const keep = yield* sessions.createSession("t-end", "u1", MAX_AGE)
      const other = yield* sessions.createSession("t-end", "u1", MAX_AGE)
      const neighbour = yield* sessions.createSession("t-end", "u2", MAX_AGE)
      const device = yield* sessions.createDevice("t-end", "u1", MAX_AGE)
      expect(yield* sessions.endUserCredentials("t-end", "u1", keep.token)).toEqual({ sessions: 1, devices: 1 })
      expect(Option.isSome(yield* sessions.resolveSession(keep.token, IDLE))).toBe(true)
      expect(Option.isNone(yield* sessions.resolveSession(other.token, IDLE))).toBe(true)
      expect(Option.isSome(yield* sessions.resolveSession(neighbour.token, IDLE))).toBe(true)
      expect(yield* sessions.isTrustedDevice(device.token, "t-end", "u1")).toBe(false)
    })
  )

  effect("removing a tenant's accounts removes every key of that tenant and none of its neighbour's", () =>
    Effect.gen(function* () {
      const accounts = yield* AccountRepo
      const sessions = yield* SessionRepo
      const seed = (t: string) =>
        Effect.gen(function* () {
          const u = yield* accounts.createUser(t, { email: `owner@${t}.example`, name: "Owner", role: "owner", password: "Granite7Lantern" })
          yield* sessions.createSession(t, u.id, MAX_AGE)
          yield* sessions.createDevice(t, u.id, MAX_AGE)
          yield* sessions.createAttempt(t, u.id, MAX_AGE)
          return yield* accounts.createApiToken(t, "ci", "editor", "operator:spec")
        })
      const before = yield* allKeys
      yield* seed("t-gone")
      const kept = yield* seed("t-gone2")
      const withBoth = yield* allKeys
      yield* accounts.removeTenant("t-gone")
      const after = yield* allKeys
      // 1 user + 1 login + session/device/attempt with their refs + token with its ref, per tenant
      expect(withBoth.length - before.length).toBe(2 * 10)
      expect(after.length - before.length).toBe(10)
      expect(after.filter((k) => k.includes("t-gone/") || k.includes("@t-gone.example"))).toEqual([])
      expect(Option.isSome(yield* accounts.findByEmail("OWNER@t-gone2.example"))).toBe(true)
      expect(Option.isSome(yield* accounts.resolveApiToken(kept.token))).toBe(true)
      expect(Option.isNone(yield* accounts.findByEmail("owner@t-gone.example"))).toBe(true)
    })
  )
})
