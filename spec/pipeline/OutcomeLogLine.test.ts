import { describe, expect, it } from "@effect/vitest"
import { Effect, FiberId, HashMap, Logger, LogLevel } from "effect"
import { jsonLines } from "../../src/pipeline/JsonLogLine.js"
import { DownstreamRefused, DownstreamUnavailable } from "../../src/pipeline/RelayError.js"
import { logFailure, logOutcome, type OutcomeFields } from "../../src/pipeline/TransactionLog.js"

/**
 * The per-message outcome line, byte for byte (issue 16): the production
 * logger (`jsonLines`, what LogOutput installs) and Effect's own
 * `Logger.jsonLogger` both receive every call here, and must write the same
 * text. The first two specs pin the exact line of a relayed and a refused
 * transaction as Effect 3.22's jsonLogger writes it (keys, their order, values,
 * the timestamp format, the fiber's own annotation); the others walk the
 * cases a shortcut in the line's formatting could get wrong.
 */

/** Runs `effect` with both loggers (and the TestClock at 0): what each wrote. */
const both = <A, E>(effect: Effect.Effect<A, E>, minimum: LogLevel.LogLevel = LogLevel.Info) => {
  const production: Array<string> = []
  const reference: Array<string> = []
  return effect.pipe(
    Logger.withMinimumLogLevel(minimum),
    Effect.provide(
      Logger.replace(
        Logger.defaultLogger,
        jsonLines((line) => void production.push(line))
      )
    ),
    Effect.provide(Logger.add(Logger.map(Logger.jsonLogger, (line) => void reference.push(line)))),
    Effect.zipRight(Effect.fiberId),
    Effect.map((id) => ({ production, reference, fiber: FiberId.threadName(id) }))
  )
}

const relayed: OutcomeFields = {
  phase: "data",
  tenant: "acme",
  client: "127.0.0.1",
  from: "alice@acme.example",
  to: ["bob@customer.example", "carol@customer.example"],
  messageId: "<logged-1@acme.example>",
  reply: "250 2.6.0 relayed (downstream: 250 OK: recorded)",
  downstream: "250 2.6.0 OK: recorded",
  outcome: "relayed",
  durationMs: 12,
  extra: { size: 10240, copies: 1, stamped: "html+text", unstamped: "-" }
}

describe("the outcome log line, byte for byte", () => {
  it.effect("relayed: today's exact line, with the fiber's own annotation", () =>
    Effect.gen(function* () {
      const { production, reference, fiber } = yield* both(logOutcome(relayed).pipe(Effect.annotateLogs({ session: "s-1" })))
      const line =
        `{"message":"relayed","logLevel":"INFO","timestamp":"1970-01-01T00:00:00.000Z","annotations":{` +
        `"size":10240,"reason":"-","tenant":"acme","messageId":"<logged-1@acme.example>","unstamped":"-","durationMs":12,"copies":1,` +
        `"phase":"data","downstream":"250 2.6.0 OK: recorded","recipients":2,"outcome":"relayed","from":"alice@acme.example",` +
        `"reply":"250 2.6.0 relayed (downstream: 250 OK: recorded)","session":"s-1","client":"127.0.0.1",` +
        `"to":["bob@customer.example","carol@customer.example"],"stamped":"html+text"` +
        `},"spans":{},"fiberId":"${fiber}"}`
      expect(reference).toEqual([line])
      expect(production).toEqual([line])
    })
  )

  it.effect("refused: today's exact line of a RCPT the downstream refused", () =>
    Effect.gen(function* () {
      const e = new DownstreamRefused({ reply: { code: 550, enhanced: "5.1.1", text: "no such user" }, phase: "rcpt" })
      const { production, reference, fiber } = yield* both(
        logFailure(e, { phase: "rcpt", tenant: "acme", client: "127.0.0.1", from: "alice@acme.example", to: ["nobody@customer.example"] }).pipe(
          Effect.annotateLogs({ session: "s-2" })
        )
      )
      const line =
        `{"message":"refused","logLevel":"WARN","timestamp":"1970-01-01T00:00:00.000Z","annotations":{` +
        `"reason":"DownstreamRefused","tenant":"acme","messageId":"-","phase":"rcpt","downstream":"550 5.1.1 no such user",` +
        `"recipients":1,"outcome":"rejected","from":"alice@acme.example","reply":"550 5.1.1 no such user","session":"s-2",` +
        `"client":"127.0.0.1","to":["nobody@customer.example"]` +
        `},"spans":{},"fiberId":"${fiber}"}`
      expect(reference).toEqual([line])
      expect(production).toEqual([line])
    })
  )

  it.effect("the same bytes as Effect's jsonLogger whatever the fields and the fiber's annotations", () =>
    Effect.gen(function* () {
      const many = Array.from({ length: 60 }, (_, i) => `r${i}@customer.example`)
      const shared = { a: 1 }
      const circle: Record<string, unknown> = { b: 2 }
      circle.self = circle
      const named = function named() {
        return 1
      }
      const cases: ReadonlyArray<Effect.Effect<void>> = [
        // no fiber annotation, no duration, no extra
        logOutcome({ ...relayed, durationMs: undefined, extra: undefined }),
        // a field named like a fiber annotation: the field's value wins, in the annotation's place
        logOutcome(relayed).pipe(Effect.annotateLogs({ tenant: "fiber-tenant", session: "s-3" })),
        // values JSON must escape; the recipients cut at MAX_LOGGED_RECIPIENTS
        logOutcome({ ...relayed, to: many, messageId: '<"quoted"\\back\u2028slash@exämple>', from: undefined, tenant: undefined }),
        // a fiber annotation that is an object, one that is a number, an index-like key, a boolean
        logOutcome(relayed).pipe(Effect.annotateLogs({ request: { id: 7, path: ["a", "b"] }, count: 3, "7": "seven", flag: true })),
        // extra fields that are not strings; a field that is undefined
        logOutcome({ ...relayed, extra: { size: 1.5, nothing: null, gone: undefined, list: [1, "two"], nested: { a: 1 } } }),
        // values jsonLogger writes its own way: a bigint, a symbol, a function, one object twice, a circle
        logOutcome({ ...relayed, extra: { big: 10n, sym: Symbol("s"), twice: [shared, shared], circle } }),
        logOutcome(relayed).pipe(Effect.annotateLogs({ big: 11n, twice: [shared, shared] })),
        logOutcome({ ...relayed, extra: { fn: named } }),
        // a log span
        logOutcome(relayed).pipe(Effect.withLogSpan("transaction")),
        // a failure line: WARN
        logFailure(new DownstreamUnavailable({ host: "127.0.0.1", port: 25, cause: "refused" }), {
          phase: "mail",
          tenant: "acme",
          client: "127.0.0.1",
          from: "alice@acme.example",
          to: []
        }),
        // two lines in a row from one fiber with the same annotations (a cached shape reused)
        Effect.zipRight(logOutcome(relayed), logOutcome({ ...relayed, to: ["x@customer.example"], durationMs: 99 })).pipe(
          Effect.annotateLogs({ session: "s-4" })
        )
      ]
      for (const c of cases) {
        const { production, reference } = yield* both(c)
        expect(reference.length).toBeGreaterThan(0)
        expect(production).toEqual(reference)
      }
    })
  )

  it.effect("the minimum log level still applies: no relayed line under Warning, the refused one kept", () =>
    Effect.gen(function* () {
      const quiet = yield* both(logOutcome(relayed), LogLevel.Warning)
      expect(quiet.production).toEqual([])
      expect(quiet.reference).toEqual([])
      const refused = yield* both(logOutcome({ ...relayed, phase: "rcpt", outcome: "rejected" }), LogLevel.Warning)
      expect(refused.production).toHaveLength(1)
      expect(refused.production).toEqual(refused.reference)
    })
  )

  it.effect("a logger a test installs still receives the line with every field as an annotation", () =>
    Effect.gen(function* () {
      const seen: Array<{ message: unknown; level: string; annotations: Record<string, unknown> }> = []
      const capture = Logger.make(({ annotations, logLevel, message }) => {
        seen.push({ message, level: logLevel.label, annotations: Object.fromEntries(HashMap.toEntries(annotations)) })
      })
      yield* logOutcome(relayed).pipe(Effect.annotateLogs({ session: "s-5" }), Effect.provide(Logger.replace(Logger.defaultLogger, capture)))
      expect(seen).toEqual([
        {
          message: ["relayed"],
          level: "INFO",
          annotations: {
            session: "s-5",
            phase: "data",
            tenant: "acme",
            client: "127.0.0.1",
            from: "alice@acme.example",
            to: ["bob@customer.example", "carol@customer.example"],
            recipients: 2,
            messageId: "<logged-1@acme.example>",
            reply: "250 2.6.0 relayed (downstream: 250 OK: recorded)",
            downstream: "250 2.6.0 OK: recorded",
            reason: "-",
            outcome: "relayed",
            durationMs: 12,
            size: 10240,
            copies: 1,
            stamped: "html+text",
            unstamped: "-"
          }
        }
      ])
    })
  )
})
