import { ParseResult, type Schema, SchemaAST as AST } from "effect"

/**
 * Configuration errors an operator can act on: one line per wrong key, naming
 * the key, the value found and what is allowed there, e.g.
 *   smtp.port: "x" is not allowed: expected an integer between 0 and 65535
 * Schema reports the first layer that failed (a string where a number belongs
 * says only "Expected number") and adds an "or undefined" alternative for every
 * optional key on the way down, so what is allowed is read from the schema
 * itself, at the key's path.
 */

const MAX_VALUE_CHARS = 80

type Path = ReadonlyArray<PropertyKey>

const show = (value: unknown): string => {
  const text = value === undefined ? "undefined" : (JSON.stringify(value) ?? String(value))
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS)}…` : text
}

const valueAt = (input: unknown, path: Path): unknown =>
  path.reduce<unknown>((node, key) => (typeof node === "object" && node !== null ? (node as Record<PropertyKey, unknown>)[key] : undefined), input)

/** The encoded side a value is checked against: through classes, optionals (`X | undefined`), suspends. */
const unwrap = (ast: AST.AST): AST.AST => {
  switch (ast._tag) {
    case "Transformation":
      return unwrap(ast.from)
    case "Suspend":
      return unwrap(ast.f())
    case "Union": {
      const defined = ast.types.filter((t) => t._tag !== "UndefinedKeyword")
      return defined.length === 1 ? unwrap(defined[0]) : defined.length === ast.types.length ? ast : AST.Union.make(defined)
    }
    default:
      return ast
  }
}

const structOf = (ast: AST.AST): AST.TypeLiteral | undefined => {
  let node = unwrap(ast)
  while (node._tag === "Refinement") node = unwrap(node.from)
  return node._tag === "TypeLiteral" ? node : undefined
}

const schemaAt = (root: AST.AST, path: Path): AST.AST | undefined => {
  let node: AST.AST | undefined = root
  for (const key of path) {
    const struct: AST.TypeLiteral | undefined = node === undefined ? undefined : structOf(node)
    node = struct?.propertySignatures.find((p) => p.name === key)?.type
  }
  return node
}

/**
 * A refinement's description added to its base's: "an integer" + "a number between 0 and 65535"
 * → "an integer between 0 and 65535"; "an integer" + "a positive number" → "a positive integer".
 */
const refine = (base: string, description: string): string => {
  const noun = base.replace(/^an? /, "")
  if (base === "a number" && /^an? \S+$/.test(description)) return description
  const qualified = /^an? (?:number|string) (.+)$/.exec(description)
  if (qualified) return qualified[1] === "at least 1 character(s) long" ? `a non-empty ${noun}` : `${base} ${qualified[1]}`
  const adjective = /^an? (.+) number$/.exec(description)
  if (adjective) return `${/^[aeiou]/.test(adjective[1]) ? "an" : "a"} ${adjective[1]} ${noun}`
  return `${base} (${description})`
}

/** What a value must be, in words. */
export const describeAllowed = (ast: AST.AST): string => {
  const node = unwrap(ast)
  switch (node._tag) {
    case "Refinement": {
      const description = AST.getDescriptionAnnotation(node)
      const base = describeAllowed(node.from)
      return description._tag === "Some" ? refine(base, description.value) : base
    }
    case "Union":
      return node.types.every((t) => t._tag === "Literal")
        ? `one of ${node.types.map((t) => JSON.stringify((t as AST.Literal).literal)).join(", ")}`
        : node.types.map(describeAllowed).join(" or ")
    case "Literal":
      return JSON.stringify(node.literal)
    case "BooleanKeyword":
      return "true or false"
    case "TypeLiteral":
      return `an object with the keys ${node.propertySignatures.map((p) => String(p.name)).join(", ")}`
    case "TupleType":
      return `a list of ${describeAllowed(node.rest[0]?.type ?? AST.unknownKeyword)}`
    default: {
      const description = AST.getDescriptionAnnotation(node)
      return description._tag === "Some" ? description.value : String(node)
    }
  }
}

const dotted = (path: Path) => path.map(String).join(".")

/**
 * One line per wrong key. `origin` names where a key's value came from when it
 * was not the file (an environment variable), so the operator looks in the right place.
 */
export const formatConfigError = (
  schema: Schema.Schema.AnyNoContext,
  input: unknown,
  error: ParseResult.ParseError,
  origin: (path: string) => string | undefined = () => undefined
): ReadonlyArray<string> => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const isPrefix = (shorter: Path, longer: Path) => longer.length > shorter.length && shorter.every((k, i) => longer[i] === k)
  // an outer "Expected undefined" only repeats, for the optional key around it, a problem found deeper
  const leaves = issues.filter((issue) => !issues.some((other) => isPrefix(issue.path, other.path)))
  const seen = new Set<string>()
  const lines: string[] = []
  for (const issue of leaves) {
    const key = dotted(issue.path)
    if (seen.has(key)) continue
    seen.add(key)
    const from = origin(key)
    const name = from === undefined ? key : `${key} (${from})`
    if (issue._tag === "Unexpected") {
      const struct = structOf(schemaAt(schema.ast, issue.path.slice(0, -1)) ?? AST.unknownKeyword)
      const known = struct?.propertySignatures.map((p) => String(p.name)).join(", ")
      lines.push(`${name}: unknown key${known === undefined ? "" : `; allowed here: ${known}`}`)
      continue
    }
    const target = schemaAt(schema.ast, issue.path)
    const allowed = target === undefined ? issue.message : `expected ${describeAllowed(target)}`
    lines.push(issue._tag === "Missing" ? `${name}: missing: ${allowed}` : `${name}: ${show(valueAt(input, issue.path))} is not allowed: ${allowed}`)
  }
  return lines
}
