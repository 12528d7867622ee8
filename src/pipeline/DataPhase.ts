import { Effect } from "effect"
import type { MimeNode } from "mailsplit"
import type { Readable } from "node:stream"
import type { SMTPServerSession } from "smtp-server"
import type { ImprintConfig } from "../config.js"
import { MessageEnvelope } from "../domain/Signature.js"
import type { Downstream, Microsoft365Connector, TenantId } from "../domain/Tenant.js"
import type { FailSafeMemory } from "../store/FailSafeMemory.js"
import type { ControlPlaneApi } from "../domain/ControlPlane.js"
import { passesUnstamped, planCopies, unstamped } from "./CopyPlanner.js"
import type { DownstreamPool } from "./downstream/DownstreamPool.js"
import { DownstreamLink, type MailParams } from "./Relay.js"
import { PipelineFailed, type RelayError, toReply } from "./RelayError.js"
import type { readRootFacts } from "./headers/RootHeaders.js"
import { relayTransaction, type Copy, type Decision } from "./Transaction.js"
import { recordFailed, recordRelayed } from "./RelayMetrics.js"
import type { DkimKeys } from "./inbound/DkimKeys.js"
import { Microsoft365Proof } from "./inbound/Microsoft365Proof.js"
import type { DataDeadlines } from "./inbound/DataDeadline.js"
import { receivedLine } from "./headers/Received.js"
import { formatReply, logFailure, logOutcome } from "./TransactionLog.js"
import type { TraceSinkApi } from "../domain/Trace.js"
import { type CopyReply, type TraceFacts, traceEntry } from "./TraceEntry.js"

/** What MAIL FROM settled for the transaction in progress. */
export interface MailTransaction {
  readonly tenant: TenantId
  readonly target: Downstream
  readonly from: string
  readonly params: MailParams
  /** a Microsoft 365 session: each message proves it comes from one of these (Microsoft365Proof) */
  readonly microsoft365: ReadonlyArray<Microsoft365Connector> | undefined
  /** how the session was bound, for the message trace: "address", "certificate", "auth:<username>" */
  readonly connector: string
}

export interface DataPhaseDeps {
  readonly config: ImprintConfig
  readonly stampKey: Buffer
  readonly control: ControlPlaneApi
  readonly failsafe: FailSafeMemory
  readonly pool: DownstreamPool
  readonly dkimKeys: DkimKeys
  readonly deadlines: DataDeadlines
  readonly trace: TraceSinkApi
}

/**
 * The DATA phase of one upstream transaction: decide from the headers (loop
 * stamp, kinds that pass unstamped, the fail-safe memory, then the tenant's
 * signature decision), open one downstream transaction per copy, relay, log
 * one line, hand the message trace its entry beside it, and remember a
 * message whose stamping failed (invariant 5).
 */
export const dataPhase = (
  deps: DataPhaseDeps,
  session: SMTPServerSession,
  primary: DownstreamLink,
  mail: MailTransaction | undefined,
  stream: Readable
): Effect.Effect<string, RelayError> =>
  Effect.gen(function* () {
    if (mail === undefined) return yield* new PipelineFailed({ detail: "DATA without MAIL" })
    const { config, control, failsafe } = deps
    const started = Date.now()
    const recipients = session.envelope.rcptTo.map((r) => r.address)
    const envelope = { phase: "data", tenant: mail.tenant, client: session.remoteAddress, from: mail.from, to: recipients } as const
    const extra: Array<DownstreamLink> = []
    const links = (copies: ReadonlyArray<Copy>) =>
      Effect.gen(function* () {
        if (copies.length === 1) {
          // mirrored again if its connection was released while the upstream idled
          yield* primary.resume(recipients)
          return [primary]
        }
        const out: Array<DownstreamLink> = []
        for (const [i, copy] of copies.entries()) {
          const link = i === 0 ? primary : new DownstreamLink(config.smtp.name, config.downstreamTimeouts, deps.pool)
          if (i > 0) extra.push(link)
          yield* link.transaction(mail.target, mail.from, mail.params, copy.recipients)
          out.push(link)
        }
        return out
      })
    let identity: string | undefined
    // what the message trace needs beyond the result: known even when the transaction fails
    let messageId: string | undefined
    let decided: Decision | undefined
    const copyReplies: Array<CopyReply> = []
    const traced = (size: number | undefined, outcomes: TraceFacts["outcomes"]): TraceFacts => ({
      tenant: mail.tenant, connector: mail.connector, client: session.remoteAddress, sender: mail.from, recipients,
      started, messageId, size, decision: decided, outcomes, copyReplies
    })
    const decideFrom = (root: MimeNode, facts: ReturnType<typeof readRootFacts>) =>
      Effect.gen(function* () {
        identity = facts.identity
        messageId = facts.summary.messageId
        const reason = passesUnstamped(root, facts.loop, mail.from)
        if (reason !== undefined) return unstamped(recipients, reason)
        if (yield* failsafe.recall(mail.tenant, facts.identity).pipe(Effect.orElseSucceed(() => false))) {
          return unstamped(recipients, "failsafe-retry")
        }
        const decision = yield* control.resolveSignature(mail.tenant, MessageEnvelope.make({ mailFrom: mail.from, rcptTo: recipients }, true), facts.summary)
        return planCopies(decision, recipients)
      })
    const decide = (root: MimeNode, facts: ReturnType<typeof readRootFacts>) =>
      Effect.tap(decideFrom(root, facts), (d) => Effect.sync(() => (decided = d)))
    const policy = {
      tenant: mail.tenant,
      receivedLine: receivedLine({ session, serverName: config.smtp.name, recipients, now: new Date() }),
      stampKey: deps.stampKey,
      nowSeconds: Math.floor(Date.now() / 1000),
      stampMaxAgeSeconds: config.loopStampMaxAgeSeconds
    }
    const onCopyReply = (i: number, reply: CopyReply["reply"]) => (copyReplies[i] = { reply, afterMs: Date.now() - started })
    const proof = mail.microsoft365 === undefined ? undefined : new Microsoft365Proof(mail.microsoft365, deps.dkimKeys)
    const result = yield* relayTransaction({
      upstream: stream,
      maxBytes: config.smtp.maxMessageSize,
      policy,
      recipients,
      decide,
      links,
      proof,
      onCopyReply,
      watch: (upstream, bytes, abort) => deps.deadlines.watch(upstream, bytes, abort)
    }).pipe(
      Effect.tapError((e) =>
        Effect.gen(function* () {
          if (e._tag === "StampingFailed" && identity !== undefined) {
            yield* failsafe.remember(mail.tenant, identity).pipe(Effect.catchAll((err) => Effect.logError("fail-safe memory write failed", err)))
          }
          const r = toReply(e)
          yield* recordFailed(mail.tenant, r.code, e._tag)
          yield* logFailure(e, { ...envelope, messageId, durationMs: Date.now() - started })
          yield* deps.trace.record(traceEntry(traced(undefined, []), r, e._tag, Date.now()))
        })
      ),
      Effect.ensuring(Effect.forEach(extra, (l) => l.release, { discard: true }))
    )
    const { reply, facts, bytes, decision, outcomes } = result
    const stampedCopies = outcomes.filter((o) => o !== undefined && o.stamped.length > 0).length
    const reason = decision.unstamped ?? outcomes.find((o) => o?.skipped !== undefined)?.skipped
    yield* recordRelayed(mail.tenant, bytes, (Date.now() - started) / 1000, stampedCopies, reason)
    const text = `relayed (downstream: ${reply.code} ${reply.text.split("\n")[0]})`
    yield* logOutcome({
      ...envelope,
      messageId: facts?.summary.messageId,
      // smtp-server adds 2.6.0 (DATA_OK) to the text returned here
      reply: `250 2.6.0 ${text}`,
      downstream: formatReply(reply),
      outcome: "relayed",
      durationMs: Date.now() - started,
      extra: {
        size: bytes,
        copies: decision.copies.length,
        stamped: outcomes.map((o) => (o === undefined ? "-" : o.stamped.join("+") || `unstamped:${o.skipped ?? "?"}`)).join(","),
        unstamped: decision.unstamped ?? "-"
      }
    })
    decided = decision
    yield* deps.trace.record(traceEntry(traced(bytes, outcomes), { code: 250, enhanced: "2.6.0", text }, undefined, Date.now()))
    return text
  })
