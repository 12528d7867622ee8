import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { AUTH_BODY_CAP, bodyCapOf, JSON_BODY_CAP } from "../../src/admin/http/BodyLimits.js"
import { MAX_IMPORT_BYTES } from "../../src/admin/directory/Api.js"
import { TEST_STAMP_MAX_BYTES } from "../../src/admin/rules/PreviewApi.js"
import { adminTestLayer, createPayload, operatorClient, tenantBody } from "./AdminHarness.js"
import { bearerLine, rawHttps } from "./RawHttps.js"

/**
 * Item 7 of issue 13: every route has a body cap, answered 413 with a JSON
 * error before the body is read (declared length) or as soon as the cap is
 * crossed (chunked), and the connection is closed so the rest is never read.
 * The raw client offers far more than the cap and counts what the server let
 * in before it answered.
 */

const MB = 1024 * 1024
const piece = Buffer.alloc(64 * 1024, "a")
// what may be in flight in socket buffers when the answer comes
const IN_FLIGHT = 8 * MB

const expectTooLarge = (response: { status: number; headers: Readonly<Record<string, string>>; body: string; closedByServer: boolean }, cap: number) => {
  expect(response.status).toBe(413)
  expect(response.headers["content-type"]).toContain("application/json")
  expect(response.headers["connection"]).toBe("close")
  const body = JSON.parse(response.body)
  expect(body._tag).toBe("PayloadTooLarge")
  expect(body.limit).toBe(cap)
  expect(body.message).toContain(`${cap} bytes`)
  expect(response.closedByServer).toBe(true)
}

layer(adminTestLayer())("admin API: request body caps", (it) => {
  it("the caps: small for auth and JSON, the import and test stamp limits for those", () => {
    expect(bodyCapOf("POST", "/auth/login")).toBe(AUTH_BODY_CAP)
    expect(bodyCapOf("PUT", "/tenants/a/directory/users/x@a.example")).toBe(JSON_BODY_CAP)
    expect(bodyCapOf("POST", "/tenants/a/directory/import/csv")).toBe(MAX_IMPORT_BYTES)
    expect(bodyCapOf("POST", "/tenants/a/test-stamp")).toBe(TEST_STAMP_MAX_BYTES)
    expect(AUTH_BODY_CAP).toBeLessThanOrEqual(16 * 1024)
    expect(JSON_BODY_CAP).toBeLessThanOrEqual(64 * 1024)
  })

  it.effect("an unauthenticated login declaring 16 MB gets 413 before the body is read", () =>
    Effect.gen(function* () {
      const response = yield* rawHttps(
        ["POST /auth/login HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", `Content-Length: ${16 * MB}`].join("\r\n"),
        { piece, upTo: 16 * MB }
      )
      expectTooLarge(response, AUTH_BODY_CAP)
      expect(response.sent).toBeLessThan(IN_FLIGHT)
    })
  )

  it.effect("the same with Connection: close", () =>
    Effect.gen(function* () {
      const response = yield* rawHttps(
        ["POST /auth/login HTTP/1.1", "Host: 127.0.0.1", "Connection: close", "Content-Type: application/json", `Content-Length: ${16 * MB}`].join("\r\n"),
        { piece, upTo: 16 * MB }
      )
      expectTooLarge(response, AUTH_BODY_CAP)
      expect(response.sent).toBeLessThan(IN_FLIGHT)
    })
  )

  it.effect("a chunked login body is read only up to the cap", () =>
    Effect.gen(function* () {
      const response = yield* rawHttps(
        ["POST /auth/login HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", "Transfer-Encoding: chunked"].join("\r\n"),
        { piece, upTo: 32 * MB, chunked: true }
      )
      expectTooLarge(response, AUTH_BODY_CAP)
      expect(response.sent).toBeLessThan(IN_FLIGHT)
    })
  )

  it.effect("a chunked body with Connection: close is answered 413 too", () =>
    Effect.gen(function* () {
      const response = yield* rawHttps(
        ["POST /auth/login HTTP/1.1", "Host: 127.0.0.1", "Connection: close", "Content-Type: application/json", "Transfer-Encoding: chunked"].join("\r\n"),
        { piece, upTo: 32 * MB, chunked: true }
      )
      expectTooLarge(response, AUTH_BODY_CAP)
    })
  )

  it.effect("100 MB declared to a template endpoint gets 413 at once, before authentication", () =>
    Effect.gen(function* () {
      const cap = bodyCapOf("POST", "/tenants/acme/templates")
      const response = yield* rawHttps(
        ["POST /tenants/acme/templates HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", `Content-Length: ${100 * MB}`].join("\r\n"),
        { piece, upTo: 100 * MB }
      )
      expectTooLarge(response, cap)
      expect(response.sent).toBeLessThan(IN_FLIGHT)
    })
  )

  it.effect("a directory entry over the JSON cap is 413; under it the request is served", () =>
    Effect.gen(function* () {
      const client = yield* operatorClient
      yield* client.tenants.create({ payload: createPayload(tenantBody("caps", "198.51.142.0/24")) })
      const auth = yield* bearerLine
      const entry = (displayName: string) => JSON.stringify({ mail: "bob@caps.example", displayName })
      const big = entry("b".repeat(JSON_BODY_CAP))
      const over = yield* rawHttps(
        [
          "PUT /tenants/caps/directory/users/bob@caps.example HTTP/1.1",
          "Host: 127.0.0.1",
          auth,
          "Content-Type: application/json",
          `Content-Length: ${Buffer.byteLength(big)}`
        ].join("\r\n"),
        { piece: Buffer.from(big), upTo: Buffer.byteLength(big) }
      )
      expectTooLarge(over, JSON_BODY_CAP)
      const small = entry("Bob")
      const ok = yield* rawHttps(
        [
          "PUT /tenants/caps/directory/users/bob@caps.example HTTP/1.1",
          "Host: 127.0.0.1",
          auth,
          "Content-Type: application/json",
          "Connection: close",
          `Content-Length: ${Buffer.byteLength(small)}`
        ].join("\r\n"),
        { piece: Buffer.from(small), upTo: Buffer.byteLength(small) }
      )
      expect(ok.status).toBe(200)
      expect(JSON.parse(ok.body).created).toBe(true)
    })
  )

  it.effect("imports and the test stamp keep their own 413 errors, answered before reading", () =>
    Effect.gen(function* () {
      const auth = yield* bearerLine
      const csv = yield* rawHttps(
        ["POST /tenants/caps/directory/import/csv HTTP/1.1", "Host: 127.0.0.1", auth, "Content-Type: text/csv", `Content-Length: ${MAX_IMPORT_BYTES + 1}`].join(
          "\r\n"
        ),
        { piece, upTo: MAX_IMPORT_BYTES + 1 }
      )
      expect(csv.status).toBe(413)
      expect(csv.headers["connection"]).toBe("close")
      expect(JSON.parse(csv.body)._tag).toBe("ImportTooLarge")
      expect(csv.sent).toBeLessThan(IN_FLIGHT)
      const stamp = yield* rawHttps(
        ["POST /tenants/caps/test-stamp HTTP/1.1", "Host: 127.0.0.1", auth, "Content-Type: message/rfc822", `Content-Length: ${TEST_STAMP_MAX_BYTES + 1}`].join(
          "\r\n"
        ),
        { piece, upTo: TEST_STAMP_MAX_BYTES + 1 }
      )
      expect(stamp.status).toBe(413)
      expect(JSON.parse(stamp.body)._tag).toBe("UploadTooLarge")
      expect(stamp.sent).toBeLessThan(IN_FLIGHT)
    })
  )

  it.effect("a chunked JSON body under the cap is served", () =>
    Effect.gen(function* () {
      const body = JSON.stringify({ email: "nobody@caps.example", password: "Not-the-password-1" })
      const response = yield* rawHttps(
        ["POST /auth/login HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", "Transfer-Encoding: chunked", "Connection: close"].join("\r\n"),
        { piece: Buffer.from(body), upTo: Buffer.byteLength(body), chunked: true }
      )
      expect(response.status).toBe(401)
      expect(JSON.parse(response.body)._tag).toBe("Unauthorized")
    })
  )
})
