import { Layer, Logger } from "effect"
import { jsonLines } from "./pipeline/JsonLogLine.js"

/**
 * Log lines as JSON on stdout, written together at most FLUSH_MS after the
 * first of them (or at once when MAX_PENDING have gathered). stdout to a pipe or
 * file is a synchronous write in Node, each one a syscall and a wake-up of the
 * reader, and the relay logs one line per message: one write per event-loop
 * turn still cost 1.6 % of the relay's busy time under perf:cpu (a write for
 * about two messages); one per 20 ms is one per dozens. Lines keep their order;
 * whatever is buffered is written before the process exits.
 */

/** how long a line may wait for others; a person reading the log does not see it, a relay at 1,000 msgs/s writes 50 times a second instead of 500 */
const FLUSH_MS = 20
/** lines that are written at once, whatever the wait (a burst must not hold much memory) */
const MAX_PENDING = 256

const pending: Array<string> = []
let scheduled: NodeJS.Timeout | undefined
/** standard output for the long-running commands (serve, demo); standard error for one-shot commands */
let target: NodeJS.WriteStream = process.stdout

/**
 * One-shot commands (`tenant import`, `admin token create`, `trace`, …) print
 * their result on standard output: their log lines go to standard error, so
 * that `TOKEN=$(imprint admin token create …)` or `imprint tenant import … | jq`
 * see the result alone.
 */
export const logToStandardError = (): void => {
  target = process.stderr
}

const flush = (): void => {
  if (scheduled !== undefined) {
    clearTimeout(scheduled)
    scheduled = undefined
  }
  if (pending.length === 0) return
  const text = pending.join("\n") + "\n"
  pending.length = 0
  target.write(text)
}

process.on("exit", flush)

const enqueue = (line: string): void => {
  pending.push(line)
  if (pending.length >= MAX_PENDING) flush()
  // unref: a pending flush does not keep the process alive (the exit handler writes what is left)
  else if (scheduled === undefined) scheduled = setTimeout(flush, FLUSH_MS).unref()
}

/**
 * Effect's JSON log format, batched as above. Effect's tracer logger
 * is removed: it copies every log line into the current span as an event, and
 * Imprint exports no spans, so those events were only memory — unbounded under
 * a span that lives as long as a server loop (see also Inbound's runtime).
 */
export const batchedJsonLogger = Layer.merge(Logger.replace(Logger.defaultLogger, jsonLines(enqueue)), Logger.remove(Logger.tracerLogger))
