import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Layer, TestClock } from "effect"
import { AccountConfig, LoginSettings } from "../../src/domain/AccountSettings.js"
import { LoginThrottle, type ThrottleKey, waitFor } from "../../src/admin/auth/LoginThrottle.js"

/** LoginThrottle on TestClock: waits double after the free failures, per account and per address. */

const throttleWith = (login: Partial<LoginSettings>) =>
  LoginThrottle.Default.pipe(Layer.provide(Layer.succeed(AccountConfig, { login: LoginSettings.make(login), mail: undefined })))

const account = (email: string): ThrottleKey => ({ kind: "account", value: email })
const address = (ip: string): ThrottleKey => ({ kind: "address", value: ip })

/** a try that fails: begin counts it, nothing forgives it; answers the wait in seconds when refused */
const failedTry = (keys: ReadonlyArray<ThrottleKey>) =>
  Effect.flatMap(LoginThrottle, (t) => t.begin(keys)).pipe(Effect.either, Effect.map(Either.match({ onLeft: (e) => e.retryAfterSeconds, onRight: () => 0 })))

describe("LoginThrottle", () => {
  it("waitFor: nothing for the free failures, then base·2^n up to the cap", () => {
    const limits = { free: 5, baseMs: 1000, maxMs: 16_000 }
    expect([0, 4, 5, 6, 7, 8, 9, 10, 50].map((f) => waitFor(f, limits))).toEqual([0, 0, 1000, 2000, 4000, 8000, 16_000, 16_000, 16_000])
  })

  it.effect("after 5 failures each try waits 1 s, 2 s, 4 s … capped; the answer says when", () =>
    Effect.gen(function* () {
      const keys = [account("ann@acme.example"), address("192.0.2.1")]
      for (let i = 0; i < 5; i++) expect(yield* failedTry(keys), `free try ${i}`).toBe(0)
      const waits: Array<number> = []
      for (let i = 0; i < 7; i++) {
        const wait = yield* failedTry(keys)
        waits.push(wait)
        // a try inside the wait is refused and not counted
        expect(yield* failedTry(keys)).toBe(wait)
        yield* TestClock.adjust(Duration.seconds(wait))
        expect(yield* failedTry(keys), `after waiting ${wait} s`).toBe(0)
      }
      expect(waits).toEqual([1, 2, 4, 8, 16, 16, 16])
    }).pipe(Effect.provide(throttleWith({ throttleMaxSeconds: 16 })))
  )

  it.effect("the message names the retry time", () =>
    Effect.gen(function* () {
      const throttle = yield* LoginThrottle
      const keys = [account("bo@acme.example")]
      for (let i = 0; i < 5; i++) yield* Effect.either(throttle.begin(keys))
      const refused = yield* Effect.flip(throttle.begin(keys))
      expect(refused._tag).toBe("TooManyAttempts")
      expect(refused.message).toBe("too many failed sign-ins; retry after 1 s (at 1970-01-01T00:00:01.000Z)")
    }).pipe(Effect.provide(throttleWith({})))
  )

  it.effect("an unknown account is throttled exactly like a known one (the key is the email as typed)", () =>
    Effect.gen(function* () {
      const run = (email: string) =>
        Effect.gen(function* () {
          const out: Array<number> = []
          for (let i = 0; i < 8; i++) out.push(yield* failedTry([account(email)]))
          return out
        })
      expect(yield* run("nobody@nowhere.example")).toEqual(yield* run("ann@acme.example"))
      expect(yield* run("Case@Acme.example")).toEqual([0, 0, 0, 0, 0, 1, 1, 1])
      expect(yield* failedTry([account("case@acme.example")])).toBe(1)
    }).pipe(Effect.provide(throttleWith({})))
  )

  it.effect("per address: many accounts from one address trip the address limit; another address is untouched", () =>
    Effect.gen(function* () {
      for (let i = 0; i < 20; i++) expect(yield* failedTry([account(`u${i}@acme.example`), address("198.51.100.9")])).toBe(0)
      expect(yield* failedTry([account("fresh@acme.example"), address("198.51.100.9")])).toBe(1)
      expect(yield* failedTry([account("fresh@acme.example"), address("198.51.100.10")])).toBe(0)
    }).pipe(Effect.provide(throttleWith({ throttleAddressFailures: 20 })))
  )

  it.effect("a right password forgives its try; a completed sign-in resets the account; later wrong codes count again", () =>
    Effect.gen(function* () {
      const throttle = yield* LoginThrottle
      const keys = [account("cy@acme.example"), address("192.0.2.7")]
      for (let i = 0; i < 4; i++) yield* throttle.begin(keys)
      // the fifth try has the right password: forgiven, so the account is still under its free failures
      yield* throttle.begin(keys)
      yield* throttle.forgive(keys)
      expect(yield* failedTry(keys)).toBe(0)
      yield* throttle.reset([keys[0]])
      for (let i = 0; i < 5; i++) yield* throttle.fail([keys[0]])
      expect(yield* failedTry([keys[0]])).toBe(1)
    }).pipe(Effect.provide(throttleWith({ throttleAddressFailures: 100 })))
  )

  it.effect("parallel tries cannot slip past: each is counted when it starts", () =>
    Effect.gen(function* () {
      const keys = [account("dee@acme.example")]
      const results = yield* Effect.all(
        Array.from({ length: 20 }, () => failedTry(keys)),
        { concurrency: "unbounded" }
      )
      expect(results.filter((w) => w === 0)).toHaveLength(5)
    }).pipe(Effect.provide(throttleWith({})))
  )
})
