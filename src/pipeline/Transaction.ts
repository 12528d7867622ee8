import { Effect, Either, Fiber } from "effect"
import { Joiner, Splitter } from "mailsplit"
import { PassThrough, type Readable } from "node:stream"
import { finished, pipeline } from "node:stream/promises"
import { Fanout } from "./Fanout.js"
import { HEADER_PEEK_LIMIT, HeaderPeek, type PeekedHeaders } from "./HeaderPeek.js"
import { HeaderPrefix } from "./HeaderPrefix.js"
import { LineGuard } from "./LineGuard.js"
import { SplitterGuard } from "./mime/SplitterGuard.js"
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

const isPositive = (r: SmtpReply) => r.code >= 200 && r.code < 300

const asRelayError = (e: unknown): RelayError =>
  typeof e === "object" && e !== null && "_tag" in e
    ? (e as RelayError)
    : new PipelineFailed({ detail: e instanceof Error ? e.message : String(e) })

export const relayTransaction = Effect.fn("Transaction.relay")(function* (input: TransactionInput) {
  const guard = new LineGuard(input.maxBytes)
  const fanout = new Fanout()
  let seenHeaders!: (root: PeekedHeaders) => void
  const headers = new Promise<PeekedHeaders>((resolve) => (seenHeaders = resolve))
  let openGate!: () => void
  const gate = new Promise<void>((resolve) => (openGate = resolve))
  const peek = new HeaderPeek((root) => {
    seenHeaders(root)
    return gate
  })
  /**
   * The first failure is the cause; what it tears down fails after it. A
   * downstream client reporting that its source broke (DataSourceError) is
   * only ever an echo of a failure upstream of it, so it is not the cause.
   */
  let cause: RelayError | undefined
  let echo: RelayError | undefined
  const copies: Array<{ source: PassThrough }> = []
  const teardown = (e: RelayError) => {
    if (e._tag === "DataSourceError") echo ??= e
    else cause ??= e
    guard.destroy()
    for (const c of copies) c.source.destroy()
  }

  const feeding = feed(input.upstream, guard)
  const pump = yield* Effect.tryPromise({ try: () => pipeline(guard, peek, fanout), catch: asRelayError }).pipe(
    Effect.tapError((e) => Effect.sync(() => teardown(e))),
    Effect.fork
  )
  const root = yield* Effect.raceFirst(
    Effect.promise(() => headers),
    Fiber.join(pump).pipe(Effect.zipRight(Effect.never))
  ).pipe(Effect.tapError((e) => Effect.sync(() => teardown(e))))

  const peeked = root === undefined ? undefined : yield* Effect.try({ try: () => readRootFacts(root, input.policy), catch: asRelayError })
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
  const runs = decision.copies.map((copy, i) => {
    const source = new PassThrough()
    copies.push({ source })
    const ruleLine = copy.ruleIds.length > 0 ? [`X-Imprint-Rule: ${copy.ruleIds.join(", ")}`] : []
    const policy = { ...input.policy, extraLines: [...(input.policy.extraLines ?? []), ...ruleLine] }
    const stamper = copy.plan === undefined ? undefined : new Stamper(copy.plan)
    stampers.push(stamper)
    let output: Readable
    let stages: ReadonlyArray<NodeJS.ReadableStream | NodeJS.WritableStream>
    if (stamper === undefined) {
      // unstamped copies never meet a MIME parser: bytes in, bytes out
      output = new RawHeaderEdit(buildPrefix(policy, facts), peeked !== undefined && peeked.loop !== "valid" && peeked.stamps > 0)
      stages = [source, output]
    } else {
      const headersStage = new RootHeaders(policy, peeked)
      output = new HeaderPrefix(() => headersStage.rootFacts?.prefix)
      // SplitterGuard: mailsplit 5.4 loses bytes when a chunk ends on the CR of a CRLF (see its module)
      stages = [source, new SplitterGuard(), new Splitter({ maxHeadSize: MAX_PART_HEADER_BYTES }), headersStage, stamper, new Joiner(), output]
    }
    const chain = Effect.tryPromise({
      try: () => pipeline(stages as unknown as [Readable, ...Array<NodeJS.ReadWriteStream>]),
      // a stamped copy failing in the middle is invariant 5's case: answer 451, retry unstamped
      catch: (e): RelayError =>
        stamper && cause === undefined ? new StampingFailed({ detail: e instanceof Error ? e.message : String(e) }) : asRelayError(e)
    }).pipe(Effect.tapError((e) => Effect.sync(() => teardown(e))))
    const send = links[i].send(output).pipe(Effect.tapError((e) => Effect.sync(() => teardown(e))))
    // both run to their end: a send failing first must not interrupt the chain whose failure caused it
    return Effect.all([Effect.either(chain), Effect.either(send)], { concurrency: 2 }).pipe(
      Effect.flatMap(([chained, sent]) => (Either.isLeft(chained) ? Effect.fail(chained.left) : sent))
    )
  })
  fanout.setTargets(copies.map((c) => c.source))
  openGate()

  const [pumped, ...sent] = yield* Effect.all([Fiber.join(pump), ...runs].map((e) => Effect.either(e as Effect.Effect<unknown, RelayError>)), {
    concurrency: "unbounded"
  })
  yield* Effect.promise(() => feeding)
  if (cause !== undefined) return yield* Effect.fail(cause)
  if (echo !== undefined) return yield* Effect.fail(echo)
  if (Either.isLeft(pumped)) return yield* Effect.fail(pumped.left)
  const replies = sent.map((r) => Either.getOrThrow(r) as SmtpReply)
  const refused = replies.find((r) => r.code >= 500) ?? replies.find((r) => !isPositive(r))
  if (refused !== undefined) return yield* new DownstreamRefused({ reply: refused, phase: "data" })
  return {
    reply: replies[0],
    facts: peeked === undefined ? undefined : facts,
    bytes: guard.bytes,
    decision,
    outcomes: stampers.map((s) => s?.outcome())
  } satisfies TransactionResult
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
