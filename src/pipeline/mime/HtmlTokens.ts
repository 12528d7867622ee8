/**
 * Small, forgiving helpers over raw HTML text for the separator scanner:
 * no DOM, no full parser, every walk bounded by a named distance so the
 * stamper's window stays bounded.
 */

/** how far back a look-back (block start, attribution line, hoisting) may walk */
export const MAX_LOOKBACK = 2048

/**
 * How far back the text a look-back reads may lie, in the window the caller
 * holds: `limit`, the first index any walk may read (the caller keeps
 * everything from there), and `origin`, where the part's text begins (0, or
 * negative once the caller has let the start of the text go). A walk that
 * reads only from `limit` on, and takes only `origin` for the start of the
 * text, sees the same characters however the text reached the caller.
 */
export interface Reach {
  readonly limit: number
  readonly origin: number
}

/** the whole text is held */
export const WHOLE: Reach = { limit: 0, origin: 0 }

const floorOf = (index: number, reach: Reach): number => Math.max(reach.limit, index - MAX_LOOKBACK)

const BLOCK_TAGS = new Set([
  "p",
  "div",
  "br",
  "hr",
  "blockquote",
  "table",
  "tbody",
  "thead",
  "tr",
  "td",
  "th",
  "li",
  "ul",
  "ol",
  "body",
  "html",
  "head",
  "center",
  "pre",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "section",
  "article",
  "header",
  "footer",
  "dl",
  "dt",
  "dd"
])

/** containers a separator element may be hoisted out of when it is their first content */
const HOISTABLE = new Set(["div", "span", "font", "p", "center", "table", "tbody", "tr", "td", "b", "i", "blockquote", "section", "article"])

export interface Tag {
  readonly start: number
  readonly end: number // index after ">"
  readonly name: string // lower case, without "/"
  readonly closing: boolean
}

/** the tag ending at `gt` (the index of its ">"), if it looks like one and starts at `limit` or after */
export const tagEndingAt = (html: string, gt: number, limit = 0): Tag | undefined => {
  const lt = html.lastIndexOf("<", gt)
  if (lt < limit || gt - lt > MAX_LOOKBACK) return undefined
  return parseTag(html, lt, gt + 1)
}

export const parseTag = (html: string, start: number, end: number): Tag | undefined => {
  const m = /^<(\/?)([a-zA-Z][a-zA-Z0-9:-]*)/.exec(html.slice(start, Math.min(end, start + 64)))
  if (m === null) return undefined
  return { start, end, name: m[2].toLowerCase(), closing: m[1] === "/" }
}

const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13

/**
 * Where the visual line containing `index` starts: walking back over text and
 * inline tags to just after the nearest block boundary (`<br>`, `<div>`,
 * `</p>`, …).
 */
export const blockStart = (html: string, index: number, reach: Reach = WHOLE): number => {
  const floor = floorOf(index, reach)
  let i = index
  while (i > floor) {
    const gt = html.lastIndexOf(">", i - 1)
    if (gt < floor) return floor === reach.origin ? floor : index
    const tag = tagEndingAt(html, gt, reach.limit)
    if (tag !== undefined && BLOCK_TAGS.has(tag.name)) return tag.end
    i = tag !== undefined ? tag.start : gt
  }
  return i
}

/**
 * Moves an insertion point back over the opening tags of the containers the
 * separator is the first content of (`<div><div class="gmail_quote">` →
 * before the outer `<div>`), and over an `<hr>` directly above it, so the
 * signature lands outside the quoted block, never inside a tag.
 */
export const hoist = (html: string, index: number, reach: Reach = WHOLE): number => {
  const floor = floorOf(index, reach)
  let i = index
  for (;;) {
    let j = i
    while (j > floor && isSpace(html.charCodeAt(j - 1))) j--
    if (j <= floor || html.charCodeAt(j - 1) !== 62 /* > */) return i
    const tag = tagEndingAt(html, j - 1, reach.limit)
    if (tag === undefined || tag.closing) return i
    if (!(HOISTABLE.has(tag.name) || tag.name === "hr")) return i
    i = tag.start
  }
}

const ENTITIES: Record<string, string> = { nbsp: " ", amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", "#39": "'" }

/** the text a reader sees in an HTML fragment (tags dropped, common entities decoded, spaces collapsed) */
export const visibleText = (fragment: string): string =>
  fragment
    .replace(/<(style|script)\b[\s\S]*?<\/\1\s*>/gi, " ")
    .replace(/<br\b[^>]*>|<\/(?:p|div|tr|li|h\d)\s*>/gi, "\n")
    .replace(/<[^>]*>/g, "")
    .replace(/&(nbsp|amp|lt|gt|quot|apos|#39);/gi, (_, e: string) => ENTITIES[e.toLowerCase()] ?? "")
    .replace(/[ \t\u00a0\u200e\u200f]+/g, " ")

/**
 * The text of the visual line that ends just before `index` (skipping block
 * tags and whitespace directly before it), with the index where that line
 * starts. Used to find the attribution above a `<blockquote>`.
 */
export const lineBefore = (html: string, index: number, reach: Reach = WHOLE): { text: string; start: number } | undefined => {
  const floor = floorOf(index, reach)
  let i = index
  for (;;) {
    while (i > floor && isSpace(html.charCodeAt(i - 1))) i--
    if (i <= floor) return undefined
    if (html.charCodeAt(i - 1) !== 62) break
    const tag = tagEndingAt(html, i - 1, reach.limit)
    if (tag === undefined || !BLOCK_TAGS.has(tag.name)) break
    i = tag.start
  }
  const start = blockStart(html, i, reach)
  if (start <= floor && start !== reach.origin) return undefined
  return { text: visibleText(html.slice(start, i)).trim(), start }
}
