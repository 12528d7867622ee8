import { Deferred, Effect, FiberId } from "effect"
import type { RelayError } from "./RelayError.js"

/**
 * The states of one message's DATA (Transaction.ts), in the order they are met:
 *
 *   reading-headers ──headersRead──▶ deciding ──streaming──▶ streaming ──settled──▶ replied
 *          └──────────────┴───────────────────┴──fail──▶ failed
 *
 * - reading-headers: HeaderPeek (with LineGuard's checks) reads the upstream and holds every byte.
 * - deciding: the root headers are known; the decision and the downstream links are being made.
 *   No body byte has moved yet.
 * - streaming: every copy's chain is built (one copy is fed by HeaderPeek itself, several by a
 *   Fanout) and HeaderPeek is released; bytes flow to the copies.
 * - replied: every chain finished and every copy's downstream answered DATA; the upstream hears
 *   the answer (250 only if every copy got 250: invariant 1).
 * - failed: the first failure (the cause) tore every stream down; the upstream hears the cause.
 *
 * Each transition is a method of TransactionMachine; the invariant it keeps is stated on it.
 * The stream callbacks call them synchronously; the Effect side awaits the headers through
 * `Effect.async` and the chains' end through a Deferred (no raw Promise gate), each set up only
 * when the Effect side waits before its event. The headers are nearly always awaited before they
 * arrive, once per message: a Deferred there cost more than the rest of the machine (Effect 3.22
 * makes each by spreading its commit prototype into a new object, several µs), a resume callback
 * kept until the event does the same job.
 */
export type TransactionPhase = "reading-headers" | "deciding" | "streaming" | "replied" | "failed"

/**
 * Which failure is the cause. The first failure is the cause; whatever it tears down fails
 * after it and is not. A downstream client reporting that its source broke (DataSourceError)
 * is only ever an echo of a failure upstream of it: it is the cause only when nothing else
 * failed. Specs: spec/pipeline/TransactionState.test.ts ("the cause"), and the e2e specs that
 * check the reply of each failure (spec/e2e/RelayFailures.test.ts).
 */
export class FailureCause {
  private first: RelayError | undefined
  private echo: RelayError | undefined

  record(e: RelayError): void {
    if (e._tag === "DataSourceError") this.echo ??= e
    else this.first ??= e
  }

  /** the cause, once anything failed */
  get cause(): RelayError | undefined {
    return this.first ?? this.echo
  }

  /** a failure other than an echo was recorded */
  get hasCause(): boolean {
    return this.first !== undefined
  }
}

/**
 * The all-copies-finished latch: counts the stream chains still running (the upstream pump,
 * then one per copy) and completes its Deferred when the last one ends. Completed once; a chain
 * ending after that (never, by construction) changes nothing.
 */
export class PendingChains {
  private running = 0
  private done = false
  /** made only when someone waits before the last chain ended (most messages finish first) */
  private deferred: Deferred.Deferred<void> | undefined

  /** completed when the last chain ended */
  get finished(): Deferred.Deferred<void> {
    if (this.deferred === undefined) {
      this.deferred = Deferred.unsafeMake<void>(FiberId.none)
      if (this.done) Deferred.unsafeDone(this.deferred, Effect.void)
    }
    return this.deferred
  }

  started(): void {
    this.running++
  }

  ended(): void {
    if (--this.running === 0 && !this.done) {
      this.done = true
      if (this.deferred !== undefined) Deferred.unsafeDone(this.deferred, Effect.void)
    }
  }

  get pending(): number {
    return this.running
  }

  readonly await: Effect.Effect<void> = Effect.suspend(() => (this.done ? Effect.void : Deferred.await(this.finished)))
}

/** What a failure tears down: destroyed in this order, each at most once per failure. */
export interface Teardown {
  readonly destroy: () => void
}

export class TransactionMachine {
  private phase_: TransactionPhase = "reading-headers"
  readonly failure = new FailureCause()
  readonly chains = new PendingChains()
  /** true once the root headers were read, the message failed, or the upstream chain ended */
  private headersKnown = false
  /** the Effect side's waits for it (nearly always one), resumed then */
  private headersWaiters: Array<(headersSeen: Effect.Effect<boolean>) => void> | undefined
  private headersSeen = false
  private readonly torn: Array<Teardown> = []

  constructor(
    /** lets the held bytes go (HeaderPeek.release) */
    private readonly releaseBody: () => void
  ) {}

  get phase(): TransactionPhase {
    return this.phase_
  }

  /** waits until the headers are known or cannot be; true when they were read */
  readonly awaitHeaders: Effect.Effect<boolean> = Effect.suspend(() => {
    if (this.headersKnown) return Effect.succeed(this.headersSeen)
    return Effect.async<boolean>((resume) => {
      const waiters = (this.headersWaiters ??= [])
      waiters.push(resume)
      // an interrupted wait is forgotten
      return Effect.sync(() => {
        const i = waiters.indexOf(resume)
        if (i >= 0) waiters.splice(i, 1)
      })
    })
  })

  /** whether the headers were read, as the waiter finds it when it resumes */
  private readonly readSeen: Effect.Effect<boolean> = Effect.sync(() => this.headersSeen)

  private knowHeaders(): void {
    if (this.headersKnown) return
    this.headersKnown = true
    const waiters = this.headersWaiters
    if (waiters === undefined) return
    this.headersWaiters = undefined
    for (const resume of waiters) resume(this.readSeen)
  }

  /** streams a failure must destroy (the DATA stream's first stage, each copy's first and last stage) */
  tearsDown(stream: Teardown): void {
    this.torn.push(stream)
  }

  /**
   * reading-headers → deciding. The decision is taken from the headers before any body byte
   * moves: HeaderPeek keeps holding them until `streaming`.
   */
  headersRead(): void {
    this.headersSeen = true
    if (this.phase_ === "reading-headers") this.phase_ = "deciding"
    this.knowHeaders()
  }

  /** the upstream chain (up to HeaderPeek's writable side) ended: nobody waits for headers any more */
  upstreamEnded(): void {
    this.knowHeaders()
    this.chains.ended()
  }

  /**
   * deciding → streaming: every copy's chain exists and is fed by the Fanout; only now are the
   * held bytes released, so no copy misses the start of the message.
   */
  streaming(): void {
    if (this.phase_ !== "deciding") return
    this.phase_ = "streaming"
    this.releaseBody()
  }

  /**
   * any → failed. Invariant 2 (nothing partial is delivered): every stream of the message is
   * destroyed, so no copy's source ends and no downstream client writes the terminating dot
   * (DataTransfer drops its connection instead). A stamped copy failing mid-stream is recorded
   * by the caller as StampingFailed: invariant 5's 451, whose retry passes unstamped (the
   * fail-safe memory). Specs: spec/e2e/RelayFailures.test.ts ("aborts the downstream transaction
   * when the upstream disconnects mid-DATA"), spec/e2e/Stamping.test.ts ("answers 451 when
   * stamping breaks mid-stream, then relays the retry unstamped").
   */
  fail(e: RelayError): void {
    this.failure.record(e)
    if (this.phase_ !== "replied") this.phase_ = "failed"
    for (const stream of this.torn) stream.destroy()
    this.knowHeaders()
  }

  /**
   * streaming → replied. Invariant 1 (nothing is lost): called only after every chain finished
   * and every copy's downstream answered; the caller answers 250 only if each of them said 250.
   * Specs: spec/e2e/DataCommandRefused.test.ts ("passes the refusal upstream for a stamped
   * message split into two copies"), spec/e2e/Stamping.test.ts ("per-recipient copies when the
   * downstream refuses").
   */
  replied(): void {
    if (this.phase_ === "streaming") this.phase_ = "replied"
  }
}
