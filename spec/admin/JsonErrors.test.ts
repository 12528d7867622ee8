import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { jsonDepth, MAX_JSON_DEPTH } from "../../src/admin/http/JsonBody.js"
import { adminTestLayer, createPayload, operatorClient, tenantBody } from "./AdminHarness.js"
import { bearerLine, rawHttps, type RawResponse } from "./RawHttps.js"

/**
 * Item 9 of issue 13: deep nesting and malformed JSON are the caller's
 * mistake: 400 with a JSON error body and a JSON content type, never a 500
 * and never an empty body. Sent over a raw TLS socket, exactly as written.
 */

const nested = (levels: number) => `{"email":${"[".repeat(levels)}${"]".repeat(levels)},"password":"x"}`

const send = (method: string, path: string, body: string, headers: ReadonlyArray<string> = []) =>
  Effect.flatMap(bearerLine, (auth) =>
    rawHttps(
      [`${method} ${path} HTTP/1.1`, "Host: 127.0.0.1", auth, "Connection: close", ...headers, `Content-Length: ${Buffer.byteLength(body)}`].join("\r\n"),
      { piece: Buffer.from(body), upTo: Buffer.byteLength(body) }
    )
  )

const expectJsonError = (response: RawResponse, status: number, tag: string, mentions: string) => {
  expect(response.status).toBe(status)
  expect(response.headers["content-type"]).toContain("application/json")
  const body = JSON.parse(response.body)
  expect(body._tag).toBe(tag)
  expect(body.message).toContain(mentions)
}

layer(adminTestLayer())("admin API: malformed and deep JSON", (it) => {
  it("jsonDepth counts brackets outside strings only", () => {
    expect(jsonDepth(`{"a":[1,{"b":"[[[{{{"}]}`)).toBe(3)
    expect(jsonDepth(`"\\"[["`)).toBe(0)
    expect(jsonDepth("[".repeat(100_000), MAX_JSON_DEPTH)).toBe(MAX_JSON_DEPTH + 1)
  })

  it.effect("10,000 levels of nesting on login, template create, JSON import and rules order: 400 naming the depth", () =>
    Effect.gen(function* () {
      const client = yield* operatorClient
      yield* client.tenants.create({ payload: createPayload(tenantBody("deep", "198.51.143.0/24")) })
      // login's cap is 16 KB: 5,000 levels fit in it
      expectJsonError(yield* send("POST", "/auth/login", nested(5_000), ["Content-Type: application/json"]), 400, "HttpApiDecodeError", "deeper than")
      const template = `{"id":"t","name":"T","html":${"[".repeat(10_000)}${"]".repeat(10_000)}}`
      expectJsonError(yield* send("POST", "/tenants/deep/templates", template, ["Content-Type: application/json"]), 400, "HttpApiDecodeError", "deeper than")
      // a JSON import checks its rows one by one: the deep row is rejected on its own
      const rows = `[{"mail":"a@deep.example","custom":${"[".repeat(10_000)}${"]".repeat(10_000)}}]`
      const imported = yield* send("POST", "/tenants/deep/directory/import/json", rows, ["Content-Type: application/json"])
      expect(imported.status).toBe(200)
      expect(JSON.parse(imported.body).rejectedCount).toBe(1)
      const order = `{"ids":${"[".repeat(10_000)}${"]".repeat(10_000)}}`
      expectJsonError(yield* send("POST", "/tenants/deep/rules/order", order, ["Content-Type: application/json"]), 400, "HttpApiDecodeError", "deeper than")
    })
  )

  it.effect("malformed JSON, with or without a content type: 400 with a JSON body", () =>
    Effect.gen(function* () {
      expectJsonError(yield* send("POST", "/auth/login", `{"email":`, ["Content-Type: application/json"]), 400, "HttpApiDecodeError", "not valid JSON")
      expectJsonError(yield* send("POST", "/auth/login", `{"email": 'x'}`), 400, "HttpApiDecodeError", "not valid JSON")
      expectJsonError(yield* send("POST", "/tenants", "[1,2", ["Content-Type: application/json; charset=utf-8"]), 400, "HttpApiDecodeError", "not valid JSON")
    })
  )

  it.effect("a body of the wrong kind or none at all: 400 with a JSON body", () =>
    Effect.gen(function* () {
      expectJsonError(yield* send("POST", "/auth/login", "hello", ["Content-Type: text/plain"]), 400, "HttpApiDecodeError", "LoginRequest")
      expectJsonError(yield* send("POST", "/auth/login", "", ["Content-Type: application/json"]), 400, "HttpApiDecodeError", "LoginRequest")
      expectJsonError(yield* send("POST", "/auth/login", "\u0000\u00ff", ["Content-Type: application/octet-stream"]), 400, "HttpApiDecodeError", "LoginRequest")
    })
  )

  it.effect("an unknown route is a 404 with a JSON body", () =>
    Effect.gen(function* () {
      expectJsonError(yield* send("POST", "/no/such/route", "{}", ["Content-Type: application/json"]), 404, "RouteNotFound", "POST /no/such/route")
      expectJsonError(yield* send("GET", "/tenants/deep/nothing-here", ""), 404, "RouteNotFound", "no endpoint")
    })
  )
})
