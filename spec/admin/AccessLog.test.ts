import { expect, layer } from "@effect/vitest"
import { Effect, Layer, Logger, Schema } from "effect"
import { Db, tenantKey } from "../../src/store/Keys.js"
import { Store, Write } from "../../src/store/Store.js"
import type { TenantId } from "../../src/domain/Tenant.js"
import { adminTestLayer, createPayload, operatorClient, tenantBody } from "./AdminHarness.js"
import { bearerLine, rawHttps } from "./RawHttps.js"

/**
 * Item 13 of issue 13: one JSON line per admin request (method, route
 * template, status, duration, principal kind, tenant), never a body or a
 * secret, and a 5xx at error level with its cause. The lines are Effect's
 * JSON log format, captured from the server's own logger.
 */

interface Line {
  readonly message: unknown
  readonly logLevel: string
  readonly cause?: string
  readonly annotations: Record<string, unknown>
  readonly raw: string
}
const lines: Array<Line> = []
const CaptureLogs = Logger.replace(
  Logger.defaultLogger,
  Logger.map(Logger.jsonLogger, (raw) => {
    lines.push({ ...JSON.parse(raw), raw })
  })
)

const accessLines = () => lines.filter((l) => l.message === "admin request" || l.message === "admin request failed")

const post = (path: string, body: string, headers: ReadonlyArray<string> = []) =>
  rawHttps(
    [
      `POST ${path} HTTP/1.1`,
      "Host: 127.0.0.1",
      "Connection: close",
      "Content-Type: application/json",
      ...headers,
      `Content-Length: ${Buffer.byteLength(body)}`
    ].join("\r\n"),
    { piece: Buffer.from(body), upTo: Buffer.byteLength(body) }
  )
const get = (path: string, headers: ReadonlyArray<string> = []) =>
  rawHttps([`GET ${path} HTTP/1.1`, "Host: 127.0.0.1", "Connection: close", ...headers].join("\r\n"))

/** the access line of the next request made by `request` */
const lineOf = <A, E, R>(request: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const before = accessLines().length
    const answer = yield* request
    // the line is written after the answer went out: wait for it (bounded; real time, it.effect's clock is a TestClock)
    for (let i = 0; i < 100 && accessLines().length === before; i++) yield* Effect.promise(() => new Promise((r) => setTimeout(r, 10)))
    const added = accessLines().slice(before)
    expect(added).toHaveLength(1)
    return { answer, line: added[0]! }
  })

layer(adminTestLayer().pipe(Layer.provide(CaptureLogs)))("admin API: access log", (it) => {
  it.effect("an operator's request: method, route template, status, duration, principal; no tenant", () =>
    Effect.gen(function* () {
      const auth = yield* bearerLine
      const { line } = yield* lineOf(get("/tenants", [auth]))
      expect(line.logLevel).toBe("INFO")
      expect(line.annotations).toMatchObject({ method: "GET", route: "/tenants", status: 200, principal: "operator" })
      expect(typeof line.annotations.durationMs).toBe("number")
      expect(line.annotations.tenant).toBeUndefined()
      expect(line.raw).not.toContain(auth.split(" ").at(-1))
    })
  )

  it.effect("a tenant route names the template and the tenant, never the path's values", () =>
    Effect.gen(function* () {
      const client = yield* operatorClient
      yield* client.tenants.create({ payload: createPayload(tenantBody("logged", "198.51.146.0/24")) })
      const auth = yield* bearerLine
      const { line } = yield* lineOf(get("/tenants/logged/directory/users/alice@logged.example?secret=query", [auth]))
      expect(line.annotations).toMatchObject({ method: "GET", route: "/tenants/:tenantId/directory/users/:mail", status: 200, tenant: "logged" })
      expect(line.raw).not.toContain("alice@")
      expect(line.raw).not.toContain("secret=query")
    })
  )

  it.effect("a failed sign-in: no body, no email, no password in the line", () =>
    Effect.gen(function* () {
      const { answer, line } = yield* lineOf(post("/auth/login", JSON.stringify({ email: "someone@logged.example", password: "Very-Secret-Pass-9" })))
      expect(answer.status).toBe(401)
      expect(line.annotations).toMatchObject({ method: "POST", route: "/auth/login", status: 401, principal: "none" })
      expect(line.raw).not.toContain("Very-Secret-Pass-9")
      expect(line.raw).not.toContain("someone@")
    })
  )

  it.effect("refusals before routing are logged too: 413, 400 for bad JSON, 404 for no route", () =>
    Effect.gen(function* () {
      expect((yield* lineOf(post("/auth/login", "x".repeat(20_000)))).line.annotations).toMatchObject({ status: 413, route: "/auth/login" })
      expect((yield* lineOf(post("/auth/login", "{"))).line.annotations).toMatchObject({ status: 400 })
      expect((yield* lineOf(get("/nothing/here"))).line.annotations).toMatchObject({ status: 404, route: "(no route)" })
    })
  )

  it.effect("a 500 is logged at error level with its cause", () =>
    Effect.gen(function* () {
      // a tenant record that no longer decodes: the store answers StoreFailure
      const store = yield* Store
      yield* store.batch([Write.put(Db.tenants, Schema.Unknown, tenantKey("broken" as TenantId), { not: "a tenant" })])
      const auth = yield* bearerLine
      const { answer, line } = yield* lineOf(get("/tenants/broken", [auth]))
      expect(answer.status).toBe(500)
      expect(line.logLevel).toBe("ERROR")
      expect(line.message).toBe("admin request failed")
      expect(line.annotations).toMatchObject({ route: "/tenants/:tenantId", status: 500, tenant: "broken", principal: "operator" })
      expect(line.cause).toContain("does not decode")
    })
  )
})
