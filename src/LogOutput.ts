import { Layer, Logger } from "effect"
import { jsonLines } from "./pipeline/JsonLogLine.js"

/**
 * Log lines as JSON on stdout, written together: a line waits up to
 * LOG_FLUSH_MS for the others of its moment. stdout to a pipe or file is a
 * synchronous write in Node, and the relay logs one line per message: one
 * write per event-loop turn (before issue 16) still cost ≈ 2 % of the relay's
 * CPU under perf:cpu's load, one per message at 10 sessions; one write per
 * interval carries every line of it. Lines keep their order and their bytes;
 * past LOG_FLUSH_CHARS waiting they are written at once, and whatever is
 * waiting is written before the process exits (`exit`: a normal end,
 * `process.exit`, an uncaught exception; a SIGKILL loses at most the last
 * interval's lines).
 */

/** how long a line may wait for the next ones before they are written together */
export const LOG_FLUSH_MS = 10
/** characters waiting that are written at once, without waiting for the interval */
export const LOG_FLUSH_CHARS = 64 * 1024

const pending: Array<string> = []
let waiting = 0
let timer: NodeJS.Timeout | undefined
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
  if (timer !== undefined) {
    clearTimeout(timer)
    timer = undefined
  }
  if (pending.length === 0) return
  const text = pending.join("\n") + "\n"
  pending.length = 0
  waiting = 0
  target.write(text)
}

process.on("exit", flush)

const enqueue = (line: string): void => {
  pending.push(line)
  waiting += line.length
  if (waiting >= LOG_FLUSH_CHARS) flush()
  // unref: a one-shot command ends when its work does; `exit` writes what waits
  else if (timer === undefined) timer = setTimeout(flush, LOG_FLUSH_MS).unref()
}

/**
 * Effect's JSON log format, batched per turn as above. Effect's tracer logger
 * is removed: it copies every log line into the current span as an event, and
 * Imprint exports no spans, so those events were only memory — unbounded under
 * a span that lives as long as a server loop (see also Inbound's runtime).
 */
export const batchedJsonLogger = Layer.merge(Logger.replace(Logger.defaultLogger, jsonLines(enqueue)), Logger.remove(Logger.tracerLogger))
