import { Effect, Exit, type Fiber } from "effect"

/**
 * One fiber per upstream session for its transaction commands (MAIL, RCPT,
 * DATA), instead of a fiber per command: starting a fiber copies the
 * runtime's FiberRefs and registers it with the FiberSet and an observer,
 * three times per message; resuming a waiting fiber is one async step.
 *
 * smtp-server hands a session's commands over one at a time (it reads the
 * next only after the callback of the one before answered), so at most one
 * runs and at most one waits: the one a callback's answer let smtp-server
 * read while the fiber was still settling the previous one. Each command
 * runs as it would in a fiber of its own (its exit settles its callback);
 * a command's failure does not end the fiber, an interruption (the runtime's
 * scope closing at shutdown) does, and settles the command in flight with
 * that interruption, as the command's own fiber would have.
 */

type Settle = (exit: Exit.Exit<unknown, unknown>) => void

interface Command {
  readonly effect: Effect.Effect<unknown, unknown>
  readonly settle: Settle
}

/** how the session's runtime forks: Inbound's FiberSet runtime */
export type RunFork = (effect: Effect.Effect<unknown, unknown>) => Fiber.RuntimeFiber<unknown, unknown>

export class CommandFiber {
  private running = false
  private closed = false
  /** the command the fiber runs now */
  private current: Command | undefined
  /** commands handed over while the fiber was still settling the one before (one, as smtp-server serializes) */
  private readonly queued: Array<Command> = []
  /** resumes the fiber while it waits for a command */
  private waiting: ((next: Effect.Effect<unknown, unknown>) => void) | undefined

  constructor(private readonly run: RunFork) {}

  /** Runs `effect` in the session's fiber (after the command in flight, if any); `settle` gets its exit. */
  submit<A, E>(effect: Effect.Effect<A, E>, settle: (exit: Exit.Exit<A, E>) => void): void {
    const command: Command = { effect, settle: settle as Settle }
    const waiting = this.waiting
    if (waiting !== undefined) {
      this.waiting = undefined
      this.current = command
      return waiting(effect)
    }
    this.queued.push(command)
    if (!this.running) this.start()
  }

  /** The session ended: the fiber ends after the command in flight (a command already handed over still runs). */
  close(): void {
    this.closed = true
    const waiting = this.waiting
    this.waiting = undefined
    // resumed with no command: `next` settles nothing and the loop ends
    waiting?.(Effect.void)
  }

  private start(): void {
    this.running = true
    this.run(this.loop).addObserver((exit) => {
      this.running = false
      this.waiting = undefined
      // interrupted (or a defect in a settle callback) with a command in flight: it gets the fiber's end
      const current = this.current
      this.current = undefined
      if (current !== undefined) current.settle(Exit.isFailure(exit) ? exit : Exit.die(new Error("session command fiber ended")))
      if (this.queued.length === 0) return
      // handed over meanwhile: a new fiber runs it, unless the runtime's scope is closed (its fibers
      // are interrupted at once): then each gets that interruption, as a fiber of its own would have
      if (!Exit.isInterrupted(exit)) return this.start()
      for (const command of this.queued.splice(0)) command.settle(exit)
    })
  }

  /** the next command's effect: the queued one at once, else a wait for submit() */
  private readonly next: Effect.Effect<unknown, unknown> = Effect.async<unknown, unknown>((resume) => {
    const queued = this.queued.shift()
    if (queued !== undefined) {
      this.current = queued
      return resume(queued.effect)
    }
    if (this.closed) return resume(Effect.void)
    this.waiting = resume
  })

  private settleCurrent(exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    const current = this.current
    this.current = undefined
    if (current === undefined) return Effect.void
    current.settle(exit)
    return this.closed && this.queued.length === 0 ? Effect.void : this.loop
  }

  private readonly loop: Effect.Effect<void> = Effect.matchCauseEffect(this.next, {
    onFailure: (cause) => this.settleCurrent(Exit.failCause(cause)),
    onSuccess: (value) => this.settleCurrent(Exit.succeed(value))
  })
}
