import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { MAX_ERROR_STRING, MAX_QUOTED_VALUE, shortenMessage } from "../../src/admin/http/ErrorBodies.js"
import { adminTestLayer, createPayload, operatorClient, tenantBody } from "./AdminHarness.js"
import { bearerLine, rawHttps } from "./RawHttps.js"

/**
 * Item 10 of issue 13: an error quotes at most a short prefix of the value
 * that caused it. Each request below carries one long value (just under its
 * route's body cap); the answer must be a small error that does not repeat it.
 */

const send = (method: string, path: string, body: unknown) =>
  Effect.flatMap(bearerLine, (auth) => {
    const text = JSON.stringify(body)
    return rawHttps(
      [
        `${method} ${path} HTTP/1.1`,
        "Host: 127.0.0.1",
        auth,
        "Connection: close",
        "Content-Type: application/json",
        `Content-Length: ${Buffer.byteLength(text)}`
      ].join("\r\n"),
      { piece: Buffer.from(text), upTo: Buffer.byteLength(text) }
    )
  })

const longest = (text: string, c: string) => Math.max(0, ...(text.match(new RegExp(`${c}+`, "g")) ?? []).map((run) => run.length))

/** a 4xx with a JSON body, no longer than a few KB, that quotes no more than MAX_QUOTED_VALUE of the value */
const expectShort = (response: { status: number; body: string }, status: number) => {
  expect(response.status).toBe(status)
  expect(() => JSON.parse(response.body)).not.toThrow()
  expect(response.body.length).toBeLessThan(4 * MAX_ERROR_STRING)
  expect(longest(response.body, "x"), response.body.slice(0, 600)).toBeLessThanOrEqual(MAX_QUOTED_VALUE)
}

layer(adminTestLayer())("admin API: errors do not echo long values", (it) => {
  it("shortenMessage keeps a prefix of each long quoted value or word and says how long it was", () => {
    const value = "x".repeat(10_000)
    const short = shortenMessage(`Expected a string at most 254 character(s) long, actual "${value}"`)
    expect(short).toContain(`actual "${"x".repeat(MAX_QUOTED_VALUE)}…" (10000 characters)`)
    expect(shortenMessage(`a "short" value`)).toBe(`a "short" value`)
    expect(shortenMessage(`escaped "\\"${value}"`)).toContain("(10002 characters)")
    expect(shortenMessage(`unclosed "${value}`).length).toBeLessThan(200)
    expect(shortenMessage(`the mail ${"y".repeat(10_000)} is not the path's`)).toBe(
      `the mail ${"y".repeat(MAX_QUOTED_VALUE)}… (10000 characters) is not the path's`
    )
    expect(shortenMessage("a b ".repeat(10_000)).length).toBeLessThanOrEqual(MAX_ERROR_STRING + 40)
  })

  it.effect("login, tenants, directory, templates and rules answer a short error", () =>
    Effect.gen(function* () {
      const client = yield* operatorClient
      yield* client.tenants.create({ payload: createPayload(tenantBody("echo", "198.51.144.0/24")) })
      const x = (n: number) => "x".repeat(n)
      // login's cap is 16 KB
      expectShort(yield* send("POST", "/auth/login", { email: x(15_000), password: "p" }), 400)
      expectShort(yield* send("POST", "/tenants", { ...tenantBody("echo2", "198.51.145.0/24"), domains: [x(500_000)] }), 400)
      expectShort(yield* send("PUT", "/tenants/echo/directory/users/a@echo.example", { mail: "a@echo.example", title: `<${x(60_000)}>` }), 400)
      expectShort(yield* send("PUT", "/tenants/echo/directory/users/a@echo.example", { mail: `${x(60_000)}@echo.example` }), 400)
      expectShort(yield* send("POST", "/tenants/echo/templates", { id: "t", name: "T", html: `{{#${x(500_000)}}}` }), 400)
      expectShort(yield* send("POST", "/tenants/echo/templates", { id: x(500_000), name: "T", html: "<p>x</p>" }), 400)
      expectShort(yield* send("POST", "/tenants/echo/rules", { id: "r", name: "R", templateId: "default", conditions: { senders: [x(200_000)] } }), 400)
      expectShort(yield* send("POST", "/tenants/echo/users", { email: x(60_000), name: "N", role: "editor", password: "Abcdefgh-12345" }), 400)
    })
  )
})
