import { PassThrough, Readable, Transform, Writable } from "node:stream"
import { describe, expect, it } from "vitest"
import { chain, PREMATURE_CLOSE } from "../../src/pipeline/StreamChain.js"

/** StreamChain keeps the part of stream.pipeline's contract that Transaction relies on. */

const collect = () => {
  const chunks: Array<Buffer> = []
  const sink = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk)
      setImmediate(cb) // a slow reader: backpressure must hold the source
    }
  })
  return { sink, text: () => Buffer.concat(chunks).toString() }
}

const upper = () =>
  new Transform({
    transform(chunk: Buffer, _enc, cb) {
      cb(null, Buffer.from(chunk.toString().toUpperCase()))
    }
  })

const run = (stages: Parameters<typeof chain>[0]) =>
  new Promise<{ err: Error | null; calls: number }>((resolve) => {
    let calls = 0
    chain(stages, (err) => {
      calls++
      // a second call would come within the same turns
      setTimeout(() => resolve({ err, calls }), 20)
    })
  })

describe("StreamChain", () => {
  it("moves every byte through every stage with a slow reader at the end, then reports success once", async () => {
    const parts = Array.from({ length: 300 }, (_, i) => `chunk ${i};`)
    const source = Readable.from(
      parts.map((p) => Buffer.from(p)),
      { objectMode: false, highWaterMark: 16 }
    )
    const { sink, text } = collect()
    const { err, calls } = await run([source, upper(), new PassThrough({ highWaterMark: 8 }), sink])
    expect(err).toBeNull()
    expect(calls).toBe(1)
    expect(text()).toBe(parts.join("").toUpperCase())
  })

  it("reports the first stage error once and destroys every stage", async () => {
    const source = new PassThrough()
    const failing = new Transform({
      transform(_chunk, _enc, cb) {
        cb(new Error("stage broke"))
      }
    })
    const { sink } = collect()
    const result = run([source, failing, sink])
    source.write("x")
    const { err, calls } = await result
    expect(err?.message).toBe("stage broke")
    expect(calls).toBe(1)
    expect([source.destroyed, failing.destroyed, sink.destroyed]).toEqual([true, true, true])
  })

  it("reports a stage destroyed before its end as a premature close", async () => {
    const source = new PassThrough()
    const middle = new PassThrough()
    const { sink } = collect()
    const result = run([source, middle, sink])
    source.write("partial")
    setImmediate(() => middle.destroy())
    const { err, calls } = await result
    expect((err as NodeJS.ErrnoException | null)?.code).toBe(PREMATURE_CLOSE)
    expect(calls).toBe(1)
    expect(sink.destroyed).toBe(true)
  })

  it("reports the last stage closing before it finished as a premature close", async () => {
    const source = new PassThrough()
    const { sink } = collect()
    const result = run([source, sink])
    source.write("partial")
    setImmediate(() => sink.destroy())
    const { err } = await result
    expect((err as NodeJS.ErrnoException | null)?.code).toBe(PREMATURE_CLOSE)
    expect(source.destroyed).toBe(true)
  })
})
