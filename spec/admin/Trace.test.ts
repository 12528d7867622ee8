import { describe, expect, it as plain, layer } from "@effect/vitest"
import { Effect } from "effect"
import type { TraceCopy, TraceRecord } from "../../src/domain/Trace.js"
import { hashAddress, tenantKey } from "../../src/trace/RecipientHash.js"
import { csvCell, traceCsv } from "../../src/trace/TraceCsv.js"
import { TraceHashKey } from "../../src/trace/TraceSearch.js"
import { makeId, TraceStore } from "../../src/trace/TraceStore.js"
import { adminTestLayer, apiClient, createPayload, operatorClient, operatorHeaders, rawRequest, tenantBody } from "./AdminHarness.js"

/**
 * The message trace's admin API over the real admin server: tenant routes for
 * owners, admins and auditors of that tenant only (another tenant's id is 404,
 * an editor 403), /trace for operators across tenants, every filter, paging by
 * cursor, CSV and JSON export. Records are written straight into the trace's
 * LMDB (the relay's side is spec/e2e/Trace.test.ts).
 */

const copy = (recipients: ReadonlyArray<string>, rules: ReadonlyArray<string> = []): TraceCopy => ({
  recipients,
  rules,
  templates: rules.map((r) => `${r}-tpl@2`),
  stamped: rules.length > 0 ? ["html", "text"] : [],
  reply: { code: 250, text: "ok" },
  durationMs: 3
})

let sequence = 0
const record = (tenant: string, at: number, extra: Partial<TraceRecord> = {}): TraceRecord =>
  ({
    id: makeId(at, ++sequence),
    node: "node-1",
    at,
    tenant,
    connector: "address",
    client: "192.0.2.7",
    sender: `alice@${tenant}.example`,
    recipients: ["bob@example.org"],
    messageId: `<m${at}@${tenant}.example>`,
    size: 2048,
    decision: "stamped",
    outcome: "relayed",
    reply: { code: 250, enhanced: "2.6.0", text: "relayed" },
    copies: [copy(["bob@example.org"], ["all"])],
    durationMs: 9,
    ...extra
  }) as TraceRecord

layer(adminTestLayer())("admin API: message trace", (it) => {
  const setup = Effect.gen(function* () {
    const op = yield* operatorClient
    for (const [id, cidr] of [
      ["tr-a", "198.51.120.0/24"],
      ["tr-ab", "198.51.121.0/24"]
    ] as const) {
      yield* op.tenants.create({ payload: createPayload(tenantBody(id, cidr)) })
    }
    const token = (role: "auditor" | "editor" | "admin") =>
      Effect.map(op.apiTokens.create({ path: { tenantId: "tr-a" }, payload: { name: `trace-${role}`, role } }), (c) => c.token)
    const secret = yield* TraceHashKey
    const hashedEve = hashAddress(tenantKey(secret, "tr-a"), "eve@z.example")
    const records = [
      record("tr-a", 1_000),
      record("tr-a", 2_000, {
        sender: "carol@tr-a.example",
        recipients: ["dan@y.example"],
        decision: "unstamped",
        reason: "sender-not-in-directory",
        outcome: "rejected",
        error: "DownstreamRefused",
        reply: { code: 554, text: "no" },
        copies: [copy(["dan@y.example"])]
      }),
      record("tr-a", 3_000, {
        recipients: [hashedEve, "bob@example.org"],
        outcome: "deferred",
        copies: [copy([hashedEve], ["all", "disclaimer"]), copy(["bob@example.org"], ["all"])]
      }),
      ...[4_000, 5_000, 6_000, 7_000].map((at) => record("tr-a", at)),
      record("tr-ab", 1_500, { messageId: "<m1000@tr-a.example>" })
    ]
    yield* (yield* TraceStore).write(records)
    return {
      op,
      auditor: yield* apiClient(yield* token("auditor")),
      editor: yield* apiClient(yield* token("editor")),
      admin: yield* apiClient(yield* token("admin"))
    }
  })
  // one setup for the suite (its layer is shared), made by the first test that asks
  let made: Effect.Effect.Success<typeof setup> | undefined
  const clients = Effect.suspend(() => (made !== undefined ? Effect.succeed(made) : Effect.tap(setup, (c) => Effect.sync(() => (made = c)))))

  const at = (records: ReadonlyArray<TraceRecord>) => records.map((r) => r.at)

  it.effect("an auditor reads its tenant's trace newest first, filtered by each field, never a tenant whose id extends its own", () =>
    Effect.gen(function* () {
      const { auditor } = yield* clients
      const search = (urlParams: Record<string, string | number>) =>
        Effect.map(auditor.trace.search({ path: { tenantId: "tr-a" }, urlParams }), (p) => at(p.records))
      expect(yield* search({})).toEqual([7_000, 6_000, 5_000, 4_000, 3_000, 2_000, 1_000])
      expect(yield* search({ sender: "Carol@TR-A.example" })).toEqual([2_000])
      expect(yield* search({ recipient: "dan@y.example" })).toEqual([2_000])
      // a hashed recipient is found by its address
      expect(yield* search({ recipient: "EVE@z.example" })).toEqual([3_000])
      expect(yield* search({ messageId: "m1000@tr-a.example" })).toEqual([1_000])
      expect(yield* search({ messageId: "<m1000@tr-a.example>" })).toEqual([1_000])
      expect(yield* search({ from: "2000", to: "4000" })).toEqual([4_000, 3_000, 2_000])
      expect(yield* search({ from: new Date(5_000).toISOString() })).toEqual([7_000, 6_000, 5_000])
      expect(yield* search({ outcome: "deferred" })).toEqual([3_000])
      expect(yield* search({ decision: "unstamped", reason: "sender-not-in-directory" })).toEqual([2_000])
      expect(yield* search({ rule: "disclaimer" })).toEqual([3_000])
      expect(yield* search({ rule: "all", outcome: "relayed", to: "5000" })).toEqual([5_000, 4_000, 1_000])
    })
  )

  it.effect("pages by cursor until the range is exhausted", () =>
    Effect.gen(function* () {
      const { auditor } = yield* clients
      const seen: Array<number> = []
      let cursor: string | undefined
      let pages = 0
      do {
        const page = yield* auditor.trace.search({ path: { tenantId: "tr-a" }, urlParams: { limit: 3, ...(cursor !== undefined ? { cursor } : {}) } })
        expect(page.records.length).toBeLessThanOrEqual(3)
        seen.push(...at(page.records))
        cursor = page.next
        pages++
      } while (cursor !== undefined && pages < 10)
      expect(seen).toEqual([7_000, 6_000, 5_000, 4_000, 3_000, 2_000, 1_000])
      expect(pages).toBe(3)
    })
  )

  it.effect("another tenant's id is 404, an editor 403, /trace is for operators; bad cursors and ranges are 400", () =>
    Effect.gen(function* () {
      const { auditor, editor, admin } = yield* clients
      expect((yield* Effect.flip(auditor.trace.search({ path: { tenantId: "tr-ab" }, urlParams: {} })))._tag).toBe("TenantNotFound")
      expect((yield* Effect.flip(auditor.trace.exportCsv({ path: { tenantId: "tr-ab" }, urlParams: {} })))._tag).toBe("TenantNotFound")
      expect((yield* Effect.flip(editor.trace.search({ path: { tenantId: "tr-a" }, urlParams: {} })))._tag).toBe("Forbidden")
      expect((yield* Effect.flip(admin.trace.searchAll({ urlParams: {} })))._tag).toBe("Forbidden")
      expect((yield* admin.trace.search({ path: { tenantId: "tr-a" }, urlParams: { limit: 1 } })).records.length).toBe(1)
      const cursor = yield* Effect.flip(auditor.trace.search({ path: { tenantId: "tr-a" }, urlParams: { cursor: "tr-ab/0000000001500-000000001" } }))
      expect(cursor).toMatchObject({ _tag: "TraceQueryInvalid" })
      const range = yield* Effect.flip(auditor.trace.search({ path: { tenantId: "tr-a" }, urlParams: { from: "5000", to: "1000" } }))
      expect(range).toMatchObject({ _tag: "TraceQueryInvalid", message: expect.stringContaining("after") })
      const bad = yield* rawRequest("GET", "/tenants/tr-a/trace?from=yesterday", { headers: yield* operatorHeaders })
      expect(bad.status).toBe(400)
      expect(bad.text).toContain("ISO 8601")
    })
  )

  it.effect("operators search every tenant, or one", () =>
    Effect.gen(function* () {
      const { op } = yield* clients
      const everyone = yield* op.trace.searchAll({ urlParams: { to: "1500" } })
      expect(everyone.records.map((r) => [r.tenant, r.at])).toEqual([
        ["tr-ab", 1_500],
        ["tr-a", 1_000]
      ])
      expect(at((yield* op.trace.searchAll({ urlParams: { tenant: "tr-ab" } })).records)).toEqual([1_500])
      expect(at((yield* op.trace.searchAll({ urlParams: { messageId: "<m1000@tr-a.example>" } })).records)).toEqual([1_500, 1_000])
      expect(at((yield* op.trace.search({ path: { tenantId: "tr-ab" }, urlParams: {} })).records)).toEqual([1_500])
    })
  )

  it.effect("exports CSV (one row per copy) and JSON", () =>
    Effect.gen(function* () {
      const { auditor, op } = yield* clients
      const json = yield* auditor.trace.exportJson({ path: { tenantId: "tr-a" }, urlParams: { from: "2000", to: "3000" } })
      expect(at(json)).toEqual([3_000, 2_000])
      const csv = yield* auditor.trace.exportCsv({ path: { tenantId: "tr-a" }, urlParams: { from: "2000", to: "3000" } })
      expect(csv).toBe(traceCsv(json))
      const lines = csv.trimEnd().split("\r\n")
      expect(lines[0]).toMatch(/^id,node,time,tenant,connector,client,sender,recipients,messageId,size,decision,reason,outcome/)
      // the 3000 record has two copies, the 2000 record one
      expect(lines.length).toBe(4)
      expect(lines[1]).toContain(",1,hmac:")
      expect(lines[2]).toContain(",2,bob@example.org,all,all-tpl@2,html text,,250 ok,3")
      expect(lines[3]).toContain(
        "carol@tr-a.example,dan@y.example,<m2000@tr-a.example>,2048,unstamped,sender-not-in-directory,rejected,DownstreamRefused,554 no"
      )
      const raw = yield* rawRequest("GET", "/trace/export.csv?tenant=tr-ab", { headers: yield* operatorHeaders })
      expect(raw.status).toBe(200)
      expect(raw.headers["content-type"]).toContain("text/csv")
      expect(raw.text.trimEnd().split("\r\n")).toHaveLength(2)
      expect(at(yield* op.trace.exportAllJson({ urlParams: {} }))).toHaveLength(8)
    })
  )
})

describe("trace CSV cells", () => {
  plain("quotes separators and defuses spreadsheet formulas", () => {
    expect(csvCell('a,"b"')).toBe('"a,""b"""')
    expect(csvCell('=HYPERLINK("x")')).toBe('"\'=HYPERLINK(""x"")"')
    expect(csvCell("+1")).toBe("'+1")
    expect(csvCell("@x")).toBe("'@x")
    expect(csvCell(-3)).toBe("-3")
    expect(csvCell(undefined)).toBe("")
    expect(csvCell("line\r\nbreak")).toBe('"line\r\nbreak"')
  })
})
