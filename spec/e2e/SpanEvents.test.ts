import { Effect, Tracer } from "effect"
import { describe, expect, it } from "vitest"
import { relayToSink } from "../support/Imprint.js"
import { RawSmtp } from "../support/RawSmtp.js"

/**
 * Effect's default loggers include one that adds every log line as an event to
 * the current span. Per-message work must not run under a span that lives as
 * long as the server: its events array would grow by a line per message, for
 * ever (a leak, and GC work on an ever-larger old generation).
 */
const spans: Array<Tracer.Span> = []
const native = Effect.runSync(Effect.tracer)
const recording = Tracer.make({
  span: (...args: Parameters<Tracer.Tracer["span"]>) => {
    const span = native.span(...args)
    spans.push(span)
    return span
  },
  context: native.context
})
const eventsOf = (span: Tracer.Span): number => ((span as unknown as { events?: ReadonlyArray<unknown> }).events ?? []).length

const MESSAGES = 25

describe("log lines and long-lived spans", () => {
  const relay = relayToSink({ observe: { tracer: recording } })

  it("relays many messages without any span collecting a log event per message", async () => {
    const c = await RawSmtp.connect(relay.imprint.port)
    for (let i = 0; i < MESSAGES; i++) {
      const r = await c.send(
        "alice@acme.example",
        ["bob@customer.example"],
        `From: alice@acme.example\r\nSubject: ${i}\r\nMessage-ID: <span${i}@acme.example>\r\n\r\nHello.\r\n`
      )
      expect(r.code).toBe(250)
    }
    c.end()
    await relay.sink.waitFor(MESSAGES)
    // the tracer saw the server's spans (the test would prove nothing otherwise)
    expect(spans.map((s) => s.name)).toContain("Inbound.start")
    const busiest = Math.max(...spans.map(eventsOf))
    expect(busiest).toBeLessThan(MESSAGES)
  })
})
