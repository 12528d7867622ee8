/**
 * Streams a message body into an open DATA phase: dot-stuffed, with backpressure
 * (a full socket pauses the source until 'drain'), ended by the terminating dot
 * only when the source ended normally. Any failure — the source erroring or
 * closing early, the downstream going away, interruption — destroys the socket
 * before the dot, so the downstream can never take a partial message as whole.
 */
import type { Readable } from "node:stream"
import { DataSourceError, DownstreamTimeout } from "./DownstreamError.js"
import type { DownstreamError } from "./DownstreamError.js"
import { endOfData, makeDotStuffer, stuffChunk } from "./DotStuffer.js"
import type { SmtpWire } from "./SmtpWire.js"

type TransferError = DownstreamError | DataSourceError

/**
 * The body transfer as plain callbacks (SmtpClient's DATA runs its whole exchange in one
 * Effect.async): `done` is called once, with the error if the transfer failed.
 * Returns how to abandon the transfer (drops the connection without the dot; `done`
 * is not called then), or undefined when `done` was already called.
 */
export const sendBody = (wire: SmtpWire, source: Readable, drainTimeoutMs: number, done: (error?: TransferError) => void): (() => void) | undefined => {
  const stuffer = makeDotStuffer()
  let settled = false
  let ended = false
  let drainTimer: NodeJS.Timeout | undefined
  const socket = wire.socket
  // A stamped copy arrives as many small chunks in one tick (a part's head, the
  // spliced signature, the rest); corked until the event loop's turn ends they leave
  // in one writev instead of a syscall each. A turn, not a tick: a message that came
  // in one upstream read ends a few ticks after its last chunk (the end travels
  // through every stage), and its terminating dot then joins the body's writev
  // instead of costing a write of its own.
  let corked: NodeJS.Immediate | undefined
  const uncork = () => {
    if (corked === undefined) return
    clearImmediate(corked)
    corked = undefined
    socket.uncork()
  }

  const settle = (outcome: TransferError | undefined) => {
    if (settled) return
    settled = true
    cleanup()
    done(outcome)
  }
  const abort = (error: TransferError) => {
    if (settled) return
    settled = true
    cleanup()
    // The dot must never follow a failure: drop the connection before resuming.
    // (Unsubscribed first, so the wire's own failure does not replace `error`.)
    wire.destroy()
    done(error)
  }
  const onData = (chunk: Buffer | Uint8Array | string) => {
    if (settled) return
    const bytes = Buffer.isBuffer(chunk)
      ? chunk
      : typeof chunk === "string"
        ? Buffer.from(chunk, "utf8")
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    if (corked === undefined) {
      socket.cork()
      corked = setImmediate(uncork)
    }
    if (!socket.write(stuffChunk(stuffer, bytes))) {
      // a full buffer drains only uncorked
      uncork()
      source.pause()
      socket.once("drain", onDrain)
      // Only a downstream that stopped reading is timed, never a slow source
      drainTimer = setTimeout(onDrainTimeout, drainTimeoutMs)
    }
  }
  const onDrain = () => {
    clearTimeout(drainTimer)
    drainTimer = undefined
    if (!settled) source.resume()
  }
  const onDrainTimeout = () => abort(new DownstreamTimeout({ phase: "data" }))
  const onEnd = () => {
    ended = true
    if (settled) return
    socket.write(endOfData(stuffer))
    uncork()
    settle(undefined)
  }
  const onError = (cause: unknown) => abort(new DataSourceError({ cause }))
  const onClose = () => {
    if (!ended) abort(new DataSourceError({ cause: new Error("message source closed before its end") }))
  }
  const unsubscribe = wire.onFailure((error) => settle(error))
  const cleanup = () => {
    uncork()
    clearTimeout(drainTimer)
    unsubscribe()
    socket.off("drain", onDrain)
    source.off("data", onData)
    source.off("end", onEnd)
    source.off("error", onError)
    source.off("close", onClose)
    // Keep a listener so that a late source error after we are done is not unhandled
    source.on("error", () => undefined)
  }

  const failed = wire.failed
  if (failed !== undefined) {
    settle(failed)
    return undefined
  }
  if (source.readableEnded) {
    onEnd()
    return undefined
  }
  if (source.destroyed || source.errored) {
    abort(new DataSourceError({ cause: source.errored ?? new Error("message source already destroyed") }))
    return undefined
  }
  source.on("data", onData)
  source.on("end", onEnd)
  source.on("error", onError)
  source.on("close", onClose)
  source.resume()
  return () => {
    // Interrupted: drop the connection without the dot
    if (!settled) {
      settled = true
      cleanup()
      wire.destroy()
    }
  }
}
