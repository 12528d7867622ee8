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
  /**
   * The annotations object's JSON in that order, as pieces: a fiber
   * annotation's `"key":value` written once, a field's `"key":` to put its
   * value after. Undefined when a key would not keep its place in an object
   * (an array index, which objects list first, or `__proto__`): `jsonLine`
   * then builds the object and lets JSON.stringify order it.
   */
  readonly pieces: ReadonlyArray<Piece> | undefined
}

/** `text`: a fiber annotation's whole `"key":value`; `field`: a field's key, its value written after `prefix` */
type Piece = { readonly text: string; readonly field?: undefined } | { readonly field: string; readonly prefix: string }

/** keys that an object does not keep in insertion order (array indices come first) or does not hold as its own */
const reordered = (key: string): boolean => key === "__proto__" || (/^(?:0|[1-9]\d*)$/.test(key) && Number(key) < 4294967295)

const piecesOf = (order: Shape["order"], values: Map<string, unknown>): Shape["pieces"] => {
  const pieces: Array<Piece> = []
  for (const [key, fromFields] of order) {
    if (reordered(key)) return undefined
    const prefix = JSON.stringify(key) + ":"
    if (fromFields) pieces.push({ field: key, prefix })
    else {
      const v = values.get(key)
      // JSON.stringify leaves out a key whose value is undefined
      if (v !== undefined) pieces.push({ text: prefix + JSON.stringify(v) })
    }
  }
  return pieces
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
    const order = Array.from(HashMap.keys(merged), (key) => [key, own.has(key)] as const)
    shape = { fieldKeys, order, pieces: piecesOf(order, base.values) }
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
  const shape = shapeOf(annotations, base, fields)
  if (shape.pieces === undefined) return objectLine(level, text, date, fiberId, base, shape, fields)
  // the line JSON.stringify would write for the object below, written directly
  let written = ""
  for (const piece of shape.pieces) {
    let part: string
    if (piece.field === undefined) part = piece.text
    else {
      const v = fields[piece.field]
      if (!plain(v)) return undefined
      if (v === undefined) continue
      part = piece.prefix + jsonValue(v)
    }
    written = written === "" ? part : written + "," + part
  }
  return (
    `{"message":${JSON.stringify(text)},"logLevel":${JSON.stringify(level.label)},"timestamp":"${isoTime(date)}",` +
    `"annotations":{${written}},"spans":{},"fiberId":${JSON.stringify(threadName(fiberId))}}`
  )
}

/** the last second `isoTime` wrote: its ISO text up to the milliseconds ("…T21:43:53.") */
let isoSecond = NaN
let isoPrefix = ""

/** date.toISOString(), its text up to the second made once per second (toISOString costs about as much as the rest of the line) */
const isoTime = (date: Date): string => {
  const ms = date.getTime()
  const second = Math.floor(ms / 1000)
  if (second !== isoSecond) {
    const iso = date.toISOString() // throws for an invalid date, as before
    isoPrefix = iso.slice(0, iso.length - 4)
    isoSecond = second
  }
  const milli = ms - second * 1000
  return isoPrefix + (milli < 10 ? "00" : milli < 100 ? "0" : "") + milli + "Z"
}

/** a string JSON writes with an escape: a quote, a backslash, a control character, a surrogate (a lone one is escaped) */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/

/** JSON.stringify(v) for a `plain` value other than undefined; most strings need no escape and are only quoted */
const jsonValue = (v: unknown): string => (typeof v === "string" && !NEEDS_ESCAPE.test(v) ? `"${v}"` : JSON.stringify(v))

/** `jsonLine` through an object and JSON.stringify, for a shape with a key an object would reorder */
const objectLine = (
  level: LogLevel.LogLevel,
  text: string,
  date: Date,
  fiberId: FiberId.FiberId,
  base: Base,
  shape: Shape,
  fields: Readonly<Record<string, unknown>>
): string | undefined => {
  const written: Record<string, unknown> = {}
  for (const [key, fromFields] of shape.order) {
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
