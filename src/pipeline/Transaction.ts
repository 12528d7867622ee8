import { Effect, Either } from "effect"
import { Joiner, Splitter } from "mailsplit"
import type { Readable, Transform, Writable } from "node:stream"
import { finished } from "node:stream/promises"
import { Fanout } from "./Fanout.js"
import { HEADER_PEEK_LIMIT, HeaderPeek, type PeekedHeaders } from "./HeaderPeek.js"
import { HeaderPrefix } from "./HeaderPrefix.js"
import { LineGuard } from "./LineGuard.js"
import { SplitterGuard } from "./mime/SplitterGuard.js"
import { chain, type ChainStage } from "./StreamChain.js"
import { Stamper } from "./mime/Stamper.js"
import type { StampOutcome, StampPlan } from "./mime/StampPlan.js"
import type { DownstreamLink } from "./Relay.js"
import { DownstreamRefused, PipelineFailed, type RelayError, StampingFailed, UpstreamGone } from "./RelayError.js"
import { HeaderSummary } from "../domain/Signature.js"
import { messageIdentity } from "./LoopStamp.js"
import { RawHeaderEdit } from "./RawHeaderEdit.js"
import { buildPrefix, readRootFacts, type RootFacts, type RootHeaderPolicy, RootHeaders } from "./RootHeaders.js"
import type { SmtpReply } from "./smtp/SmtpReply.js"

/**
 * One message's DATA, from the upstream's bytes to every downstream copy:
 *
 *   upstream → LineGuard → HeaderPeek ─(decide from the headers)─▶ Fanout
 *     → stamped copy:   Splitter → RootHeaders → Stamper → Joiner → HeaderPrefix → link DATA
 *     → unstamped copy: RawHeaderEdit → link DATA
 *
 * The decision is taken before any body byte moves. Each recipient group gets
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

export interface TransactionInput {
  readonly upstream: Readable
  readonly maxBytes: number
  readonly policy: RootHeaderPolicy
  readonly recipients: ReadonlyArray<string>
  /** the decision, from the parsed root headers; never fails (mail flow beats signatures) */
  readonly decide: (root: NonNullable<PeekedHeaders>, facts: ReturnType<typeof readRootFacts>) => Effect.Effect<Decision>
  /** a link with MAIL and RCPT done for each copy's recipients, in order; the first may be the session's own */
  readonly links: (copies: ReadonlyArray<Copy>) => Effect.Effect<ReadonlyArray<DownstreamLink>, RelayError>
  /**
   * A stage between LineGuard and HeaderPeek that may refuse the message: its
   * error (a RelayError) is the cause, and it ends its output only once satisfied,
   * so a refusal comes before any copy's terminating dot (smtp/Microsoft365Proof).
   */
  readonly proof?: Transform
  /** watches the upstream's pace (DataDeadline): calls `abort` when it is too slow; returns the unwatch function */
  readonly watch?: (upstream: Readable, bytes: () => number, abort: (e: RelayError) => void) => () => void
  /** told each copy's downstream reply to DATA as it comes (the message trace), whatever the others' */
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
  typeof e === "object" && e !== null && "_tag" in e
    ? (e as RelayError)
    : new PipelineFailed({ detail: e instanceof Error ? e.message : String(e) })

/**
 * The per-message hot path, so it forks no fiber of its own: the stream
 * chains (StreamChain) report through callbacks that open latches, and only the
 * downstream sends are Effects (run in this fiber for one copy, concurrently
 * for several). No Effect.fn span either (a span per message costs more than
 * the tracing it would give).
 */
export const relayTransaction = (input: TransactionInput): Effect.Effect<TransactionResult, RelayError> =>
  Effect.suspend(() => {
    const guard = new LineGuard(input.maxBytes)
    const fanout = new Fanout()
    let headersSeen = false
    let root: PeekedHeaders
    /** opens when the root headers were read, or when the message failed before that */
    const headersKnown = Effect.unsafeMakeLatch()
    let openGate!: () => void
    const gate = new Promise<void>((resolve) => (openGate = resolve))
    const peek = new HeaderPeek((peeked) => {
      root = peeked
      headersSeen = true
      headersKnown.unsafeOpen()
      return gate
    })
    /**
     * The first failure is the cause; what it tears down fails after it. A
     * downstream client reporting that its source broke (DataSourceError) is
     * only ever an echo of a failure upstream of it, so it is not the cause.
     */
    let cause: RelayError | undefined
    let echo: RelayError | undefined
    const sources: Array<Writable> = []
    /**
     * The last stage of each copy's chain. Destroyed too: a copy whose source had
     * already ended (the upstream's whole message fit in the buffers) would otherwise
     * wait forever for a reader that gave up (its downstream refused DATA).
     */
    const outputs: Array<Readable> = []
    const teardown = (e: RelayError) => {
      if (e._tag === "DataSourceError") echo ??= e
      else cause ??= e
      guard.destroy()
      for (const source of sources) source.destroy()
      for (const output of outputs) output.destroy()
      headersKnown.unsafeOpen()
    }
    /** stream chains not yet finished (the pump, then one per copy); `finished` opens at zero */
    let running = 1
    const finished = Effect.unsafeMakeLatch()
    const pipelineEnded = () => {
      if (--running === 0) finished.unsafeOpen()
    }
    chain(input.proof === undefined ? [guard, peek, fanout] : [guard, input.proof, peek, fanout], (err) => {
      if (err) teardown(asRelayError(err))
      headersKnown.unsafeOpen()
      pipelineEnded()
    })
    const feeding = feed(input.upstream, guard)
    const unwatch = input.watch?.(input.upstream, () => guard.bytes, teardown)
    const failure = () => Effect.fail(cause ?? echo ?? new PipelineFailed({ detail: "the message ended before its headers" }))

    return Effect.gen(function* () {
      yield* headersKnown.await
      if (!headersSeen) return yield* failure()
      const peeked = root === undefined ? undefined : yield* Effect.try({ try: () => readRootFacts(root!, input.policy), catch: asRelayError })
      const decision: Decision =
        root === undefined || peeked === undefined
          ? { copies: [{ recipients: input.recipients, plan: undefined, ruleIds: [] }], unstamped: "headers-unreadable" }
          : yield* input.decide(root, peeked)
      const links = yield* input.links(decision.copies).pipe(Effect.tapError((e) => Effect.sync(() => teardown(e))))

      const stampers: Array<Stamper | undefined> = []
      const facts: RootFacts = {
        summary: peeked?.summary ?? HeaderSummary.make({ subject: "", contentType: "text/plain" }),
        identity: peeked?.identity ?? messageIdentity({}),
        loop: peeked?.loop ?? "none",
        prefix: Buffer.alloc(0)
      }
      const sends = decision.copies.map((copy, i) => {
        const ruleLine = copy.ruleIds.length > 0 ? [`X-Imprint-Rule: ${copy.ruleIds.join(", ")}`] : []
        const policy = { ...input.policy, extraLines: [...(input.policy.extraLines ?? []), ...ruleLine] }
        const stamper = copy.plan === undefined ? undefined : new Stamper(copy.plan)
        stampers.push(stamper)
        let output: Readable
        let stages: ReadonlyArray<ChainStage>
        // the Fanout writes straight into each copy's first stage (no PassThrough in front: a stream hop per chunk)
        if (stamper === undefined) {
          // unstamped copies never meet a MIME parser: bytes in, bytes out
          output = new RawHeaderEdit(buildPrefix(policy, facts), peeked !== undefined && peeked.loop !== "valid" && peeked.stamps > 0)
          stages = [output]
        } else {
          const headersStage = new RootHeaders(policy, peeked)
          output = new HeaderPrefix(() => headersStage.rootFacts?.prefix)
          // SplitterGuard: mailsplit 5.4 loses bytes when a chunk ends on the CR of a CRLF (see its module)
          stages = [new SplitterGuard(), new Splitter({ maxHeadSize: MAX_PART_HEADER_BYTES, maxChildNodes: MAX_SPLIT_NODES }), headersStage, stamper, new Joiner(), output]
        }
        sources.push(stages[0] as Writable)
        outputs.push(output)
        running++
        chain(stages, (err) => {
          // a stamped copy failing in the middle is invariant 5's case: answer 451, retry unstamped
          if (err) teardown(stamper && cause === undefined ? new StampingFailed({ detail: err.message }) : asRelayError(err))
          pipelineEnded()
        })
        return links[i].send(output).pipe(
          Effect.tap((reply) => Effect.sync(() => input.onCopyReply?.(i, reply))),
          // A refusal (of the DATA command itself, or early) ends the message now: nothing
          // would read the copy's stream any more, and its backpressure would stall the
          // upstream. The teardown drains the upstream, so its reply follows its dot.
          Effect.tap((reply) => (isPositive(reply) ? Effect.void : Effect.sync(() => teardown(new DownstreamRefused({ reply, phase: "data" }))))),
          Effect.tapError((e) => Effect.sync(() => teardown(e))),
          Effect.either
        )
      })
      fanout.setTargets(sources)
      openGate()

      const sent = sends.length === 1 ? [yield* sends[0]] : yield* Effect.all(sends, { concurrency: "unbounded" })
      // every pipeline runs to its end: a send failing first must not hide the chain failure that caused it
      yield* finished.await
      // a sender too slow to finish is not waited for: the session is closed instead
      if (cause?._tag !== "DataTooSlow") yield* Effect.promise(() => feeding)
      if (cause !== undefined || echo !== undefined) return yield* failure()
      const replies = sent.map((r) => Either.getOrThrow(r))
      const refused = replies.find((r) => r.code >= 500) ?? replies.find((r) => !isPositive(r))
      if (refused !== undefined) return yield* new DownstreamRefused({ reply: refused, phase: "data" })
      return {
        reply: replies[0],
        facts: peeked === undefined ? undefined : facts,
        bytes: guard.bytes,
        decision,
        outcomes: stampers.map((s) => s?.outcome())
      } satisfies TransactionResult
    }).pipe(
      Effect.onInterrupt(() => Effect.sync(() => teardown(new PipelineFailed({ detail: "interrupted" })))),
      Effect.ensuring(Effect.sync(() => unwatch?.()))
    )
  })

/**
 * smtp-server's DATA stream must be read to its end for smtp-server to send a
 * reply, whatever happened to the message. So it is piped into the guard while
 * things go well, and drained (unpiped, resumed) once the guard is gone; if the
 * client disconnects, smtp-server closes it without 'end' and the guard is
 * destroyed, which aborts every downstream copy.
 */
const feed = (upstream: Readable, guard: LineGuard): Promise<void> => {
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
