import { type FiberId, FiberId as FiberIds, HashMap, type LogLevel, Logger } from "effect"

/**
 * The relay's JSON log lines: Effect's `Logger.jsonLogger`, each line handed
 * to `write`. The logger is remembered with its writer, so that the
 * per-message outcome line (TransactionLog) can recognise it among the fiber's
 * loggers and hand it a line made by `jsonLine` below: the same text, without
 * the annotations' HashMap, structuredLogger's copy and stringifyCircular's
 * replacer (≈ 4 % of the relay's CPU per plain message, issue 16).
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

/**
 * Values written the same by JSON.stringify alone as by jsonLogger
 * (structuredMessage, Inspectable.toJSON, stringifyCircular's replacer): no
 * object but an array of strings (toJSON copies it, which prints the same), nothing
 * with a toJSON, nothing redactable, no bigint, function or symbol.
 */
const plain = (v: unknown): boolean => {
  switch (typeof v) {
    case "string":
    case "number":
    case "boolean":
    case "undefined":
      return true
    case "object":
      if (v === null) return true
      if (!Array.isArray(v) || Object.getPrototypeOf(v) !== Array.prototype) return false
      for (let i = 0; i < v.length; i++) if (typeof v[i] !== "string") return false
      return true
    default:
      return false
  }
}

/** A shape's keys in the order of the merged annotations, each with where its value comes from. */
type Order = ReadonlyArray<readonly [key: string, fromFields: boolean]>

/** What is known of one (immutable) annotations map: its values, whether they are plain, the orders of its shapes. */
interface Base {
  readonly values: Map<string, unknown>
  readonly plain: boolean
  readonly orders: Map<string, Order>
}

const bases = new WeakMap<HashMap.HashMap<string, unknown>, Base>()
/** shapes (sets of field names) remembered per annotations map: the relay logs a handful */
const MAX_SHAPES = 64

const baseOf = (annotations: HashMap.HashMap<string, unknown>): Base => {
  let base = bases.get(annotations)
  if (base === undefined) {
    const values = new Map<string, unknown>(annotations)
    let allPlain = true
    for (const v of values.values()) if (!plain(v)) allPlain = false
    bases.set(annotations, (base = { values, plain: allPlain, orders: new Map() }))
  }
  return base
}

/**
 * The order jsonLogger writes the annotations in: the HashMap's own iteration
 * order (by key hash), found once per annotations map and set of field names
 * by doing exactly what the fiber's log does (the fiber's map with each field
 * set, in the fields' order) and reading the keys back. The order of a HashMap
 * depends on its keys and their insertions, never on the values.
 */
const orderOf = (annotations: HashMap.HashMap<string, unknown>, base: Base, fields: Readonly<Record<string, unknown>>): Order => {
  let shape = ""
  for (const key in fields) shape += key + "\u0000"
  let order = base.orders.get(shape)
  if (order === undefined) {
    const merged = HashMap.mutate(annotations, (m) => {
      for (const key in fields) HashMap.set(m, key, undefined)
    })
    const own = new Set<string>()
    for (const key in fields) own.add(key)
    order = Array.from(HashMap.keys(merged), (key) => [key, own.has(key)] as const)
    if (base.orders.size >= MAX_SHAPES) base.orders.clear()
    base.orders.set(shape, order)
  }
  return order
}

/** FiberId.threadName without the HashSet it builds for one id: a fiber's own id is `#<id>`. */
const threadName = (fiberId: FiberId.FiberId): string => (FiberIds.isRuntime(fiberId) ? `#${fiberId.id}` : FiberIds.threadName(fiberId))

/**
 * The line `Logger.jsonLogger` writes for a message `text` at `level`, no
 * cause and no log span, with the fiber's `annotations` and then each of
 * `fields` set on them; undefined when a value is not `plain` (the caller
 * then goes through the logger itself).
 */
export const jsonLine = (
  level: LogLevel.LogLevel,
  text: string,
  date: Date,
  fiberId: FiberId.FiberId,
  annotations: HashMap.HashMap<string, unknown>,
  fields: Readonly<Record<string, unknown>>
): string | undefined => {
  const base = baseOf(annotations)
  if (!base.plain) return undefined
  for (const key in fields) if (!plain(fields[key])) return undefined
  const written: Record<string, unknown> = {}
  for (const [key, fromFields] of orderOf(annotations, base, fields)) written[key] = fromFields ? fields[key] : base.values.get(key)
  return JSON.stringify({
    message: text,
    logLevel: level.label,
    timestamp: date.toISOString(),
    annotations: written,
    spans: {},
    fiberId: threadName(fiberId)
  })
}
