import { memo } from "./TextMemo.js"

/**
 * "Signature already present", over the whole thread text of one chosen part
 * (issue 14 item 6): the sender's new text, the quoted history and whatever a
 * client put below the quote. Streaming, with a bounded window: the decoded
 * text goes through once, and only the longest needle's worth of it (plus, in
 * text, the line being read) is kept.
 *
 * What counts as present:
 * - text: the sender's own signature text as Imprint renders it, or one of the
 *   tenant's skip-if-present texts. Quote prefixes (">", "> >", "> "), leading
 *   blanks (space-stuffing) and trailing blanks are taken off each line first, so a signature quoted over
 *   several lines at any depth is still one match.
 * - HTML: the sender's own element exactly as Imprint stamped it (its HTML
 *   names the sender; the marker alone names only the rule, which a
 *   colleague's signature in the quoted history carries too), or a
 *   skip-if-present text.
 */

/** needles longer than this are not looked for in the thread (the window would have to hold them) */
export const MAX_THREAD_NEEDLE = 8 * 1024
/** a text line longer than this is searched as it is, without waiting for its end */
const MAX_LINE = 64 * 1024

const isBlank = (c: number): boolean => c === 0x20 || c === 0x09

/**
 * One line as needles and the stream are compared: no quote prefix, no space-stuffing, no
 * trailing blanks. By index, instead of three regular expressions per line of every text part:
 * one CR off the end, then leading blanks, then ">" each with one optional blank after it, then
 * trailing blanks (what the expressions \r$, ^[ \t]*(?:>[ \t]?)* and [ \t]+$ took, in that order).
 */
const bare = (line: string): string => {
  let end = line.length
  if (end > 0 && line.charCodeAt(end - 1) === 0x0d) end--
  let start = 0
  while (start < end && isBlank(line.charCodeAt(start))) start++
  while (start < end && line.charCodeAt(start) === 0x3e /* > */) {
    start++
    if (start < end && isBlank(line.charCodeAt(start))) start++
  }
  while (end > start && isBlank(line.charCodeAt(end - 1))) end--
  return start === 0 && end === line.length ? line : line.slice(start, end)
}

/** a text needle as the stream is compared: CRLF lines, each bare */
export const normaliseTextNeedle = (text: string): string =>
  text
    .split(/\r\n|\r|\n/)
    .map(bare)
    .join("\r\n")
    .trim()

/** the same, kept per text (the needles are the tenant's and the sender's, the same message after message) */
const textNeedle = memo(normaliseTextNeedle)

export class ThreadPresence {
  private found = false
  /** no longer reading: what it found so far is all it will say (see `freeze`) */
  private frozen = false
  /** the end of what was searched, kept so a needle across writes is still seen */
  private tail = ""
  /** text: the line not yet complete */
  private line = ""
  private readonly needles: ReadonlyArray<string>
  private readonly keep: number

  constructor(
    private readonly kind: "html" | "text",
    needles: ReadonlyArray<string>
  ) {
    const usable = needles.map((n) => (kind === "text" ? textNeedle(n) : n)).filter((n) => n.length > 0 && n.length <= MAX_THREAD_NEEDLE)
    this.needles = [...new Set(usable)]
    this.keep = Math.max(0, ...this.needles.map((n) => n.length - 1))
  }

  /** one of the needles was read somewhere in the part so far */
  get present(): boolean {
    return this.found
  }

  /**
   * Stops reading: the part's held start has been read and the part leaves live from here, so
   * what comes later must not decide anything (how much of it arrived with the separator would
   * depend on how the message was cut into chunks).
   */
  freeze(): void {
    this.frozen = true
  }

  write(text: string): void {
    if (this.found || this.frozen || this.needles.length === 0) return
    if (this.kind === "html") return this.search(text)
    const lines = (this.line + text).split("\n")
    this.line = lines.pop()!
    let fresh = lines.map(bare).join("\r\n")
    if (lines.length > 0) fresh += "\r\n"
    if (this.line.length > MAX_LINE) {
      fresh += this.line
      this.line = ""
    }
    this.search(fresh)
  }

  end(): void {
    if (this.found || this.frozen || this.kind === "html" || this.line.length === 0) return
    const last = this.line
    this.line = ""
    this.search(bare(last))
  }

  private search(fresh: string): void {
    if (fresh.length === 0) return
    const window = this.tail + fresh
    if (this.needles.some((n) => window.includes(n))) this.found = true
    this.tail = this.keep === 0 ? "" : window.slice(-this.keep)
  }
}
