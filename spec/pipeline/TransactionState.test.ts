import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { FailureCause, PendingChains, TransactionMachine } from "../../src/pipeline/TransactionState.js"
import { DataSourceError } from "../../src/pipeline/downstream/DownstreamError.js"
import { PipelineFailed, StampingFailed, UpstreamGone } from "../../src/pipeline/RelayError.js"

const echo = () => new DataSourceError({ cause: new Error("source closed") })

describe("FailureCause: the cause", () => {
  it("is the first failure; what it tears down later is not", () => {
    const f = new FailureCause()
    f.record(new UpstreamGone({ detail: "reset" }))
    f.record(new PipelineFailed({ detail: "torn down" }))
    expect(f.cause?._tag).toBe("UpstreamGone")
    expect(f.hasCause).toBe(true)
  })

  it("is never an echo of a broken source when anything else failed, even later", () => {
    const f = new FailureCause()
    f.record(echo())
    expect(f.hasCause).toBe(false)
    f.record(new StampingFailed({ detail: "bad part" }))
    expect(f.cause?._tag).toBe("StampingFailed")
  })

  it("is the echo when nothing else failed", () => {
    const f = new FailureCause()
    expect(f.cause).toBeUndefined()
    f.record(echo())
    expect(f.cause?._tag).toBe("DataSourceError")
  })
})

describe("PendingChains: the all-copies-finished latch", () => {
  it.effect("completes when the last started chain ends, not before", () =>
    Effect.gen(function* () {
      const chains = new PendingChains()
      chains.started()
      chains.started()
      chains.ended()
      expect(yield* Deferred.isDone(chains.finished)).toBe(false)
      chains.ended()
      expect(yield* Deferred.isDone(chains.finished)).toBe(true)
      yield* chains.await
      expect(chains.pending).toBe(0)
    })
  )
})

describe("TransactionMachine", () => {
  const streams = () => {
    const destroyed: Array<string> = []
    return { destroyed, stream: (name: string) => ({ destroy: () => void destroyed.push(name) }) }
  }

  it.effect("walks reading-headers → deciding → streaming → replied, releasing the body only when streaming", () =>
    Effect.gen(function* () {
      let released = 0
      const m = new TransactionMachine(() => void released++)
      expect(m.phase).toBe("reading-headers")
      const waiting = yield* Effect.fork(m.awaitHeaders)
      m.headersRead()
      expect(m.phase).toBe("deciding")
      expect(yield* Fiber.join(waiting)).toBe(true)
      expect(released).toBe(0)
      m.streaming()
      expect(m.phase).toBe("streaming")
      expect(released).toBe(1)
      m.streaming()
      expect(released).toBe(1)
      m.replied()
      expect(m.phase).toBe("replied")
    })
  )

  it.effect("a failure destroys every stream it was given, records the cause and unblocks the wait for headers", () =>
    Effect.gen(function* () {
      const { destroyed, stream } = streams()
      const m = new TransactionMachine(() => undefined)
      m.tearsDown(stream("guard"))
      m.tearsDown(stream("copy 1 source"))
      m.tearsDown(stream("copy 1 output"))
      const waiting = yield* Effect.fork(m.awaitHeaders)
      m.fail(new UpstreamGone({ detail: "reset" }))
      expect(m.phase).toBe("failed")
      expect(destroyed).toEqual(["guard", "copy 1 source", "copy 1 output"])
      expect(yield* Fiber.join(waiting)).toBe(false)
      expect(m.failure.cause?._tag).toBe("UpstreamGone")
    })
  )

  it.effect("headers read before a failure stay read; a failed machine neither releases the body nor replies", () =>
    Effect.gen(function* () {
      let released = 0
      const m = new TransactionMachine(() => void released++)
      m.headersRead()
      m.fail(new PipelineFailed({ detail: "decision failed" }))
      expect(yield* m.awaitHeaders).toBe(true)
      m.streaming()
      m.replied()
      expect(released).toBe(0)
      expect(m.phase).toBe("failed")
    })
  )

  it.effect("an upstream that ends before its headers unblocks the wait, without headers", () =>
    Effect.gen(function* () {
      const m = new TransactionMachine(() => undefined)
      m.chains.started()
      m.upstreamEnded()
      expect(yield* m.awaitHeaders).toBe(false)
      expect(yield* Deferred.isDone(m.chains.finished)).toBe(true)
    })
  )
})
