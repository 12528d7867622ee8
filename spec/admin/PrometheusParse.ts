/**
 * A strict line parser for the Prometheus text format 0.0.4, written from the
 * format's description (not from the formatter under test): every line is a
 * HELP, a TYPE, or a sample whose name belongs to the family typed above it.
 */

export interface Sample {
  readonly name: string
  readonly labels: Record<string, string>
  readonly value: number
}

export interface Exposition {
  readonly types: Record<string, string>
  readonly help: Record<string, string>
  readonly samples: Array<Sample>
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*"
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"'
const SAMPLE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*)?\\})? (\\S+)$`)
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`)
const HELP = new RegExp(`^# HELP (${NAME}) (.*)$`)

const unescape = (v: string) => v.replace(/\\(["\\n])/g, (_, c: string) => (c === "n" ? "\n" : c))

const parseValue = (v: string): number => {
  if (v === "+Inf") return Infinity
  if (v === "-Inf") return -Infinity
  if (v === "NaN") return NaN
  if (!/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(v)) throw new Error(`not a sample value: ${v}`)
  return Number(v)
}

const SUFFIXES: Record<string, ReadonlyArray<string>> = {
  counter: [""],
  gauge: [""],
  untyped: [""],
  histogram: ["_bucket", "_sum", "_count"],
  summary: ["", "_sum", "_count"]
}

export const parseExposition = (text: string): Exposition => {
  if (text !== "" && !text.endsWith("\n")) throw new Error("the exposition must end with a newline")
  const types: Record<string, string> = {}
  const help: Record<string, string> = {}
  const samples: Array<Sample> = []
  let family: string | undefined
  for (const [i, line] of text.split("\n").slice(0, -1).entries()) {
    const where = `line ${i + 1}: ${JSON.stringify(line)}`
    let m: RegExpExecArray | null
    if ((m = TYPE.exec(line))) {
      if (m[1] in types) throw new Error(`${where}: second TYPE for ${m[1]}`)
      types[m[1]] = m[2]
      family = m[1]
    } else if ((m = HELP.exec(line))) {
      help[m[1]] = m[2]
    } else if ((m = SAMPLE.exec(line))) {
      const [, name, labelText, value] = m
      if (family === undefined || !SUFFIXES[types[family]].some((s) => name === family + s)) {
        throw new Error(`${where}: sample outside its family's TYPE`)
      }
      const labels: Record<string, string> = {}
      for (const [, k, v] of (labelText ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        if (k in labels) throw new Error(`${where}: label ${k} twice`)
        labels[k] = unescape(v)
      }
      samples.push({ name, labels, value: parseValue(value) })
    } else {
      throw new Error(`${where}: not a HELP, TYPE or sample line`)
    }
  }
  return { types, help, samples }
}
