import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, FiberId, FiberSet, Scope } from "effect"
import { CommandFiber } from "../../../src/pipeline/inbound/CommandFiber.js"

/** The session's command fiber (Inbound's MAIL, RCPT, DATA): each command settles as its own fiber's exit would. */
describe("CommandFiber", () => {
  /** submits and waits for the settle */
  const submitted = <A, E>(commands: CommandFiber, effect: Effect.Effect<A, E>) =>
    Effect.async<Exit.Exit<A, E>>((resume) => commands.submit(effect, (exit) => resume(Effect.succeed(exit))))

  it.scoped("runs a session's commands one after another in one fiber; a failure settles its command and the next still runs", () =>
    Effect.gen(function* () {
      const run = yield* FiberSet.makeRuntime<never>()
      const commands = new CommandFiber(run)
      const first = yield* submitted(commands, Effect.map(Effect.fiberId, FiberId.threadName))
      const failed = yield* submitted(commands, Effect.fail("refused"))
      const third = yield* submitted(commands, Effect.map(Effect.fiberId, FiberId.threadName))
      expect(Exit.isSuccess(first)).toBe(true)
      expect(failed).toEqual(Exit.fail("refused"))
      expect(third).toEqual(first)
    })
  )

  it.scoped("runs a command handed over from a settle callback (smtp-server reading the next one) after it, in order", () =>
    Effect.gen(function* () {
      const run = yield* FiberSet.makeRuntime<never>()
      const commands = new CommandFiber(run)
      const order: Array<string> = []
      const all = yield* Deferred.make<void>()
      commands.submit(
        Effect.sync(() => order.push("MAIL")),
        () => {
          order.push("MAIL settled")
          commands.submit(
            Effect.sync(() => order.push("RCPT")),
            () => {
              order.push("RCPT settled")
              Deferred.unsafeDone(all, Exit.void)
            }
          )
          order.push("RCPT handed over")
        }
      )
      yield* Deferred.await(all)
      expect(order).toEqual(["MAIL", "MAIL settled", "RCPT handed over", "RCPT", "RCPT settled"])
    })
  )

  it.effect("settles the command in flight with an interruption when the runtime's scope closes (shutdown)", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const run = yield* FiberSet.makeRuntime<never>().pipe(Scope.extend(scope))
      const commands = new CommandFiber(run)
      const started = yield* Deferred.make<void>()
      const settled = yield* Deferred.make<Exit.Exit<unknown, unknown>>()
      commands.submit(Effect.zipRight(Deferred.succeed(started, undefined), Effect.never), (exit) => Deferred.unsafeDone(settled, Exit.succeed(exit)))
      yield* Deferred.await(started)
      yield* Scope.close(scope, Exit.void)
      const exit = yield* Deferred.await(settled)
      expect(Exit.isInterrupted(exit)).toBe(true)
    })
  )

  it.effect("settles a command handed over after the runtime's scope closed with an interruption (no command is left unanswered)", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const run = yield* FiberSet.makeRuntime<never>().pipe(Scope.extend(scope))
      yield* Scope.close(scope, Exit.void)
      const exit = yield* submitted(new CommandFiber(run), Effect.succeed("never runs"))
      expect(Exit.isInterrupted(exit)).toBe(true)
    })
  )

  it.scoped("ends its fiber when the session closes: at once when idle, after the command in flight otherwise", () =>
    Effect.gen(function* () {
      const fibers: Array<Fiber.RuntimeFiber<unknown, unknown>> = []
      const base = yield* FiberSet.makeRuntime<never>()
      const run = (effect: Effect.Effect<unknown, unknown>) => {
        const fiber = base(effect)
        fibers.push(fiber)
        return fiber
      }
      const idle = new CommandFiber(run)
      yield* submitted(idle, Effect.void)
      idle.close()
      expect(Exit.isSuccess(yield* Fiber.await(fibers[0]))).toBe(true)

      const busy = new CommandFiber(run)
      const go = yield* Deferred.make<void>()
      const settled = yield* Deferred.make<Exit.Exit<unknown, unknown>>()
      busy.submit(Effect.as(Deferred.await(go), "DATA answered"), (exit) => Deferred.unsafeDone(settled, Exit.succeed(exit)))
      busy.close()
      yield* Deferred.succeed(go, undefined)
      expect(yield* Deferred.await(settled)).toEqual(Exit.succeed("DATA answered"))
      expect(Exit.isSuccess(yield* Fiber.await(fibers[1]))).toBe(true)
      expect(fibers.length).toBe(2)
    })
  )
})
