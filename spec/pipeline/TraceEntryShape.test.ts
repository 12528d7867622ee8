import { describe, expect, it } from "vitest"
import { DownstreamRefused, NotBound } from "../../src/pipeline/RelayError.js"
import type { StampPlan } from "../../src/pipeline/mime/StampPlan.js"
import { refusalEntry, type TraceFacts, traceEntry } from "../../src/pipeline/TraceEntry.js"

/**
 * The message trace's entry as DataPhase and Inbound hand it over, exactly:
 * its keys in their order (msgpack keeps them, so they are the stored record's
 * bytes), no key present with an undefined value, every value. Pinned from the
 * entries as they were before issue 16's work on the trace's offer.
 */

const plan = (...templates: ReadonlyArray<readonly [string, number | undefined]>) =>
  ({ elements: templates.map(([templateId, templateVersion]) => ({ templateId, templateVersion })) }) as unknown as StampPlan

const facts = (overrides: Partial<TraceFacts> = {}): TraceFacts => ({
  tenant: "acme",
  connector: "auth:relay",
  client: "127.0.0.1",
  sender: "alice@acme.example",
  recipients: ["bob@customer.example", "carol@acme.example", "dave@customer.example"],
  started: 1_765_000_000_000,
  messageId: "<m-1@acme.example>",
  size: 10240,
  decision: {
    copies: [
      {
        recipients: ["bob@customer.example", "dave@customer.example"],
        plan: plan(["external", 3], ["banner", undefined], ["external", 3]),
        ruleIds: ["r-ext", "r-banner"]
      },
      { recipients: ["carol@acme.example"], plan: undefined, ruleIds: [] }
    ]
  },
  outcomes: [
    { stamped: ["html", "text"], parts: [] },
    { stamped: [], skipped: "already-signed", parts: [] }
  ],
  copyReplies: [
    { reply: { code: 250, enhanced: "2.0.0", text: "OK: queued" }, afterMs: 7 },
    { reply: { code: 250, text: "OK" }, afterMs: 9 }
  ],
  ...overrides
})

/** the keys anywhere in `v` whose value is undefined (msgpack would write them; JSON would not show them) */
const undefinedKeys = (v: unknown, at = ""): Array<string> =>
  v === null || typeof v !== "object" ? [] : Object.entries(v).flatMap(([k, x]) => (x === undefined ? [`${at}${k}`] : undefinedKeys(x, `${at}${k}.`)))

const exactly = (entry: unknown, json: string) => {
  expect(undefinedKeys(entry)).toEqual([])
  expect(JSON.stringify(entry)).toBe(json)
}

describe("the trace entry, key for key", () => {
  it("relayed, two copies: one stamped and answered, one passed unstamped", () => {
    exactly(
      traceEntry(facts(), { code: 250, enhanced: "2.6.0", text: "relayed" }, undefined, 1_765_000_000_012),
      '{"at":1765000000000,"tenant":"acme","connector":"auth:relay","client":"127.0.0.1","sender":"alice@acme.example","recipients":["bob@customer.example","carol@acme.example","dave@customer.example"],"messageId":"<m-1@acme.example>","size":10240,"decision":"stamped","outcome":"relayed","reply":{"code":250,"enhanced":"2.6.0","text":"relayed"},"copies":[{"recipients":["bob@customer.example","dave@customer.example"],"rules":["r-ext","r-banner"],"templates":["external@3","banner@?"],"stamped":["html","text"],"reply":{"code":250,"enhanced":"2.0.0","text":"OK: queued"},"durationMs":7},{"recipients":["carol@acme.example"],"rules":[],"templates":[],"stamped":[],"skipped":"already-signed","reply":{"code":250,"text":"OK"},"durationMs":9}],"durationMs":12}'
    )
  })

  it("relayed unstamped for a reason of the decision; no Message-ID, one copy not answered", () => {
    exactly(
      traceEntry(
        facts({
          messageId: undefined,
          decision: { copies: [{ recipients: ["bob@customer.example"], plan: undefined, ruleIds: [] }], unstamped: "loop" },
          outcomes: [undefined],
          copyReplies: []
        }),
        { code: 250, enhanced: "2.6.0", text: "relayed" },
        undefined,
        1_765_000_000_003
      ),
      '{"at":1765000000000,"tenant":"acme","connector":"auth:relay","client":"127.0.0.1","sender":"alice@acme.example","recipients":["bob@customer.example","carol@acme.example","dave@customer.example"],"size":10240,"decision":"unstamped","reason":"loop","outcome":"relayed","reply":{"code":250,"enhanced":"2.6.0","text":"relayed"},"copies":[{"recipients":["bob@customer.example"],"rules":[],"templates":[],"stamped":[]}],"durationMs":3}'
    )
  })

  it("failed before the headers were read: no decision, no size, the error", () => {
    exactly(
      traceEntry(
        facts({ decision: undefined, size: undefined, messageId: undefined, outcomes: [], copyReplies: [] }),
        { code: 451, enhanced: "4.4.1", text: "downstream unavailable" },
        "DownstreamUnavailable",
        1_765_000_000_050
      ),
      '{"at":1765000000000,"tenant":"acme","connector":"auth:relay","client":"127.0.0.1","sender":"alice@acme.example","recipients":["bob@customer.example","carol@acme.example","dave@customer.example"],"decision":"none","outcome":"deferred","error":"DownstreamUnavailable","reply":{"code":451,"enhanced":"4.4.1","text":"downstream unavailable"},"copies":[],"durationMs":50}'
    )
  })

  it("refused by the downstream at DATA after a stamping decision", () => {
    exactly(
      traceEntry(
        facts({ outcomes: [], copyReplies: [{ reply: { code: 554, enhanced: "5.7.1", text: "content refused" }, afterMs: 5 }] }),
        { code: 554, enhanced: "5.7.1", text: "content refused" },
        "DownstreamRefused",
        1_765_000_000_020
      ),
      '{"at":1765000000000,"tenant":"acme","connector":"auth:relay","client":"127.0.0.1","sender":"alice@acme.example","recipients":["bob@customer.example","carol@acme.example","dave@customer.example"],"messageId":"<m-1@acme.example>","size":10240,"decision":"stamped","outcome":"rejected","error":"DownstreamRefused","reply":{"code":554,"enhanced":"5.7.1","text":"content refused"},"copies":[{"recipients":["bob@customer.example","dave@customer.example"],"rules":["r-ext","r-banner"],"templates":["external@3","banner@?"],"stamped":[],"reply":{"code":554,"enhanced":"5.7.1","text":"content refused"},"durationMs":5},{"recipients":["carol@acme.example"],"rules":[],"templates":[],"stamped":[]}],"durationMs":20}'
    )
  })

  it("a refused RCPT and a MAIL of an unbound session", () => {
    const command = { tenant: "acme", connector: "address", client: "127.0.0.1", sender: "alice@acme.example", started: 1_765_000_000_000 }
    exactly(
      refusalEntry(
        { ...command, phase: "rcpt", recipients: ["nobody@customer.example"] },
        new DownstreamRefused({ reply: { code: 550, enhanced: "5.1.1", text: "no such user" }, phase: "rcpt" }),
        1_765_000_000_004
      ),
      '{"at":1765000000000,"phase":"rcpt","tenant":"acme","connector":"address","client":"127.0.0.1","sender":"alice@acme.example","recipients":["nobody@customer.example"],"decision":"none","reason":"downstream-refused","outcome":"rejected","error":"DownstreamRefused","reply":{"code":550,"enhanced":"5.1.1","text":"no such user"},"copies":[],"durationMs":4}'
    )
    exactly(
      refusalEntry({ ...command, phase: "mail", recipients: [] }, new NotBound(), 1_765_000_000_001),
      '{"at":1765000000000,"phase":"mail","tenant":"acme","connector":"address","client":"127.0.0.1","sender":"alice@acme.example","recipients":[],"decision":"none","reason":"unbound","outcome":"rejected","error":"NotBound","reply":{"code":530,"enhanced":"5.7.0","text":"authentication required: this connection is not bound to a tenant"},"copies":[],"durationMs":1}'
    )
  })
})
