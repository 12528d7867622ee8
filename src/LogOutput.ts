import { Layer, Logger } from "effect"
import { jsonLines } from "./pipeline/JsonLogLine.js"

/**
 * Log lines as JSON on stdout, written once per event-loop turn. stdout to a
 * pipe or file is a synchronous write in Node, and the relay logs one line per
 * message: under load, one write per turn instead of one per line saves a
 * syscall per message (about 5 % of the relay's CPU in perf profiles). Lines
 * keep their order; whatever is buffered is written before the process exits.
 */

const pending: Array<string> = []
let scheduled = false
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
  scheduled = false
  if (pending.length === 0) return
  const text = pending.join("\n") + "\n"
  pending.length = 0
  target.write(text)
}

process.on("exit", flush)

const enqueue = (line: string): void => {
  pending.push(line)
  if (!scheduled) {
    scheduled = true
    setImmediate(flush)
  }
}

/**
 * Effect's JSON log format, batched per turn as above. Effect's tracer logger
 * is removed: it copies every log line into the current span as an event, and
 * Imprint exports no spans, so those events were only memory — unbounded under
 * a span that lives as long as a server loop (see also Inbound's runtime).
 */
export const batchedJsonLogger = Layer.merge(Logger.replace(Logger.defaultLogger, jsonLines(enqueue)), Logger.remove(Logger.tracerLogger))
