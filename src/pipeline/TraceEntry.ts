import type { TraceCopy, TraceDecision, TraceEntry, TraceOutcome, TracePhase, TraceReply } from "../domain/Trace.js"
import type { StampOutcome } from "./mime/StampPlan.js"
import { type RelayError, type SmtpReply, toReply } from "./RelayError.js"
import type { Copy, Decision } from "./Transaction.js"

/**
 * What DataPhase knows about a transaction when its reply is settled, as the
 * message trace's entry. Only the fields the trace documents: no subject, no
 * body, no header value but the Message-ID. Plain and cheap: the trace's
 * writer does the rest (hashing, ids) off the mail path.
 */

/** The downstream's reply to one copy's DATA, and when it came (ms after DATA began). */
export interface CopyReply {
  readonly reply: SmtpReply
  readonly afterMs: number
}

export interface TraceFacts {
  readonly tenant: string
  /** how the session was bound: "address", "certificate", "auth:<username>" */
  readonly connector: string
  readonly client: string
  readonly sender: string
  readonly recipients: ReadonlyArray<string>
  /** epoch ms when DATA began */
  readonly started: number
  readonly messageId: string | undefined
  readonly size: number | undefined
  /** undefined: the transaction failed before its headers were read */
  readonly decision: Decision | undefined
  /** the stamper's outcome per copy (relayed transactions only) */
  readonly outcomes: ReadonlyArray<StampOutcome | undefined>
  readonly copyReplies: ReadonlyArray<CopyReply | undefined>
}

const traceReply = (r: SmtpReply): TraceReply =>
  r.enhanced === undefined ? { code: r.code, text: r.text } : { code: r.code, enhanced: r.enhanced, text: r.text }

const outcomeOf = (code: number): TraceOutcome => (code < 400 ? "relayed" : code < 500 ? "deferred" : "rejected")

/** Keys are set one by one in the order the record has always had (msgpack writes them in that order); a spread of a conditional literal per optional key cost most of traceEntry's time. */
type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** each template once, as `id@version`, in the order of the plan's elements */
const templatesOf = (copy: Copy): Array<string> => {
  const elements = copy.plan?.elements
  if (elements === undefined || elements.length === 0) return []
  const templates = new Set<string>()
  for (const e of elements) templates.add(`${e.templateId}@${e.templateVersion ?? "?"}`)
  return Array.from(templates)
}

const copiesOf = (facts: TraceFacts): Array<TraceCopy> => {
  const copies = facts.decision?.copies
  if (copies === undefined || copies.length === 0) return []
  return copies.map((copy, i) => {
    const outcome = facts.outcomes[i]
    const answered = facts.copyReplies[i]
    const traced: Mutable<TraceCopy> = { recipients: copy.recipients, rules: copy.ruleIds, templates: templatesOf(copy), stamped: outcome?.stamped ?? [] }
    if (outcome?.skipped !== undefined) traced.skipped = outcome.skipped
    if (answered !== undefined) {
      traced.reply = traceReply(answered.reply)
      traced.durationMs = answered.afterMs
    }
    return traced
  })
}

/** `reply`: what the upstream was told; `error`: the failure's tag when the transaction was not relayed. */
export const traceEntry = (facts: TraceFacts, reply: SmtpReply, error: string | undefined, now: number): TraceEntry => {
  const copies = copiesOf(facts)
  const outcome = outcomeOf(reply.code)
  const relayed = outcome === "relayed"
  const decision: TraceDecision =
    facts.decision === undefined
      ? "none"
      : (relayed ? copies.some((c) => c.stamped.length > 0) : facts.decision.copies.some((c) => c.plan !== undefined))
        ? "stamped"
        : "unstamped"
  const reason = decision !== "unstamped" ? undefined : (facts.decision?.unstamped ?? copies.find((c) => c.skipped !== undefined)?.skipped ?? "no-elements")
  const entry: Mutable<TraceEntry> = {
    at: facts.started,
    tenant: facts.tenant,
    connector: facts.connector,
    client: facts.client,
    sender: facts.sender,
    recipients: facts.recipients
  } as Mutable<TraceEntry>
  if (facts.messageId !== undefined) entry.messageId = facts.messageId
  if (facts.size !== undefined) entry.size = facts.size
  entry.decision = decision
  if (reason !== undefined) entry.reason = reason
  entry.outcome = outcome
  if (error !== undefined) entry.error = error
  entry.reply = traceReply(reply)
  entry.copies = copies
  entry.durationMs = now - facts.started
  return entry
}

/** Why a MAIL or RCPT was refused, as the trace's `reason` (searchable with `reason=`). */
export const refusalReason = (e: RelayError): string => {
  switch (e._tag) {
    case "NotBound":
      return "unbound"
    case "SenderNotAllowed":
      return "relay-denied"
    case "TooManyConnections":
      return "throttled"
    case "DownstreamTlsError":
      return "downstream-tls"
    case "DownstreamProtocolError":
      return "downstream-protocol"
    default:
      return e._tag.replace(/[a-z0-9](?=[A-Z])/g, "$&-").toLowerCase()
  }
}

/** What the trace keeps of a refused MAIL or RCPT: who, the envelope so far, why, and the reply given. */
export interface RefusalFacts {
  readonly phase: TracePhase
  readonly tenant: string
  readonly connector: string
  readonly client: string
  readonly sender: string
  readonly recipients: ReadonlyArray<string>
  /** epoch ms when the command came */
  readonly started: number
}

export const refusalEntry = (facts: RefusalFacts, e: RelayError, now: number): TraceEntry => {
  const reply = toReply(e)
  return {
    at: facts.started,
    phase: facts.phase,
    tenant: facts.tenant,
    connector: facts.connector,
    client: facts.client,
    sender: facts.sender,
    recipients: facts.recipients,
    decision: "none",
    reason: refusalReason(e),
    outcome: outcomeOf(reply.code),
    error: e._tag,
    reply: traceReply(reply),
    copies: [],
    durationMs: now - facts.started
  }
}
