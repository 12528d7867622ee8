import { Cause, Clock, Context, Effect, FiberRef, HashMap, HashSet, Inspectable, List, type Logger, LogLevel } from "effect"
import { jsonLine, lineWriterOf } from "./JsonLogLine.js"
import { type RelayError, type SmtpReply, toReply } from "./RelayError.js"

/**
 * One JSON log line per transaction outcome, refused or not (issue 13, item 5),
 * so that an operator can match what a sender was told with what the
 * downstream said: `relayed`, `not relayed` (DATA), `refused` (MAIL or RCPT)
 * and `abandoned` (a session that ended with MAIL accepted and no DATA answered,
 * shutdown included). Every line carries the same fields, "-" where a value
 * is not known (a Message-ID before the headers were read, a tenant before
 * binding, a downstream reply when there was none).
 */

export interface OutcomeFields {
  readonly phase: "mail" | "rcpt" | "data" | "session"
  readonly tenant: string | undefined
  readonly client: string
  readonly from: string | undefined
  readonly to: ReadonlyArray<string>
  readonly messageId?: string | undefined
  /** what the upstream was told */
  readonly reply: string
  /** what the downstream said, when it said something */
  readonly downstream?: string | undefined
  readonly reason?: string | undefined
  readonly outcome: "relayed" | "rejected" | "deferred" | "abandoned"
  readonly durationMs?: number | undefined
  /** extra fields of the relayed line (size, copies, stamping) */
  readonly extra?: Readonly<Record<string, unknown>>
}

/** Recipients listed per line; the count is always there (a line stays bounded whatever the envelope). */
export const MAX_LOGGED_RECIPIENTS = 50
/** Refusal lines one session may write (a client repeating a refused MAIL must not flood the log). */
export const MAX_REFUSAL_LINES_PER_SESSION = 20

export const formatReply = (r: SmtpReply): string => `${r.code} ${r.enhanced ?? ""} ${r.text.split("\n")[0]}`.replace(/ {2,}/g, " ").trim()

/** The downstream's part in a failure: its reply, or what became of the connection; undefined when it was not involved. */
export const downstreamPart = (e: RelayError): string | undefined => {
  switch (e._tag) {
    case "DownstreamRefused":
      return formatReply(e.reply)
    case "DownstreamTimeout":
      return `timeout (${e.phase})`
    case "DownstreamUnavailable":
      return "unavailable"
    case "DownstreamTlsError":
      return `tls: ${e.reason}`
    case "DownstreamProtocolError":
      return e.reply ? `protocol: ${formatReply(e.reply)}` : `protocol: ${e.detail}`
    default:
      return undefined
  }
}

const message = { relayed: "relayed", rejected: "not relayed", deferred: "not relayed", abandoned: "abandoned" } as const

export const logOutcome = (f: OutcomeFields): Effect.Effect<void> => {
  const text = f.phase === "mail" || f.phase === "rcpt" ? "refused" : message[f.outcome]
  return annotatedLine(f.outcome === "relayed" ? LogLevel.Info : LogLevel.Warning, text, {
    phase: f.phase,
    tenant: f.tenant ?? "-",
    client: f.client,
    from: f.from ?? "-",
    to: f.to.length > MAX_LOGGED_RECIPIENTS ? [...f.to.slice(0, MAX_LOGGED_RECIPIENTS), "…"] : f.to,
    recipients: f.to.length,
    messageId: f.messageId ?? "-",
    reply: f.reply,
    downstream: f.downstream ?? "-",
    reason: f.reason ?? "-",
    outcome: f.outcome,
    ...(f.durationMs !== undefined ? { durationMs: f.durationMs } : {}),
    ...f.extra
  })
}

/**
 * `Effect.annotateLogs(Effect.log…(text), fields)` without its cost per message.
 * annotateLogs is a `FiberRef.locally` (an acquire-use-release with two
 * uninterruptible regions); setting the fiber's annotations and putting them
 * back instead still copied the fiber's FiberRefs twice and hashed both maps to
 * compare them, and set each field in a new map: about a tenth of what the
 * relay allocated per plain message (sampled allocations, perf:cpu load). This
 * does what the fiber's own `log` does (Effect 3.22, FiberRuntime.log: level
 * check, the loggers, the redaction context, the clock's time), with the
 * fiber's annotations plus `fields` built in one transient map and handed to
 * the loggers directly: the same line, the same fields in the same order,
 * and the fiber's annotations are never changed.
 *
 * The production logger (JsonLogLine's `jsonLines`) gets its line from
 * `jsonLine` instead, the same text without the map, Effect's structured copy
 * and its replacer (spec/pipeline/OutcomeLogLine pins the bytes); any other
 * logger, a log span or a value jsonLine does not write itself takes the
 * path above.
 */
const annotatedLine = (level: LogLevel.LogLevel, text: string, fields: Readonly<Record<string, unknown>>): Effect.Effect<void> =>
  Effect.withFiberRuntime((fiber) => {
    if (LogLevel.greaterThan(fiber.getFiberRef(FiberRef.currentMinimumLogLevel), level)) return Effect.void
    const loggers = fiber.getFiberRef(FiberRef.currentLoggers)
    if (HashSet.size(loggers) === 0) return Effect.void
    const fiberAnnotations = fiber.getFiberRef(FiberRef.currentLogAnnotations)
    const spans = fiber.getFiberRef(FiberRef.currentLogSpan)
    const date = new Date(Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis())
    let options: Logger.Logger.Options<unknown> | undefined
    for (const logger of loggers) {
      const write = List.isNil(spans) ? lineWriterOf(logger) : undefined
      const line = write === undefined ? undefined : jsonLine(level, text, date, fiber.id(), fiberAnnotations, fields)
      if (line !== undefined) {
        write!(line)
        continue
      }
      if (options === undefined) {
        const annotations = HashMap.mutate(fiberAnnotations, (m) => {
          for (const key in fields) HashMap.set(m, key, fields[key])
        })
        options = {
          fiberId: fiber.id(),
          logLevel: level,
          message: [text],
          cause: Cause.empty,
          context: fiber.getFiberRefs(),
          spans,
          annotations,
          date
        }
      }
      const o = options
      Inspectable.withRedactableContext(o.context, () => logger.log(o))
    }
    return Effect.void
  })

/** A refused command (MAIL, RCPT) or a failed DATA: the reply comes from the error, in the one place it is made (toReply). */
export const logFailure = (e: RelayError, f: Omit<OutcomeFields, "reply" | "downstream" | "reason" | "outcome">): Effect.Effect<void> => {
  const r = toReply(e)
  return logOutcome({ ...f, reply: formatReply(r), downstream: downstreamPart(e), reason: e._tag, outcome: r.code >= 500 ? "rejected" : "deferred" })
}
