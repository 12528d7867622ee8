import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { adminTestLayer } from "./AdminHarness.js"
import { rawHttps } from "./RawHttps.js"

/** Item 12 of issue 13: a 429 says when to come back in `Retry-After` (RFC 9110), as its body's retryAfterSeconds does. */

const login = (email: string) => {
  const body = JSON.stringify({ email, password: "Wrong-password-1" })
  return rawHttps(
    ["POST /auth/login HTTP/1.1", "Host: 127.0.0.1", "Connection: close", "Content-Type: application/json", `Content-Length: ${body.length}`].join("\r\n"),
    { piece: Buffer.from(body), upTo: body.length }
  )
}

layer(adminTestLayer())("admin API: Retry-After", (it) => {
  it.effect("a throttled sign-in gets 429 with Retry-After equal to retryAfterSeconds; other answers have none", () =>
    Effect.gen(function* () {
      const email = "nobody-retry@acme.example"
      for (let i = 0; i < 5; i++) {
        const refused = yield* login(email)
        expect(refused.status).toBe(401)
        expect(refused.headers["retry-after"]).toBeUndefined()
      }
      const throttled = yield* login(email)
      expect(throttled.status).toBe(429)
      const body = JSON.parse(throttled.body)
      expect(body._tag).toBe("TooManyAttempts")
      expect(body.retryAfterSeconds).toBeGreaterThan(0)
      expect(throttled.headers["retry-after"]).toBe(String(body.retryAfterSeconds))
    })
  )
})
