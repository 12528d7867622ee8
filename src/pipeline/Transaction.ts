import { Cause, Effect, Either, Exit, Option } from "effect"
import { PassThrough, type Readable, type Transform, type Writable } from "node:stream"
import { finished } from "node:stream/promises"
import { Fanout } from "./Fanout.js"
import { HEADER_PEEK_LIMIT, HeaderPeek, type PeekedHeaders } from "./headers/HeaderPeek.js"
import { LineGuard, LineScreen } from "./headers/LineGuard.js"
import { chain, type ChainStage } from "./StreamChain.js"
import { TransactionMachine } from "./TransactionState.js"
import { Stamper } from "./mime/Stamper.js"
import type { StampOutcome, StampPlan } from "./mime/StampPlan.js"
import type { DownstreamLink } from "./Relay.js"
import { DownstreamRefused, PipelineFailed, type RelayError, StampingFailed, UpstreamGone } from "./RelayError.js"
import { HeaderSummary } from "../domain/Signature.js"
import { messageIdentity } from "./headers/LoopStamp.js"
import { RawHeaderEdit, rawHeadEdit } from "./headers/RawHeaderEdit.js"
import { buildPrefix, readRootFacts, type RootFacts, type RootHeaderPolicy } from "./headers/RootHeaders.js"
import { StampedCopy } from "./StampedCopy.js"
import type { SmtpReply } from "./downstream/SmtpReply.js"

/**
 * One message's DATA, from the upstream's bytes to every downstream copy:
 *
 *   upstream → HeaderPeek (with LineGuard's checks) ─(decide from the headers)─▶
 *     one unstamped copy:  HeaderPeek's own output (RawHeaderEdit's edit done as it lets go) → link DATA
 *     one stamped copy:    → PassThrough → StampedCopy (MimeScanner → root edit → Stamper → join → prefix) → link DATA
 *     several copies:      → Fanout → per copy PassThrough → StampedCopy or RawHeaderEdit → link DATA
 *   (with a Microsoft 365 proof: upstream → LineGuard → proof → HeaderPeek → the same)
 *
 * The one-copy cases (nearly every message) make no Fanout and, unstamped, no copy stage:
 * each stream made per message costs its construction, its pipe listeners and a round of
 * events per chunk.
 *
 * startMessage starts the upstream side and holds the bytes; the caller (DataPhase) reads the
 * headers with `headers`, decides, opens one link per copy and hands `relay` that ready
 * decision. The decision is taken before any body byte moves. Each recipient group gets
 * its own downstream transaction, fed from the one upstream stream with
 * backpressure from the slowest; the upstream hears 250 only when every copy
 * got 250 (invariant 1), and any failure aborts every copy before its dot
 * (invariant 2).
 */

/** One downstream copy: its recipients and what to stamp (undefined: relay it unstamped). */
export interface Copy {
  readonly recipients: ReadonlyArray<string>
  readonly plan: StampPlan | undefined
  readonly ruleIds: ReadonlyArray<string>
}

export interface Decision {
  readonly copies: ReadonlyArray<Copy>
  /** why nothing is stamped, when nothing is */
  readonly unstamped?: string
}

/** relayTransaction's input: the message, and how to decide and open the links from its headers */
export interface TransactionInput extends MessageInput {
  readonly policy: RootHeaderPolicy
  readonly recipients: ReadonlyArray<string>
  /** the decision, from the parsed root headers; never fails (mail flow beats signatures) */
  readonly decide: (root: NonNullable<PeekedHeaders>, facts: ReturnType<typeof readRootFacts>) => Effect.Effect<Decision>
  /** a link with MAIL and RCPT done for each copy's recipients, in order */
  readonly links: (copies: ReadonlyArray<Copy>) => Effect.Effect<ReadonlyArray<DownstreamLink>, RelayError>
  readonly onCopyReply?: (copy: number, reply: SmtpReply) => void
}

export interface TransactionResult {
  readonly reply: SmtpReply
  readonly facts: RootFacts | undefined
  readonly bytes: number
  readonly decision: Decision
  readonly outcomes: ReadonlyArray<StampOutcome | undefined>
}

/**
 * mailsplit's limit for one part's header block in a stamped copy (its default
 * is 1 MB). Never below HEADER_PEEK_LIMIT: a root header block the peek read
 * must not make the stamped copy's splitter fail.
 */
export const MAX_PART_HEADER_BYTES = HEADER_PEEK_LIMIT

/**
 * mailsplit's limit on the parts of one stamped copy (its default is 1,000).
 * Above the Stamper's own limit (MAX_STAMPED_PARTS), so that a message the
 * Stamper passes unstamped for its complexity still goes through on its first
 * try; only a message beyond this fails mid-stream (451, and its retry passes
 * unstamped by the fail-safe memory).
 */
export const MAX_SPLIT_NODES = 10_000

const isPositive = (r: SmtpReply) => r.code >= 200 && r.code < 300

const asRelayError = (e: unknown): RelayError =>
  typeof e === "object" && e !== null && "_tag" in e ? (e as RelayError) : new PipelineFailed({ detail: e instanceof Error ? e.message : String(e) })

/** What DataPhase reads before it decides: the root headers, parsed, before any body byte moved. */
export interface ReadHeaders {
  readonly root: NonNullable<PeekedHeaders>
  readonly facts: ReturnType<typeof readRootFacts>
}

/** The upstream side of one message's DATA, started by `startMessage`. */
export interface MessageInput {
  readonly upstream: Readable
  readonly maxBytes: number
  /**
   * A stage between LineGuard and HeaderPeek that may refuse the message: its
   * error (a RelayError) is the cause, and it ends its output only once satisfied,
   * so a refusal comes before any copy's terminating dot (inbound/Microsoft365Proof).
   */
  readonly proof?: Transform
  /** watches the upstream's pace (DataDeadline): calls `abort` when it is too slow; returns the unwatch function */
  readonly watch?: (upstream: Readable, bytes: () => number, abort: (e: RelayError) => void) => () => void
}

/** What the message is relayed with, once decided: the decision and one ready link per copy. */
export interface RelayInput {
  readonly policy: RootHeaderPolicy
  /** undefined: the root headers could not be parsed (the decision relays it unstamped) */
  readonly headers: ReadHeaders | undefined
  readonly decision: Decision
  /** a link with MAIL and RCPT done for each copy's recipients, in order */
  readonly links: ReadonlyArray<DownstreamLink>
  /** told each copy's downstream reply to DATA as it comes (the message trace), whatever the others' */
  readonly onCopyReply?: (copy: number, reply: SmtpReply) => void
}

/**
 * One message's DATA in flight. The caller (DataPhase) reads the headers, decides and opens
 * the links itself, then hands `relay` a ready decision; nothing calls back up.
 */
export interface IncomingMessage {
  /** the root headers once read (undefined: unparsable, relayed unstamped); fails with the cause when the message failed first */
  readonly headers: (policy: RootHeaderPolicy) => Effect.Effect<ReadHeaders | undefined, RelayError>
  /** streams the held message to every copy and settles the upstream's answer (invariants 1 and 2) */
  readonly relay: (input: RelayInput) => Effect.Effect<TransactionResult, RelayError>
  /**
   * Runs the whole DATA phase (headers, decision, links, relay) as this message's: a failure or
   * an interruption anywhere tears every stream down, so no copy reaches its dot (invariant 2),
   * and the upstream's pace stops being watched when it ends.
   */
  readonly guard: <A>(self: Effect.Effect<A, RelayError>) => Effect.Effect<A, RelayError>
}

/**
 * Starts reading one message's DATA (synchronously, so call it inside the Effect that owns the
 * transaction): the upstream flows into HeaderPeek (through LineGuard and the proof when there is one), which
 * holds every byte until `relay` releases them. The per-message hot path, so it forks no fiber
 * of its own: the stream chains (StreamChain) report through callbacks that drive the
 * TransactionMachine (TransactionState.ts: its states, transitions and the invariant each
 * keeps), and only the downstream sends are Effects (run in the caller's fiber for one copy,
 * concurrently for several). No Effect.fn span either (a span per message costs more than the
 * tracing it would give).
 */
export const startMessage = (input: MessageInput): IncomingMessage => {
  const screen = new LineScreen(input.maxBytes)
  let root: PeekedHeaders
  const peek = new HeaderPeek(
    (peeked) => {
      root = peeked
      machine.headersRead()
    },
    input.proof === undefined ? screen : undefined
  )
  // the DATA stream's first stage: HeaderPeek itself, screening as LineGuard does, unless a proof stands between
  const guard: Transform = input.proof === undefined ? peek : new LineGuard(screen)
  const machine = new TransactionMachine(() => peek.release())
  /**
   * What a failure destroys: the first stage (its close drains the upstream: `feed`), each copy's first stage
   * and its last one. The last is destroyed too: a copy whose source had already ended (the
   * upstream's whole message fit in the buffers) would otherwise wait forever for a reader
   * that gave up (its downstream refused DATA).
   */
  machine.tearsDown(guard)
  const teardown = (e: RelayError) => machine.fail(e)
  // the upstream pump is the first chain
  machine.chains.started()
  chain(input.proof === undefined ? [peek] : [guard, input.proof, peek], (err) => {
    if (err) teardown(asRelayError(err))
    machine.upstreamEnded()
  })
  let fed = false
  const feeding = feed(input.upstream, guard).then(() => {
    fed = true
  })
  const unwatch = input.watch?.(input.upstream, () => screen.bytes, teardown)
  const failure = () => Effect.fail(machine.failure.cause ?? new PipelineFailed({ detail: "the message ended before its headers" }))

  const headers = (policy: RootHeaderPolicy): Effect.Effect<ReadHeaders | undefined, RelayError> =>
    Effect.flatMap(machine.awaitHeaders, (seen) => {
      if (!seen) return failure()
      if (root === undefined) return Effect.succeed(undefined)
      try {
        return Effect.succeed({ root, facts: readRootFacts(root, policy) })
      } catch (e) {
        return Effect.fail(asRelayError(e))
      }
    })

  const relay = (input: RelayInput): Effect.Effect<TransactionResult, RelayError> =>
    Effect.suspend(() => {
      const { decision, links } = input
      const peeked = input.headers?.facts
      const stampers: Array<Stamper | undefined> = []
      const facts: RootFacts = {
        summary: peeked?.summary ?? HeaderSummary.make({ subject: "", contentType: "text/plain" }),
        identity: peeked?.identity ?? messageIdentity({}),
        loop: peeked?.loop ?? "none",
        prefix: Buffer.alloc(0)
      }
      const sendCopy = (i: number, output: Readable) =>
        links[i].send(output).pipe(
          Effect.tap((reply) => {
            input.onCopyReply?.(i, reply)
            // A refusal (of the DATA command itself, or early) ends the message now: nothing
            // would read the copy's stream any more, and its backpressure would stall the
            // upstream. The teardown drains the upstream, so its reply follows its dot.
            if (!isPositive(reply)) teardown(new DownstreamRefused({ reply, phase: "data" }))
          }),
          Effect.tapError((e) => Effect.sync(() => teardown(e))),
          Effect.either
        )
      // One copy (most messages) is fed by HeaderPeek itself, with no Fanout: an unstamped one
      // reads HeaderPeek's output as it stands (its header edit done by HeaderPeek as it lets the
      // held bytes go, no copy stage at all), a stamped one is piped from it. Several copies are
      // fed by a Fanout, at the slowest copy's pace.
      const single = decision.copies.length === 1
      const sources: Array<Writable> = []
      const sends = decision.copies.map((copy, i) => {
        const policy = copyPolicy(input.policy, copy)
        const stamper = copy.plan === undefined ? undefined : new Stamper(copy.plan)
        stampers.push(stamper)
        if (single && stamper === undefined) {
          peek.editHead(rawHeadEdit(buildPrefix(policy, facts), dropsStamps(peeked)))
          // the upstream chain ends with HeaderPeek's writable side; its readable side is this copy's
          if (guard !== peek) machine.tearsDown(peek)
          return sendCopy(i, peek)
        }
        const { stages, output } = copyStages(stamper, policy, facts, peeked)
        sources.push(stages[0] as Writable)
        machine.tearsDown(stages[0])
        machine.tearsDown(output)
        machine.chains.started()
        // HeaderPeek's own failures reach this chain after the upstream chain's, which made them the cause
        chain(single ? [peek, ...stages] : stages, (err) => {
          // a stamped copy failing in the middle is invariant 5's case: answer 451, retry unstamped
          if (err) teardown(stamper && !machine.failure.hasCause ? new StampingFailed({ detail: err.message }) : asRelayError(err))
          machine.chains.ended()
        })
        return sendCopy(i, output)
      })
      if (!single) {
        const fanout = new Fanout()
        machine.chains.started()
        chain([peek, fanout], (err) => {
          if (err) teardown(asRelayError(err))
          machine.chains.ended()
        })
        fanout.setTargets(sources)
        // HeaderPeek may be gone already (its close is not seen again): the Fanout's own ends this chain
        if (machine.phase === "failed") fanout.destroy()
      }
      // a failure before this point destroyed HeaderPeek; the streams made since must go too
      if (machine.phase === "failed") for (const s of sources) s.destroy()
      machine.streaming()

      // a chain of callbacks rather than a generator: this runs once per message
      const settle = (sent: ReadonlyArray<Either.Either<SmtpReply, RelayError>>): Effect.Effect<TransactionResult, RelayError> => {
        if (machine.failure.cause !== undefined) return failure()
        const replies = sent.map((r) => Either.getOrThrow(r))
        const refused = replies.find((r) => r.code >= 500) ?? replies.find((r) => !isPositive(r))
        if (refused !== undefined) return Effect.fail(new DownstreamRefused({ reply: refused, phase: "data" }))
        machine.replied()
        return Effect.succeed({
          reply: replies[0],
          facts: peeked === undefined ? undefined : facts,
          bytes: screen.bytes,
          decision,
          outcomes: stampers.map((s) => s?.outcome())
        } satisfies TransactionResult)
      }
      const afterSends = (sent: ReadonlyArray<Either.Either<SmtpReply, RelayError>>) =>
        // every pipeline runs to its end: a send failing first must not hide the chain failure that caused it
        Effect.flatMap(machine.chains.await, () =>
          // a sender too slow to finish is not waited for: the session is closed instead
          // (usually read to its end long before the downstream's reply: then no wait, no hop through a promise)
          !fed && machine.failure.cause?._tag !== "DataTooSlow"
            ? Effect.flatMap(
                Effect.promise(() => feeding),
                () => settle(sent)
              )
            : settle(sent)
        )
      return sends.length === 1
        ? Effect.flatMap(sends[0], (sent) => afterSends([sent]))
        : Effect.flatMap(Effect.all(sends, { concurrency: "unbounded" }), afterSends)
    })

  const guarded = <A>(self: Effect.Effect<A, RelayError>): Effect.Effect<A, RelayError> =>
    // one uninterruptible region for the teardown and the unwatch (instead of tapError, onInterrupt and ensuring)
    Effect.onExit(self, (exit) =>
      Effect.sync(() => {
        if (Exit.isFailure(exit)) {
          // the first failure is the cause (FailureCause): one the machine already has changes nothing
          const failure = Cause.failureOption(exit.cause)
          if (Option.isSome(failure)) teardown(failure.value)
          else if (Cause.isInterruptedOnly(exit.cause)) teardown(new PipelineFailed({ detail: "interrupted" }))
        }
        unwatch?.()
      })
    )

  return { headers, relay, guard: guarded }
}

/** the decision for a message whose root headers could not be parsed */
export const headersUnreadable = (recipients: ReadonlyArray<string>): Decision => ({
  copies: [{ recipients, plan: undefined, ruleIds: [] }],
  unstamped: "headers-unreadable"
})

/**
 * The whole DATA phase in one call, for callers that decide from nothing but the headers and
 * own no downstream session (the admin's dry run, perf/PipelineBench): startMessage, then
 * `decide`, `links` and relay, in that order. The relay's DataPhase uses the steps itself.
 */
export const relayTransaction = (input: TransactionInput): Effect.Effect<TransactionResult, RelayError> =>
  Effect.suspend(() => {
    const message = startMessage(input)
    // combinators, not Effect.gen: a generator function made per message costs V8 a prototype and an
    // initial map in the old generation, whose constructor (this closure) reaches the message until a
    // full GC (perf/issue-16.md, the ninth session)
    return message.guard(
      Effect.flatMap(message.headers(input.policy), (headers) =>
        Effect.flatMap(headers === undefined ? Effect.succeed(headersUnreadable(input.recipients)) : input.decide(headers.root, headers.facts), (decision) =>
          Effect.flatMap(input.links(decision.copies), (links) =>
            message.relay({ policy: input.policy, headers, decision, links, onCopyReply: input.onCopyReply })
          )
        )
      )
    )
  })

/** the root header policy of one copy: the message's, with the copy's rule line */
const copyPolicy = (policy: RootHeaderPolicy, copy: Copy): RootHeaderPolicy =>
  copy.ruleIds.length > 0
    ? // Object.assign, not `{ ...policy, extraLines }`: V8 (Node 20) gives a spread followed by a key the
      // source may lack a new hidden class on every call (perf/issue-16.md, the ninth session)
      Object.assign({}, policy, { extraLines: [...(policy.extraLines ?? []), `X-Imprint-Rule: ${copy.ruleIds.join(", ")}`] })
    : policy

/** an unstamped copy drops the root's loop stamp fields when they are forged or stale */
const dropsStamps = (peeked: ReturnType<typeof readRootFacts> | undefined): boolean => peeked !== undefined && peeked.loop !== "valid" && peeked.stamps > 0

/**
 * One copy's stages, from the bytes HeaderPeek (one copy) or the Fanout (several) writes to the
 * bytes its downstream link reads (`output`); one unstamped copy needs none (see `relay`). The
 * PassThrough in front stays: without it (the Fanout writing straight into the first stage) the
 * pipeline alone measured 0.95x, but the relay's CPU per stamped message 1.10x (perf:cpu,
 * 7 batch pairs, same turns) — the extra buffer spares pause/drain rounds.
 */
const copyStages = (
  stamper: Stamper | undefined,
  policy: RootHeaderPolicy,
  facts: RootFacts,
  peeked: ReturnType<typeof readRootFacts> | undefined
): { readonly stages: ReadonlyArray<ChainStage>; readonly output: Readable } => {
  if (stamper === undefined) {
    // unstamped copies never meet a MIME parser: bytes in, bytes out
    const output = new RawHeaderEdit(buildPrefix(policy, facts), dropsStamps(peeked))
    return { stages: [new PassThrough(), output], output }
  }
  // one synchronous stage: scanner, root edit, Stamper, join and prefix (StampedCopy.ts)
  const output = new StampedCopy(stamper, policy, peeked, { maxHeadSize: MAX_PART_HEADER_BYTES, maxChildNodes: MAX_SPLIT_NODES })
  const stages = [new PassThrough(), output]
  return { stages, output }
}

/**
 * smtp-server's DATA stream must be read to its end for smtp-server to send a
 * reply, whatever happened to the message. So it is piped into the guard while
 * things go well, and drained (unpiped, resumed) once the guard is gone; if the
 * client disconnects, smtp-server closes it without 'end' and the guard is
 * destroyed, which aborts every downstream copy.
 */
const feed = (upstream: Readable, guard: Transform): Promise<void> => {
  upstream.pipe(guard)
  guard.once("close", () => {
    if (!upstream.readableEnded) {
      upstream.unpipe(guard)
      upstream.resume()
    }
  })
  return finished(upstream).then(
    () => undefined,
    (e: unknown) => {
      guard.destroy(new UpstreamGone({ detail: e instanceof Error ? e.message : String(e) }))
    }
  )
}
