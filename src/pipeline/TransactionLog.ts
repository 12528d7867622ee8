import { Effect, FiberRef, HashMap } from "effect"
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
  return annotatedLine(f.outcome === "relayed" ? Effect.logInfo(text) : Effect.logWarning(text), {
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
 * `Effect.annotateLogs(line, fields)` without its cost per message: that is a
 * `FiberRef.locally`, an acquire-use-release with two uninterruptible regions
 * (about 25 interpreter steps); this sets the fiber's annotations, logs and
 * puts them back (about 8). The same annotations in the same order (each field
 * set on the fiber's map, as annotateLogs does), so the line is the same. The
 * three steps are synchronous: nothing else runs in this fiber between them.
 */
const annotatedLine = (line: Effect.Effect<void>, fields: Readonly<Record<string, unknown>>): Effect.Effect<void> =>
  FiberRef.getWith(FiberRef.currentLogAnnotations, (before) => {
    let annotations = before
    for (const key in fields) annotations = HashMap.set(annotations, key, fields[key])
    return FiberRef.set(FiberRef.currentLogAnnotations, annotations).pipe(
      Effect.zipRight(line),
      Effect.zipRight(FiberRef.set(FiberRef.currentLogAnnotations, before))
    )
  })

/** A refused command (MAIL, RCPT) or a failed DATA: the reply comes from the error, in the one place it is made (toReply). */
export const logFailure = (e: RelayError, f: Omit<OutcomeFields, "reply" | "downstream" | "reason" | "outcome">): Effect.Effect<void> => {
  const r = toReply(e)
  return logOutcome({ ...f, reply: formatReply(r), downstream: downstreamPart(e), reason: e._tag, outcome: r.code >= 500 ? "rejected" : "deferred" })
}
