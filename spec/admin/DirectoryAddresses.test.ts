import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { isDirectoryAddress } from "../../src/domain/MailAddress.js"
import { cleanValue } from "../../src/signature/ValueEscaping.js"
import { adminTestLayer, createPayload, operatorClient, tenantBody } from "./AdminHarness.js"
import { bearerLine, rawHttps } from "./RawHttps.js"

/**
 * Item 11 of issue 13: one address rule for every directory write (API PUT,
 * CSV and JSON import, tenant create/update, sync mapping), and zero-width
 * characters removed from rendered values as bidi controls are.
 */

const BAD = [
  "\u0000@addr.example",
  "a\u202Eb@addr.example",
  "../../x@addr.example",
  "a..b@addr.example",
  "a.@addr.example",
  "a\u200Bb@addr.example",
  "a b@addr.example",
  "a\uFEFF@addr.example",
  "a@addr",
  "a@-addr.example"
]
const GOOD = ["ann@addr.example", "ann.lee+sig@addr.example", "o'brien@addr.example", "j\u00fcrgen@addr.example", "a/b=c@sub.addr.example"]

const send = (method: string, path: string, body: string, contentType = "application/json") =>
  Effect.flatMap(bearerLine, (auth) =>
    rawHttps(
      [
        `${method} ${path} HTTP/1.1`,
        "Host: 127.0.0.1",
        auth,
        "Connection: close",
        `Content-Type: ${contentType}`,
        `Content-Length: ${Buffer.byteLength(body)}`
      ].join("\r\n"),
      { piece: Buffer.from(body), upTo: Buffer.byteLength(body) }
    )
  )

layer(adminTestLayer())("admin API: directory addresses", (it) => {
  it("the address rule", () => {
    for (const mail of BAD) expect(isDirectoryAddress(mail), JSON.stringify(mail)).toBe(false)
    for (const mail of GOOD) expect(isDirectoryAddress(mail), mail).toBe(true)
  })

  it("zero-width characters are removed from values like bidi controls; joiners stay", () => {
    expect(cleanValue("A\u200Bn\uFEFFn\u2060a\u180E")).toBe("Anna")
    expect(cleanValue("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645")).toContain("\u200c")
  })

  it.effect("PUT, JSON and CSV imports and tenant create refuse each bad address", () =>
    Effect.gen(function* () {
      const client = yield* operatorClient
      yield* client.tenants.create({ payload: createPayload(tenantBody("addr", "198.51.147.0/24")) })
      for (const mail of BAD) {
        const put = yield* send("PUT", `/tenants/addr/directory/users/${encodeURIComponent(mail)}`, JSON.stringify({ mail }))
        expect(put.status, JSON.stringify(mail)).toBe(400)
      }
      const json = yield* send("POST", "/tenants/addr/directory/import/json", JSON.stringify(BAD.map((mail) => ({ mail }))))
      expect(json.status).toBe(200)
      expect(JSON.parse(json.body)).toMatchObject({ accepted: 0, rejectedCount: BAD.length })
      const csv = yield* send(
        "POST",
        "/tenants/addr/directory/import/csv",
        ["mail", ...BAD.filter((m) => !m.includes("\u0000")).map((m) => `"${m}"`)].join("\n"),
        "text/csv"
      )
      expect(csv.status).toBe(200)
      expect(JSON.parse(csv.body)).toMatchObject({ accepted: 0, rejectedCount: BAD.length - 1 })
      for (const mail of BAD) {
        const created = yield* send("POST", "/tenants", JSON.stringify({ ...tenantBody("addr2", "198.51.148.0/24"), directory: [{ mail }] }))
        expect(created.status, JSON.stringify(mail)).toBe(400)
        expect(JSON.parse(created.body).issues.map((i: { path: Array<unknown> }) => i.path[0])).toContain("directory")
      }
      const aliases = yield* send(
        "POST",
        "/tenants",
        JSON.stringify({
          ...tenantBody("addr3", "198.51.149.0/24"),
          directory: [{ mail: "ann@addr3.example", proxyAddresses: ["smtp:a\u202Eb@addr3.example"] }]
        })
      )
      expect(aliases.status).toBe(400)
      for (const mail of GOOD) {
        const put = yield* send("PUT", `/tenants/addr/directory/users/${encodeURIComponent(mail)}`, JSON.stringify({ mail }))
        expect(put.status, mail).toBe(200)
      }
    })
  )
})
