import { Effect, Metric } from "effect"
import { describe, expect, it } from "vitest"
import { activeSessions, bytes, relayed, unstamped } from "../../src/pipeline/RelayMetrics.js"
import { stripImprintHeaders } from "../support/Corpus.js"
import { relayToSink } from "../support/Imprint.js"
import { RawSmtp } from "../support/RawSmtp.js"
import { eventually } from "../support/ServeProcess.js"

const message = (subject: string, body = "Hello.\r\n") =>
  `From: Alice <alice@acme.example>\r\nTo: bob@customer.example\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, "")}@acme.example>\r\n\r\n${body}`

describe("relay basics", () => {
  const relay = relayToSink()

  it("relays a message once, byte-identical apart from Received and the loop stamp", async () => {
    const count = () => Effect.runPromise(Metric.value(Metric.tagged(relayed, "tenant", "acme"))).then((s) => s.count)
    const noRule = () =>
      Effect.runPromise(Metric.value(Metric.tagged(Metric.tagged(unstamped, "tenant", "acme"), "reason", "sender-not-in-directory"))).then((s) => s.count)
    const [before, noRuleBefore] = [await count(), await noRule()]
    const c = await RawSmtp.connect(relay.imprint.port)
    const body = message("basic", "Line one\r\n.leading dot\r\n")
    const r = await c.send("alice@acme.example", ["bob@customer.example"], body)
    c.end()
    expect(r.code).toBe(250)
    expect(r.text).toMatch(/^2\.6\.0 /)
    await relay.sink.waitFor(1)
    const got = relay.sink.messages.at(-1)!
    expect(got.mailFrom).toBe("alice@acme.example")
    expect(got.rcptTo).toEqual(["bob@customer.example"])
    expect(stripImprintHeaders(got.raw).toString("latin1")).toBe(body)
    expect(got.raw.toString()).toMatch(/^Received: from [^\r\n]*\(\[127\.0\.0\.1\]\)/)
    expect(got.raw.toString()).toMatch(/\r\nX-Imprint-Loop: v=1; t=acme; ts=\d+;/)
    // the metrics the admin API exports
    expect(await count()).toBe(before + 1)
    expect(await noRule()).toBe(noRuleBefore + 1)
    expect((await Effect.runPromise(Metric.value(Metric.tagged(bytes, "tenant", "acme")))).count).toBeGreaterThanOrEqual(body.length)
  })

  it("counts the open sessions in imprint_smtp_sessions_active as they open and close", async () => {
    const gauge = () => Effect.runPromise(Metric.value(activeSessions)).then((s) => s.value)
    // sessions of the test before may still be closing
    await eventually("no session open", async () => ((await gauge()) === 0 ? true : undefined))
    const a = await RawSmtp.connect(relay.imprint.port)
    const b = await RawSmtp.connect(relay.imprint.port)
    expect(await gauge()).toBe(2)
    await a.quit()
    expect(await eventually("one session closed", async () => ((await gauge()) === 1 ? true : undefined))).toBe(true)
    await b.quit()
    expect(await eventually("both sessions closed", async () => ((await gauge()) === 0 ? true : undefined))).toBe(true)
  })
})
