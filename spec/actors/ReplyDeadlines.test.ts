import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, FiberId, Option, TestClock } from "effect"
import { ReplyDeadlines, SWEEP_TICK_MS } from "../../src/actors/ReplyDeadlines.js"

const open = () => Deferred.unsafeMake<unknown, string>(FiberId.none)

describe("ReplyDeadlines", () => {
  it.scoped("fails a reply still open after its deadline, within one tick, and leaves answered and untracked ones alone", () =>
    Effect.gen(function* () {
      const deadlines = new ReplyDeadlines<string>(yield* Effect.clock, () => "overdue")
      yield* Effect.forkScoped(deadlines.sweeper)
      const late = open()
      const answered = open()
      const untracked = open()
      const later = open()
      deadlines.track(late, "5 seconds")
      deadlines.track(answered, "5 seconds")
      deadlines.track(later, "20 seconds")
      deadlines.track(untracked, "5 seconds")
      deadlines.untrack(untracked)
      yield* Deferred.succeed(answered, "ok")
      deadlines.untrack(answered)

      yield* TestClock.adjust("4 seconds")
      expect(yield* Deferred.poll(late)).toEqual(Option.none())
      yield* TestClock.adjust(`${5_000 + SWEEP_TICK_MS - 4_000} millis`)
      const failed = yield* Deferred.poll(late)
      expect(Option.isSome(failed) && Exit.isFailure(yield* Effect.exit(failed.value))).toBe(true)
      expect(yield* Effect.flip(Deferred.await(late))).toBe("overdue")
      expect(yield* Deferred.await(answered)).toBe("ok")
      expect(yield* Deferred.poll(untracked)).toEqual(Option.none())
      expect(yield* Deferred.poll(later)).toEqual(Option.none())
    })
  )

  it.scoped("parks while nothing is tracked and wakes for a reply tracked later", () =>
    Effect.gen(function* () {
      const deadlines = new ReplyDeadlines<string>(yield* Effect.clock, () => "overdue")
      yield* Effect.forkScoped(deadlines.sweeper)
      yield* TestClock.adjust("1 minute")
      const reply = open()
      deadlines.track(reply, "2 seconds")
      yield* TestClock.adjust(`${2_000 + SWEEP_TICK_MS} millis`)
      expect(yield* Effect.flip(Deferred.await(reply))).toBe("overdue")
    })
  )
})
