/**
 * Mustache's template parser, rewritten to run in linear time with a token
 * per run of text. mustache.js's own `parse` makes one token array per text
 * character and searches the whole rest of the template for every tag it
 * scans (`tail.match(re)` with an unanchored regex), so a 2 MB template took
 * seconds and gigabytes. This one returns the same tokens as mustache.js
 * 4.2 (`Writer.prototype.parse`): same types, values, positions, standalone
 * lines stripped the same way, same error messages; a property test holds
 * the two together (spec/signature/MustacheTokens.test.ts).
 *
 * Token shape (mustache.js's): [type, value, start, end, children?, sectionEnd?].
 */

export type MustacheToken = [string, string, number, number, MustacheToken[]?, number?]

const TAG_TYPES = "#^/>{&=!"

/** JS `\s`: what mustache.js's regexes treat as white space */
const isSpace = (c: string): boolean => {
  const code = c.charCodeAt(0)
  return code === 32 || (code >= 9 && code <= 13) || (code > 127 && /\s/.test(c))
}
const SPACES = /\s*/y
const SPACE_RUN = /[^\S\n]+/y
const NON_SPACE_RUN = /\S+/y

const skipSpaces = (s: string, i: number): number => {
  SPACES.lastIndex = i
  SPACES.exec(s)
  return SPACES.lastIndex
}

/** Where `\s*needle` first matches at or after `from`: the white space before the first `needle`; -1 when none. */
const searchSpacedNeedle = (s: string, needle: string, from: number): number => {
  const at = s.indexOf(needle, from)
  if (at < 0) return -1
  let start = at
  while (start > from && isSpace(s[start - 1]!)) start--
  return start
}

/** `\s*needle` matched at `from`: the position after it, or -1. */
const matchSpacedNeedle = (s: string, needle: string, from: number): number => {
  const i = skipSpaces(s, from)
  return s.startsWith(needle, i) ? i + needle.length : -1
}

interface Delimiters {
  readonly open: string
  readonly close: string
}

/** `{{=<% %>=}}`; an empty delimiter (which mustache.js takes and then stops parsing at) is refused */
const delimitersOf = (value: string): Delimiters => {
  const parts = value.split(/\s+/, 2)
  if (parts.length !== 2 || parts[0] === "" || parts[1] === "") throw new Error(`Invalid tags: ${parts.join(",")}`)
  return { open: parts[0]!, close: parts[1]! }
}

/** Consecutive text tokens joined; stripped (null) tokens skipped. */
const squash = (tokens: ReadonlyArray<MustacheToken | null>): MustacheToken[] => {
  const out: MustacheToken[] = []
  let last: MustacheToken | undefined
  for (const token of tokens) {
    if (token === null) continue
    if (token[0] === "text" && last !== undefined && last[0] === "text") {
      last[1] += token[1]
      last[3] = token[3]
    } else {
      out.push(token)
      last = token
    }
  }
  return out
}

const nest = (tokens: ReadonlyArray<MustacheToken>): MustacheToken[] => {
  const nested: MustacheToken[] = []
  let collector = nested
  const sections: MustacheToken[] = []
  for (const token of tokens) {
    if (token[0] === "#" || token[0] === "^") {
      collector.push(token)
      sections.push(token)
      collector = token[4] = []
    } else if (token[0] === "/") {
      const section = sections.pop()!
      section[5] = token[2]
      collector = sections.length > 0 ? sections[sections.length - 1]![4]! : nested
    } else {
      collector.push(token)
    }
  }
  return nested
}

/** Parses a Mustache template into mustache.js's token tree; throws mustache.js's errors. */
export const parseMustacheTokens = (template: string): MustacheToken[] => {
  if (template === "") return []
  const tokens: Array<MustacheToken | null> = []
  const sections: MustacheToken[] = []
  // the current line: indexes of its white-space tokens, whether it has a tag, whether it has anything else
  let spaces: number[] = []
  let hasTag = false
  let nonSpace = false
  const stripSpace = () => {
    if (hasTag && !nonSpace) for (const i of spaces) tokens[i] = null
    spaces = []
    hasTag = false
    nonSpace = false
  }
  /** text as runs: white space without a line end, one line end, or other characters */
  const pushText = (text: string, start: number) => {
    let i = 0
    while (i < text.length) {
      const c = text[i]!
      let j = i + 1
      if (c === "\n") {
        tokens.push(["text", c, start + i, start + j])
        spaces.push(tokens.length - 1)
        stripSpace()
      } else if (isSpace(c)) {
        SPACE_RUN.lastIndex = i
        SPACE_RUN.exec(text)
        j = SPACE_RUN.lastIndex
        spaces.push(tokens.push(["text", text.slice(i, j), start + i, start + j]) - 1)
      } else {
        NON_SPACE_RUN.lastIndex = i
        NON_SPACE_RUN.exec(text)
        j = NON_SPACE_RUN.lastIndex
        nonSpace = true
        tokens.push(["text", text.slice(i, j), start + i, start + j])
      }
      i = j
    }
  }

  let tags: Delimiters = { open: "{{", close: "}}" }
  let pos = 0
  while (pos < template.length) {
    const openAt = template.indexOf(tags.open, pos)
    const textEnd = openAt < 0 ? template.length : openAt
    if (textEnd > pos) pushText(template.slice(pos, textEnd), pos)
    pos = textEnd
    if (openAt < 0) break
    pos = skipSpaces(template, pos + tags.open.length)
    hasTag = true
    const typed = TAG_TYPES.includes(template[pos] ?? "") && pos < template.length
    const type = typed ? template[pos]! : "name"
    if (typed) pos++
    pos = skipSpaces(template, pos)
    // the value runs to the closing delimiter, white space before it excluded
    const until = (needle: string) => {
      const at = searchSpacedNeedle(template, needle, pos)
      const end = at < 0 ? template.length : at
      const value = template.slice(pos, end)
      pos = end
      return value
    }
    let value: string
    let tokenType = type
    if (type === "=") {
      value = until("=")
      const after = matchSpacedNeedle(template, "=", pos)
      if (after >= 0) pos = after
      until(tags.close)
    } else if (type === "{") {
      value = until(`}${tags.close}`)
      const after = matchSpacedNeedle(template, "}", pos)
      if (after >= 0) pos = after
      until(tags.close)
      tokenType = "&"
    } else {
      value = until(tags.close)
    }
    const closed = matchSpacedNeedle(template, tags.close, pos)
    if (closed < 0) throw new Error(`Unclosed tag at ${pos}`)
    pos = closed
    const token: MustacheToken = [tokenType, value, textEnd, pos]
    tokens.push(token)
    if (tokenType === "#" || tokenType === "^") {
      sections.push(token)
    } else if (tokenType === "/") {
      const open = sections.pop()
      if (open === undefined) throw new Error(`Unopened section "${value}" at ${token[2]}`)
      if (open[1] !== value) throw new Error(`Unclosed section "${open[1]}" at ${token[2]}`)
    } else if (tokenType === "name" || tokenType === "&") {
      nonSpace = true
    } else if (tokenType === "=") {
      tags = delimitersOf(value)
    }
  }
  stripSpace()
  const open = sections.pop()
  if (open !== undefined) throw new Error(`Unclosed section "${open[1]}" at ${pos}`)
  return nest(squash(tokens))
}
