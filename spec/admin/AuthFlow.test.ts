import { describe, expect, it, layer } from "@effect/vitest"
import { Clock, Duration, Effect, Either, TestClock } from "effect"
import { UNAUTHORIZED_MESSAGE } from "../../src/admin/Api.js"
import { ATTEMPT_INVALID, LOGIN_FAILED } from "../../src/admin/auth/Handlers.js"
import { applyEnv, decodeConfig } from "../../src/config.js"
import { DEVICE_PREFIX, SESSION_PREFIX } from "../../src/store/SessionRepo.js"
import { apiClient, operatorClient } from "./AdminHarness.js"
import { authTestLayer, codeSent, codeSentTo, MAIL_FROM, MailSink, PASSWORD, rawCall, seedTenant, seedUser, signIn } from "./AuthHarness.js"

const MINUTE = 60_000

// the server runs on the live clock here (real timestamps); expiry over the wire is driven by TestClock further down
layer(authTestLayer(), { excludeTestServices: true })("admin API: sign-in", (it) => {
  it.effect("the whole flow: password, emailed code, session; me; logout ends it", () =>
    Effect.gen(function* () {
      yield* seedTenant("t-flow", "203.0.113.0/28")
      yield* seedUser("t-flow", "Owner@T-Flow.example", "owner")
      const sink = yield* MailSink
      const anonymous = yield* apiClient(undefined)
      const seen = sink.messages.length
      const before = Date.now()
      // the login name is case-insensitive
      const started = yield* anonymous.auth.login({ payload: { email: "owner@t-flow.example", password: PASSWORD } })
      expect(started.status).toBe("code-sent")
      if (started.status !== "code-sent") return
      const expires = Date.parse(started.expiresAt) - before
      expect(expires).toBeGreaterThan(14 * MINUTE)
      expect(expires).toBeLessThanOrEqual(15 * MINUTE + 60_000)

      const { code, message } = yield* codeSentTo("Owner@T-Flow.example", seen)
      expect(code).toMatch(/^\d{6}$/)
      expect(message.mailFrom).toBe("no-reply@imprint.test")
      expect(message.raw.toString()).toContain(`From: ${MAIL_FROM}`)
      // the mail carries the code and nothing that would sign in without it
      expect(message.raw.toString()).not.toContain(started.attemptId)

      const session = yield* anonymous.auth.verify({ payload: { attemptId: started.attemptId, code } })
      expect(session.sessionToken.startsWith(SESSION_PREFIX)).toBe(true)
      expect(session.sessionToken).not.toBe(started.attemptId)
      expect(session.idleMinutes).toBe(30)
      expect(Date.parse(session.expiresAt) - before).toBeGreaterThan(11.9 * 60 * MINUTE)
      expect(session.deviceToken).toBeUndefined()

      const member = yield* apiClient(session.sessionToken)
      const me = yield* member.auth.me()
      expect(me).toMatchObject({ _tag: "TenantMember", tenantId: "t-flow", role: "owner", label: "Owner@T-Flow.example", via: "session" })
      expect((yield* member.users.list({ path: { tenantId: "t-flow" } })).map((u) => u.email)).toEqual(["Owner@T-Flow.example"])

      // the attempt id is not a bearer credential
      const attemptAsBearer = yield* apiClient(started.attemptId)
      expect((yield* Effect.flip(attemptAsBearer.auth.me()))._tag).toBe("Unauthorized")

      yield* member.auth.logout()
      const after = yield* Effect.flip(member.auth.me())
      expect(after).toMatchObject({ _tag: "Unauthorized", message: UNAUTHORIZED_MESSAGE })
    })
  )

  it.effect("each login mints a new session token", () =>
    Effect.gen(function* () {
      yield* seedTenant("t-rotate", "203.0.113.16/28")
      yield* seedUser("t-rotate", "ann@t-rotate.example", "editor")
      const a = yield* signIn("ann@t-rotate.example")
      const b = yield* signIn("ann@t-rotate.example")
      expect(a.sessionToken).not.toBe(b.sessionToken)
      // both stay valid: two browsers
      for (const s of [a, b]) expect((yield* (yield* apiClient(s.sessionToken)).auth.me())._tag).toBe("TenantMember")
    })
  )

  describe("codes", () => {
    it.effect("a code works once", () =>
      Effect.gen(function* () {
        yield* seedTenant("t-once", "203.0.113.32/28")
        yield* seedUser("t-once", "bo@t-once.example", "editor")
        const { anonymous, attemptId, code } = yield* codeSent("bo@t-once.example")
        yield* anonymous.auth.verify({ payload: { attemptId, code } })
        const again = yield* Effect.flip(anonymous.auth.verify({ payload: { attemptId, code } }))
        expect(again).toMatchObject({ _tag: "Unauthorized", message: ATTEMPT_INVALID })
      })
    )

    it.effect("a code from another attempt is refused, and the right one still works", () =>
      Effect.gen(function* () {
        yield* seedTenant("t-other", "203.0.113.48/28")
        yield* seedUser("t-other", "cy@t-other.example", "editor")
        const sink = yield* MailSink
        const anonymous = yield* apiClient(undefined)
        const login = () => anonymous.auth.login({ payload: { email: "cy@t-other.example", password: PASSWORD } })
        const seenA = sink.messages.length
        const a = yield* login()
        const codeA = (yield* codeSentTo("cy@t-other.example", seenA)).code
        const seenB = sink.messages.length
        const b = yield* login()
        const codeB = (yield* codeSentTo("cy@t-other.example", seenB)).code
        if (a.status !== "code-sent" || b.status !== "code-sent") return expect.fail("codes expected")
        if (codeA === codeB) return // 1 in 10^6: nothing to tell apart
        const crossed = yield* Effect.flip(anonymous.auth.verify({ payload: { attemptId: b.attemptId, code: codeA } }))
        expect(crossed._tag).toBe("Unauthorized")
        expect(crossed.message).toContain("the code is wrong; 4 tries left")
        expect((yield* anonymous.auth.verify({ payload: { attemptId: b.attemptId, code: codeB } })).status).toBe("session")
        expect((yield* anonymous.auth.verify({ payload: { attemptId: a.attemptId, code: codeA } })).status).toBe("session")
      })
    )

    it.effect("wrong codes exhaust the attempt: after 5, the right code is refused too", () =>
      Effect.gen(function* () {
        yield* seedTenant("t-exhaust", "203.0.113.64/28")
        yield* seedUser("t-exhaust", "dee@t-exhaust.example", "editor")
        const { anonymous, attemptId, code } = yield* codeSent("dee@t-exhaust.example")
        const wrong = code === "000000" ? "000001" : "000000"
        const messages: Array<string> = []
        for (let i = 0; i < 5; i++) messages.push((yield* Effect.flip(anonymous.auth.verify({ payload: { attemptId, code: wrong } }))).message)
        expect(messages.slice(0, 4)).toEqual(
          [4, 3, 2].map((n) => `the code is wrong; ${n} tries left for this attempt`).concat("the code is wrong; 1 try left for this attempt")
        )
        expect(messages[4]).toBe(ATTEMPT_INVALID)
        const late = yield* Effect.flip(anonymous.auth.verify({ payload: { attemptId, code } }))
        expect(late.message).toBe(ATTEMPT_INVALID)
      })
    )
  })

  it.effect("a trusted device skips the code for its own user only, and never the password", () =>
    Effect.gen(function* () {
      yield* seedTenant("t-device", "203.0.113.80/28")
      yield* seedUser("t-device", "eve@t-device.example", "editor")
      yield* seedUser("t-device", "fay@t-device.example", "editor")
      const sink = yield* MailSink
      const anonymous = yield* apiClient(undefined)
      const trusted = yield* signIn("eve@t-device.example", PASSWORD, true)
      const deviceToken = trusted.deviceToken!
      expect(deviceToken.startsWith(DEVICE_PREFIX)).toBe(true)
      expect(Date.parse(trusted.deviceExpiresAt!) - Date.now()).toBeGreaterThan(89 * 24 * 60 * MINUTE)

      const mails = sink.messages.length
      const direct = yield* anonymous.auth.login({ payload: { email: "eve@t-device.example", password: PASSWORD, deviceToken } })
      expect(direct.status).toBe("session")
      expect(sink.messages.length).toBe(mails)
      if (direct.status === "session") expect(yield* (yield* apiClient(direct.sessionToken)).auth.me()).toMatchObject({ label: "eve@t-device.example" })

      const wrongPassword = yield* Effect.flip(anonymous.auth.login({ payload: { email: "eve@t-device.example", password: "Wrong7Password", deviceToken } }))
      expect(wrongPassword.message).toBe(LOGIN_FAILED)
      const otherUser = yield* anonymous.auth.login({ payload: { email: "fay@t-device.example", password: PASSWORD, deviceToken } })
      expect(otherUser.status).toBe("code-sent")
      const garbage = yield* anonymous.auth.login({ payload: { email: "eve@t-device.example", password: PASSWORD, deviceToken: `${DEVICE_PREFIX}forged` } })
      expect(garbage.status).toBe("code-sent")
    })
  )

  it.effect("unknown email, wrong password and a disabled account get the same 401", () =>
    Effect.gen(function* () {
      yield* seedTenant("t-same", "203.0.113.96/28")
      yield* seedUser("t-same", "gus@t-same.example", "editor")
      const disabled = yield* seedUser("t-same", "hal@t-same.example", "editor")
      const answers: Array<{ status: number; text: string }> = []
      for (const body of [
        { email: "nobody@t-same.example", password: PASSWORD },
        { email: "gus@t-same.example", password: "Wrong7Password" },
        { email: "gus@t-same.example", password: "" }
      ])
        answers.push(yield* rawCall("POST", "/auth/login", { json: body }))
      yield* (yield* operatorClient).users.update({ path: { tenantId: "t-same", userId: disabled.id }, payload: { disabled: true } })
      answers.push(yield* rawCall("POST", "/auth/login", { json: { email: "hal@t-same.example", password: PASSWORD } }))
      for (const a of answers) expect(a).toEqual(answers[0])
      expect(answers[0].status).toBe(401)
      expect(JSON.parse(answers[0].text)).toEqual({ _tag: "Unauthorized", message: LOGIN_FAILED })
    })
  )

  it.effect("a body that does not decode is 400 before any account is looked at", () =>
    Effect.gen(function* () {
      const extra = yield* rawCall("POST", "/auth/login", { json: { email: "x@y.example", password: "p", tenant: "t-same" } })
      expect(extra.status).toBe(400)
      expect(extra.text).toContain("tenant")
      const long = yield* rawCall("POST", "/auth/login", { json: { email: "x@y.example", password: "A1a".repeat(200) } })
      expect(long.status).toBe(400)
    })
  )
})

layer(authTestLayer({ login: { throttleAccountFailures: 5, throttleBaseSeconds: 60 }, mail: false }), { excludeTestServices: true })(
  "admin API: sign-in throttling and no mail server",
  (it) => {
    it.effect("after 5 failures the 6th try is 429 with when to retry, for a known and an unknown email alike", () =>
      Effect.gen(function* () {
        yield* seedTenant("t-throttle", "203.0.113.112/28")
        yield* seedUser("t-throttle", "ivy@t-throttle.example", "editor")
        const statuses = (email: string) =>
          Effect.gen(function* () {
            const out: Array<number> = []
            let last = ""
            for (let i = 0; i < 7; i++) {
              const r = yield* rawCall("POST", "/auth/login", { json: { email, password: "Wrong7Password" } })
              out.push(r.status)
              last = r.text
            }
            return { out, last: JSON.parse(last) as { _tag: string; retryAfterSeconds: number; message: string } }
          })
        const known = yield* statuses("ivy@t-throttle.example")
        const unknown = yield* statuses("nobody@t-throttle.example")
        expect(known.out).toEqual([401, 401, 401, 401, 401, 429, 429])
        expect(unknown.out).toEqual(known.out)
        expect(known.last._tag).toBe("TooManyAttempts")
        expect(known.last.retryAfterSeconds).toBeGreaterThan(0)
        expect(known.last.retryAfterSeconds).toBeLessThanOrEqual(60)
        expect(known.last.message).toMatch(/^too many failed sign-ins; retry after \d+ s \(at \d{4}-\d\d-\d\dT/)
        // the right password does not get through while the account waits
        const right = yield* rawCall("POST", "/auth/login", { json: { email: "ivy@t-throttle.example", password: "Granite7Lantern" } })
        expect(right.status).toBe(429)
      })
    )

    it.effect("without admin.mail a right password is 503 naming the setting; a wrong one is still 401", () =>
      Effect.gen(function* () {
        yield* seedTenant("t-nomail", "203.0.113.128/28")
        yield* seedUser("t-nomail", "jo@t-nomail.example", "editor")
        const right = yield* rawCall("POST", "/auth/login", { json: { email: "jo@t-nomail.example", password: "Granite7Lantern" } })
        expect(right.status).toBe(503)
        expect(right.text).toContain("admin.mail")
        const wrong = yield* rawCall("POST", "/auth/login", { json: { email: "jo@t-nomail.example", password: "Wrong7Password" } })
        expect(wrong.status).toBe(401)
      })
    )
  }
)

/**
 * Expiry over the wire: this server and the tests share one TestClock (the
 * layer is built with test services), so TestClock.adjust moves the server's
 * time. Kept short (the store's 1 s poll loop runs once per simulated second).
 */
layer(authTestLayer({ login: { sessionIdleMinutes: 2, sessionMaxHours: 1, codeTtlMinutes: 5 } }))("admin API: expiry on TestClock", (it) => {
  it.effect("a session unused for the idle time ends; use keeps it alive", () =>
    Effect.gen(function* () {
      yield* seedTenant("t-idle", "203.0.113.144/28")
      yield* seedUser("t-idle", "kim@t-idle.example", "editor")
      const member = yield* apiClient((yield* signIn("kim@t-idle.example")).sessionToken)
      yield* TestClock.adjust(Duration.seconds(100))
      expect((yield* member.auth.me())._tag).toBe("TenantMember")
      yield* TestClock.adjust(Duration.seconds(100))
      expect((yield* member.auth.me())._tag).toBe("TenantMember")
      yield* TestClock.adjust(Duration.seconds(120))
      expect(yield* Effect.flip(member.auth.me())).toMatchObject({ _tag: "Unauthorized", message: UNAUTHORIZED_MESSAGE })
    })
  )

  it.effect("a session in constant use ends at its absolute expiry", () =>
    Effect.gen(function* () {
      yield* seedTenant("t-abs", "203.0.113.160/28")
      yield* seedUser("t-abs", "lee@t-abs.example", "editor")
      const start = yield* Clock.currentTimeMillis
      const member = yield* apiClient((yield* signIn("lee@t-abs.example")).sessionToken)
      let elapsed = 0
      while (elapsed < 2 * 60 * MINUTE && Either.isRight(yield* Effect.either(member.auth.me()))) {
        yield* TestClock.adjust(Duration.seconds(100))
        elapsed = (yield* Clock.currentTimeMillis) - start
      }
      expect(elapsed).toBeGreaterThanOrEqual(60 * MINUTE)
      expect(elapsed).toBeLessThan(60 * MINUTE + 100_000)
    })
  )

  it.effect("a code sent longer ago than its lifetime is refused", () =>
    Effect.gen(function* () {
      yield* seedTenant("t-codeexp", "203.0.113.176/28")
      yield* seedUser("t-codeexp", "max@t-codeexp.example", "editor")
      const { anonymous, attemptId, code } = yield* codeSent("max@t-codeexp.example")
      yield* TestClock.adjust(Duration.minutes(5))
      expect(yield* Effect.flip(anonymous.auth.verify({ payload: { attemptId, code } }))).toMatchObject({ _tag: "Unauthorized", message: ATTEMPT_INVALID })
    })
  )
})

describe("admin.login configuration", () => {
  it("a code lifetime over 4 hours is refused at start-up; 4 hours is accepted", () => {
    const refused = decodeConfig({ admin: { login: { codeTtlMinutes: 241 } } })
    expect(Either.isLeft(refused) && refused.left.message).toContain("codeTtlMinutes")
    const accepted = decodeConfig({ admin: { login: { codeTtlMinutes: 240 } } })
    expect(Either.isRight(accepted) && accepted.right.admin.login.codeTtlMinutes).toBe(240)
    expect(Either.isRight(decodeConfig({})) && Either.getOrThrow(decodeConfig({})).admin.login.codeTtlMinutes).toBe(15)
  })

  it("admin.mail needs a host and a from address; unknown keys are refused", () => {
    expect(Either.isLeft(decodeConfig({ admin: { mail: { host: "127.0.0.1" } } }))).toBe(true)
    expect(Either.isLeft(decodeConfig({ admin: { mail: { host: "127.0.0.1", from: "a@b.example", tls: true } } }))).toBe(true)
    const fromEnv = applyEnv(
      {},
      { IMPRINT_ADMIN_MAIL_HOST: "127.0.0.1", IMPRINT_ADMIN_MAIL_FROM: "a@b.example", IMPRINT_ADMIN_MAIL_USER: "mailer", IMPRINT_ADMIN_MAIL_PASS: "s3cret" }
    )
    expect(Either.isRight(decodeConfig(fromEnv)) && Either.getOrThrow(decodeConfig(fromEnv)).admin.mail?.auth).toEqual({ user: "mailer", pass: "s3cret" })
    const ok = decodeConfig({ admin: { mail: { host: "127.0.0.1", from: "a@b.example" } } })
    expect(Either.isRight(ok) && ok.right.admin.mail).toMatchObject({ port: 587, secure: false, requireTLS: true, rejectUnauthorized: true })
  })
})
