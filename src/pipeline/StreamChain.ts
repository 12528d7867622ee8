import type { Readable, Writable } from "node:stream"

/**
 * Connects stages first → … → last (one stage: just watches it) for the per-message hot path, with the
 * contract of Node's `stream.pipeline` that Transaction relies on: bytes flow
 * with backpressure (`pipe`), the first error — or a stage closing before its
 * end — destroys every stage, and `done` is called exactly once: with that
 * error, or with null when the last stage's writable side has finished (its
 * readable side, if any, belongs to whoever reads it).
 *
 * Why not `pipeline` itself: each call makes an AbortController and aborts it
 * when it ends, which constructs a DOMException with a captured stack; with the
 * end-of-stream bookkeeping that was ~7 % of the relay's CPU per 10 KB message
 * (two chains per message). Nothing here is per chunk.
 */

export type ChainStage = Readable | Writable

/** Node's code for a stream that closed before it ended or finished */
export const PREMATURE_CLOSE = "ERR_STREAM_PREMATURE_CLOSE"

const prematureClose = (): Error => Object.assign(new Error("Premature close"), { code: PREMATURE_CLOSE })

export const chain = (stages: ReadonlyArray<ChainStage>, done: (err: Error | null) => void): void => {
  if (stages.length < 1) throw new Error("a chain needs at least one stage")
  let settled = false
  const settle = (err: Error | null) => {
    if (settled) return
    settled = true
    if (err !== null) for (const stage of stages) if (!stage.destroyed) stage.destroy()
    done(err)
  }
  const last = stages.length - 1
  stages.forEach((stage, i) => {
    stage.on("error", settle)
    if (i < last) {
      const from = stage as Readable
      from.once("close", () => {
        if (!from.readableEnded) settle(prematureClose())
      })
      from.pipe(stages[i + 1] as Writable)
    }
  })
  const end = stages[last] as Writable
  end.once("finish", () => settle(null))
  end.once("close", () => {
    if (!end.writableFinished) settle(prematureClose())
  })
}
