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

/** A set of field names, and the merged annotations' keys in jsonLogger's order, each with where its value comes from. */
interface Shape {
  readonly fieldKeys: ReadonlyArray<string>
  readonly order: ReadonlyArray<readonly [key: string, fromFields: boolean]>
}

/** What is known of one (immutable) annotations map: its values, whether they are plain, the orders of its shapes. */
interface Base {
  readonly values: Map<string, unknown>
  readonly plain: boolean
  readonly shapes: Map<string, Shape>
  /** the shape of the last line: the outcome line has the same fields message after message */
  last: Shape | undefined
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
    bases.set(annotations, (base = { values, plain: allPlain, shapes: new Map(), last: undefined }))
  }
  return base
}

/** `fields` has exactly these keys, in this order */
const hasKeys = (fields: Readonly<Record<string, unknown>>, keys: ReadonlyArray<string>): boolean => {
  let i = 0
  for (const key in fields) if (key !== keys[i++]) return false
  return i === keys.length
}

/**
 * The order jsonLogger writes the annotations in: the HashMap's own iteration
 * order (by key hash), found once per annotations map and sequence of field
 * names by doing exactly what the fiber's log does (the fiber's map with each
 * field set, in the fields' order) and reading the keys back. The order of a
 * HashMap depends on its keys and their insertions, never on the values.
 */
const shapeOf = (annotations: HashMap.HashMap<string, unknown>, base: Base, fields: Readonly<Record<string, unknown>>): Shape => {
  if (base.last !== undefined && hasKeys(fields, base.last.fieldKeys)) return base.last
  const fieldKeys: Array<string> = []
  for (const key in fields) fieldKeys.push(key)
  const name = fieldKeys.join("\u0000")
  let shape = base.shapes.get(name)
  if (shape === undefined) {
    const merged = HashMap.mutate(annotations, (m) => {
      for (const key of fieldKeys) HashMap.set(m, key, undefined)
    })
    const own = new Set(fieldKeys)
    shape = { fieldKeys, order: Array.from(HashMap.keys(merged), (key) => [key, own.has(key)] as const) }
    if (base.shapes.size >= MAX_SHAPES) base.shapes.clear()
    base.shapes.set(name, shape)
  }
  base.last = shape
  return shape
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
  const written: Record<string, unknown> = {}
  for (const [key, fromFields] of shapeOf(annotations, base, fields).order) {
    if (fromFields) {
      const v = fields[key]
      if (!plain(v)) return undefined
      written[key] = v
    } else written[key] = base.values.get(key)
  }
  return JSON.stringify({
    message: text,
    logLevel: level.label,
    timestamp: date.toISOString(),
    annotations: written,
    spans: {},
    fiberId: threadName(fiberId)
  })
}
