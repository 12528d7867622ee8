import { Effect } from "effect"
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
import { headersUnreadable, startMessage, type Copy, type Decision, type ReadHeaders } from "./Transaction.js"
import { countRelayed, recordFailed } from "./RelayMetrics.js"
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
 * The DATA phase of one upstream transaction: read the root headers, decide
 * from them (loop stamp, kinds that pass unstamped, the tenant's signature
 * decision, then, if it stamps, the fail-safe memory), open one downstream transaction per copy,
 * hand Transaction the ready decision to relay, log one line, hand the message
 * trace its entry beside it, and remember a message whose stamping failed
 * (invariant 5). One Effect for the whole phase; nothing below calls back up.
 */
export const dataPhase = (
  deps: DataPhaseDeps,
  session: SMTPServerSession,
  primary: DownstreamLink,
  mail: MailTransaction | undefined,
  stream: Readable
): Effect.Effect<string, RelayError> =>
  Effect.suspend(() => {
    if (mail === undefined) return Effect.fail(new PipelineFailed({ detail: "DATA without MAIL" }))
    const { config, control, failsafe } = deps
    const started = Date.now()
    const recipients = session.envelope.rcptTo.map((r) => r.address)
    const extra: Array<DownstreamLink> = []
    const releaseExtra = Effect.suspend(() => (extra.length === 0 ? Effect.void : Effect.forEach(extra, (l) => l.release, { discard: true })))
    /** a link with MAIL and RCPT done for each copy's recipients, in order; the first is the session's own */
    const openLinks = (copies: ReadonlyArray<Copy>): Effect.Effect<ReadonlyArray<DownstreamLink>, RelayError> => {
      // mirrored again if its connection was released while the upstream idled
      if (copies.length === 1) return primary.parked ? Effect.as(primary.resume(recipients), [primary]) : Effect.succeed([primary])
      return Effect.forEach(copies, (copy, i) => {
        const link = i === 0 ? primary : new DownstreamLink(config.smtp.name, config.downstreamTimeouts, deps.pool)
        if (i > 0) extra.push(link)
        return Effect.as(link.transaction(mail.target, mail.from, mail.params, copy.recipients), link)
      })
    }
    // what the message trace needs beyond the result: known even when the transaction fails
    let identity: string | undefined
    let messageId: string | undefined
    let decided: Decision | undefined
    const copyReplies: Array<CopyReply> = []
    const traced = (size: number | undefined, outcomes: TraceFacts["outcomes"]): TraceFacts => ({
      tenant: mail.tenant,
      connector: mail.connector,
      client: session.remoteAddress,
      sender: mail.from,
      recipients,
      started,
      messageId,
      size,
      decision: decided,
      outcomes,
      copyReplies
    })
    /** never fails: mail flow beats signatures */
    const decide = ({ root, facts }: ReadHeaders): Effect.Effect<Decision> => {
      const reason = passesUnstamped(root, facts.loop, mail.from)
      if (reason !== undefined) return Effect.succeed(unstamped(recipients, reason))
      // the fail-safe memory only matters to a message the tenant would stamp: asked after the
      // tenant, not before (a digest and a store read saved on every message that passes unstamped)
      return Effect.flatMap(
        control.resolveSignature(mail.tenant, MessageEnvelope.make({ mailFrom: mail.from, rcptTo: recipients }, true), facts.summary),
        (signature) => {
          const decision = planCopies(signature, recipients)
          if (decision.unstamped !== undefined) return Effect.succeed(decision)
          return Effect.map(failsafe.recall(mail.tenant, facts.identity).pipe(Effect.orElseSucceed(() => false)), (retry) =>
            retry ? unstamped(recipients, "failsafe-retry") : decision
          )
        }
      )
    }
    const policy = {
      tenant: mail.tenant,
      receivedLine: receivedLine({ session, serverName: config.smtp.name, recipients, now: new Date(started) }),
      stampKey: deps.stampKey,
      nowSeconds: Math.floor(started / 1000),
      stampMaxAgeSeconds: config.loopStampMaxAgeSeconds
    }
    const onCopyReply = (i: number, reply: CopyReply["reply"]) => (copyReplies[i] = { reply, afterMs: Date.now() - started })
    const proof = mail.microsoft365 === undefined ? undefined : new Microsoft365Proof(mail.microsoft365, deps.dkimKeys)
    const message = startMessage({
      upstream: stream,
      maxBytes: config.smtp.maxMessageSize,
      proof,
      watch: (upstream, bytes, abort) => deps.deadlines.watch(upstream, bytes, abort)
    })
    const relayed = message.guard(
      Effect.flatMap(message.headers(policy), (headers) => {
        const send = (decision: Decision) => {
          const sent = Effect.flatMap(openLinks(decision.copies), (links) => message.relay({ policy, headers, decision, links, onCopyReply }))
          // only several copies open links of their own (`extra`): given back whatever the end
          return decision.copies.length === 1 ? sent : Effect.ensuring(sent, releaseExtra)
        }
        if (headers === undefined) return send(headersUnreadable(recipients))
        identity = headers.facts.identity
        messageId = headers.facts.summary.messageId
        return Effect.flatMap(decide(headers), (decision) => {
          decided = decision
          return send(decision)
        })
      })
    )
    return relayed.pipe(
      Effect.tapError((e) =>
        Effect.gen(function* () {
          if (e._tag === "StampingFailed" && identity !== undefined) {
            yield* failsafe.remember(mail.tenant, identity).pipe(Effect.catchAll((err) => Effect.logError("fail-safe memory write failed", err)))
          }
          const r = toReply(e)
          yield* recordFailed(mail.tenant, r.code, e._tag)
          yield* logFailure(e, {
            phase: "data",
            tenant: mail.tenant,
            client: session.remoteAddress,
            from: mail.from,
            to: recipients,
            messageId,
            durationMs: Date.now() - started
          })
          yield* deps.trace.record(traceEntry(traced(undefined, []), r, e._tag, Date.now()))
        })
      ),
      Effect.flatMap(({ reply, facts, bytes, decision, outcomes }) => {
        const now = Date.now()
        const stampedCopies = outcomes.filter((o) => o !== undefined && o.stamped.length > 0).length
        const reason = decision.unstamped ?? outcomes.find((o) => o?.skipped !== undefined)?.skipped
        const text = `relayed (downstream: ${reply.code} ${reply.text.split("\n")[0]})`
        decided = decision
        // one step for the metrics, then the log line and the trace's offer: no Effect.all per message
        countRelayed(mail.tenant, bytes, (now - started) / 1000, stampedCopies, reason)
        const logged = logOutcome({
          phase: "data",
          tenant: mail.tenant,
          client: session.remoteAddress,
          from: mail.from,
          to: recipients,
          messageId: facts?.summary.messageId,
          // smtp-server adds 2.6.0 (DATA_OK) to the text returned here
          reply: `250 2.6.0 ${text}`,
          downstream: formatReply(reply),
          outcome: "relayed",
          durationMs: now - started,
          extra: {
            size: bytes,
            copies: decision.copies.length,
            stamped: outcomes.map((o) => (o === undefined ? "-" : o.stamped.join("+") || `unstamped:${o.skipped ?? "?"}`)).join(","),
            unstamped: decision.unstamped ?? "-"
          }
        })
        return Effect.zipRight(
          logged,
          Effect.as(deps.trace.record(traceEntry(traced(bytes, outcomes), { code: 250, enhanced: "2.6.0", text }, undefined, now)), text)
        )
      })
    )
  })
