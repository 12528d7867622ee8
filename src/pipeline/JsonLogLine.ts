import { Logger } from "effect"

/**
 * The relay's JSON log lines: Effect's `Logger.jsonLogger`, each line handed
 * to `write`. The logger is remembered with its writer, so that the
 * per-message outcome line (TransactionLog) can recognise it among the fiber's
 * loggers.
 */

const writers = new WeakMap<Logger.Logger<unknown, unknown>, (line: string) => void>()

/** Effect's JSON line format, each line handed to `write` (production: LogOutput's batch; specs: an array). */
export const jsonLines = (write: (line: string) => void): Logger.Logger<unknown, void> => {
  const logger = Logger.map(Logger.jsonLogger, write)
  writers.set(logger, write)
  return logger
}

/** The writer of a logger made by `jsonLines`, undefined for any other logger. */
export const lineWriterOf = (logger: Logger.Logger<unknown, unknown>): ((line: string) => void) | undefined => writers.get(logger)
