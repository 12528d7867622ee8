import { type Clock, Deferred, Duration, Effect, Exit } from "effect"

/**
 * Deadlines for replies a caller waits on (a tenant actor's Deferreds), kept
 * by one sweeper fiber instead of a timeout race per request: a race forks two
 * fibers, and a resolve request goes out for every message. The sweeper parks
 * while nothing is tracked and otherwise wakes every SWEEP_TICK, so a deadline
 * is enforced between its time and one tick later. It sleeps through the
 * Clock, so TestClock drives it in specs.
 */

export const SWEEP_TICK_MS = 1_000

export class ReplyDeadlines<E> {
  private readonly tracked = new Map<Deferred.Deferred<unknown, E>, number>()
  private readonly wake = Effect.unsafeMakeLatch(false)

  constructor(
    private readonly clock: Clock.Clock,
    /** what an overdue reply fails with */
    private readonly overdue: () => E
  ) {}

  /** The reply fails with `overdue()` if it is still open `within` from now. */
  track(reply: Deferred.Deferred<unknown, E>, within: Duration.DurationInput): void {
    this.tracked.set(reply, this.clock.unsafeCurrentTimeMillis() + Duration.toMillis(within))
    if (this.tracked.size === 1) this.wake.unsafeOpen()
  }

  untrack(reply: Deferred.Deferred<unknown, E>): void {
    this.tracked.delete(reply)
  }

  /** Run it forked in the owner's scope. */
  readonly sweeper: Effect.Effect<never> = Effect.gen(this, function* () {
    while (true) {
      if (this.tracked.size === 0) {
        this.wake.unsafeClose()
        // a track() between the size check and here opened the latch already: nothing is missed
        if (this.tracked.size === 0) yield* this.wake.await
        continue
      }
      yield* this.clock.sleep(Duration.millis(SWEEP_TICK_MS))
      const now = this.clock.unsafeCurrentTimeMillis()
      for (const [reply, deadline] of this.tracked) {
        if (deadline > now) continue
        this.tracked.delete(reply)
        Deferred.unsafeDone(reply, Exit.fail(this.overdue()))
      }
    }
  })
}
