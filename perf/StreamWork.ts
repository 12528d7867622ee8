/**
 * Counts the Node stream and event work of a process, a preload for any perf run:
 *
 *   NODE_OPTIONS="--import $PWD/dist/perf/StreamWork.js" PERF_STREAM_WORK_OUT=/tmp/work \
 *     node dist/perf/CpuPerMessage.js --targets imprint-plain --batches 2 --messages 1000
 *
 * Every process that imports it and emitted at least MIN_EMITS events (the relay under test,
 * and its baseline build's with `--baseline`) writes `<out>/work-<pid>.json` when it exits:
 * events emitted, listeners added, `pipe` calls, `process.nextTick`, `queueMicrotask` and `setImmediate` calls, and socket writes
 * (`_write` and `_writev` of net.Socket, i.e. one syscall attempt each). Divide by the
 * messages the process relayed (CpuPerMessage: 600 warm-up + batches × messages): counts,
 * which unlike CPU time do not move with the machine's load (as EffectSteps does for
 * Effect's interpreter). It wraps Node's prototypes, so it only counts; never load it in
 * production.
 */
import { EventEmitter } from "node:events"
import { mkdirSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { Readable } from "node:stream"

/** processes below this are the harness's own (sink, load generator) or idle: no file */
const MIN_EMITS = 20_000

const counts: Record<string, number> = {
  emit: 0,
  addListener: 0,
  pipe: 0,
  nextTick: 0,
  queueMicrotask: 0,
  setImmediate: 0,
  socketWrite: 0,
  socketWritev: 0
}

const wrap = <T extends object>(owner: T, name: keyof T & string, counter: string): void => {
  const original = owner[name] as unknown as (...args: Array<unknown>) => unknown
  ;(owner as Record<string, unknown>)[name] = function (this: unknown, ...args: Array<unknown>) {
    counts[counter]++
    return original.apply(this, args)
  }
}

wrap(EventEmitter.prototype, "emit", "emit")
wrap(EventEmitter.prototype, "on", "addListener")
wrap(EventEmitter.prototype, "addListener", "addListener")
wrap(EventEmitter.prototype, "once", "addListener")
wrap(EventEmitter.prototype, "prependListener", "addListener")
wrap(Readable.prototype, "pipe", "pipe")
wrap(process, "nextTick", "nextTick")
wrap(globalThis, "queueMicrotask", "queueMicrotask")
wrap(globalThis, "setImmediate", "setImmediate")
wrap(net.Socket.prototype, "_write" as keyof net.Socket & string, "socketWrite")
wrap(net.Socket.prototype, "_writev" as keyof net.Socket & string, "socketWritev")

const OUT = process.env.PERF_STREAM_WORK_OUT

process.on("exit", () => {
  if (OUT === undefined || counts.emit < MIN_EMITS) return
  mkdirSync(OUT, { recursive: true })
  writeFileSync(path.join(OUT, `work-${process.pid}.json`), JSON.stringify({ argv: process.argv.slice(1), counts }, null, 1))
})
