import { attributionKind, datedAddress, endsWithColon, MAX_ATTRIBUTION, structuralAttribution } from "./lexicon/AttributionMatcher.js"
import {
  ATTRIBUTION_ADDRESS,
  ATTRIBUTION_END,
  ATTRIBUTION_START,
  BANNER,
  BEGIN_FORWARDED,
  FROM_LINE,
  NOTES_HEADER,
  OTHER_HEADER_LINE,
  SENT_FROM
} from "./ReplyLexicon.js"

/** An attribution, banner or header line is never longer than this; longer lines are plain content. */
export const MAX_SEPARATOR_LINE = 1024
/** how many lines below "From:" the next header label ("Sent:", "To:", …) may appear (wrapped values) */
const HEADER_BLOCK_LOOKAHEAD = 6
/** how many lines above a detected line its insertion point may lie (wrapped attribution, "____" rule) */
const MAX_LINES_BACK = 3

/** what a scanner reports about the text it was shown */
export interface ScanResult {
  /** where the signature goes (start of the separator), if found */
  readonly hit?: number
  /** everything before this index can never become (part of) a separator: it may be emitted */
  readonly safe: number
}

/** A separator scanner over a growing window whose front the owner may drop (`shift`). */
export interface SeparatorScanner {
  scan(text: string, final: boolean): ScanResult
  shift(n: number): void
  /**
   * false once text above the insertion point may be quoted history (a
   * bottom-posted HTML reply): an earlier signature in there is the quoted
   * sender's, so "already signed" texts are no longer looked for
   */
  readonly needlesApply?: boolean
}

/** Outlook's "____" rule (or a "-----" one in some renderings) above the From: block */
const UNDERSCORE_RULE = /^[ \t]*(?:_{10,}|-{10,})[ \t]*$/
const QUOTE_LINE = /^[ \t]*>/
/** lines that open a quote (as opposed to banners and header blocks, which open a forward) */
const QUOTE_OPENER = new RegExp(`^[ \\t]*>|${ATTRIBUTION_END.source}|[:：]\\s*$`, "iu")
const SIGNATURE_DELIMITER = /^--\s*$/
/** a bottom-posted quote block held as the insertion candidate longer than this is taken as the last one */
export const MAX_CANDIDATE_SPAN = 16 * 1024

/**
 * Plain-text reply separators: attribution lines ("On … wrote:" and
 * translations, also wrapped over two lines), Outlook's "From:/Sent:" block,
 * "-----Original Message-----" banners, a "____" rule above "From:", and the
 * first ">" quote block. Scans line by line; the line starts it has seen are
 * kept (few: only those within `MAX_LINES_BACK`) to look back from a match.
 */
export class TextSeparatorScanner implements SeparatorScanner {
  /** index of the first line not yet fully judged */
  private pos = 0
  /** starts of the most recent judged lines (for look-back), newest last */
  private recent: Array<number> = []
  /** the line being skipped because it is too long to be a separator */
  private inLongLine = false
  /** a non-blank line that is not a separator was seen (new text above any quote) */
  private sawContent = false
  private layout: "top" | "bottom" = "top"
  private inQuote = false
  private inSignOff = false
  /** bottom-posted: start of the quote block after the latest new text */
  private candidate: number | undefined
  /** the line above is a long one skipped before its end (`longLine`), and whether it was blank */
  private prevLong: "blank" | "content" | undefined

  shift(n: number): void {
    this.pos -= n
    if (this.candidate !== undefined) this.candidate -= n
    this.recent = this.recent.map((s) => s - n).filter((s) => s >= 0)
  }

  scan(text: string, final: boolean): ScanResult {
    for (;;) {
      const start = this.pos
      const nl = text.indexOf("\n", start)
      if (nl < 0 && !final) {
        if (this.inLongLine || text.length - start > MAX_SEPARATOR_LINE) {
          // too long to be a separator: skip it without holding it, judged by its head as when read whole
          if (!this.inLongLine) {
            const verdict = this.longLine(text.slice(start, start + MAX_SEPARATOR_LINE + 1), start)
            if (verdict !== undefined) return { hit: verdict, safe: verdict }
          }
          this.inLongLine = true
          this.pos = text.length
          // a quote candidate that starts with (or above) this line stays, until it is certain
          if (this.candidate === undefined) return { safe: text.length }
          if (text.length - this.candidate >= MAX_CANDIDATE_SPAN) return { hit: this.candidate, safe: this.candidate }
          return { safe: this.candidate }
        }
        return { safe: this.safePoint(start) }
      }
      const end = nl < 0 ? text.length : nl + 1
      if (start >= text.length) {
        if (final && this.candidate !== undefined) return { hit: this.candidate, safe: this.candidate }
        return { safe: this.safePoint(start) }
      }
      if (this.inLongLine) {
        this.inLongLine = false
        this.pos = end
        continue
      }
      if ((nl < 0 ? text.length : nl) - start > MAX_SEPARATOR_LINE) {
        // read whole, a line too long to be a separator is judged as when read before its end: by its head
        const verdict = this.longLine(text.slice(start, start + MAX_SEPARATOR_LINE + 1), start)
        if (verdict !== undefined) return { hit: verdict, safe: verdict }
      } else {
        const line = lineAt(text, start, end)
        const verdict = this.layout === "bottom" ? this.follow(line, start) : this.judge(text, start, end, final)
        if (verdict === "wait") return { safe: this.safePoint(start) }
        if (verdict !== undefined) {
          if (this.layout === "bottom" || this.sawContent || !QUOTE_OPENER.test(line)) return { hit: verdict, safe: verdict }
          // nothing written above the first quote: a bottom-posted or interleaved reply
          this.layout = "bottom"
          this.inQuote = true
        } else if (line.trim() !== "") {
          this.sawContent = true
        }
        this.remember(start)
      }
      this.pos = end
      if (end >= text.length) {
        if (final && this.candidate !== undefined) return { hit: this.candidate, safe: this.candidate }
        return { safe: this.safePoint(end) }
      }
    }
  }

  /**
   * Bottom-posted and interleaved replies: the signature goes after the last
   * new text, before the quote block that follows it (kept as a candidate
   * until more new text shows it was not the last), else at the end. A "-- "
   * sign-off after that quote does not count as new text.
   */
  private follow(line: string, start: number): number | undefined {
    if (this.candidate !== undefined && start - this.candidate > MAX_CANDIDATE_SPAN) return this.candidate
    if (line.trim() === "") return undefined
    if (QUOTE_LINE.test(line) || (!this.inQuote && ATTRIBUTION_END.test(line) && line.length <= 400)) {
      if (!this.inQuote && !this.inSignOff) this.candidate ??= start
      this.inQuote = true
      return undefined
    }
    if (this.candidate !== undefined && SIGNATURE_DELIMITER.test(line)) this.inSignOff = true
    if (this.inSignOff) return undefined
    this.inQuote = false
    this.candidate = undefined
    return undefined
  }

  /**
   * A line too long to be a separator, by its head (its first MAX_SEPARATOR_LINE + 1 characters,
   * all a scan has seen of it when it is read before its end, and all that is read of it when it
   * is read whole, so both judge it alike; it is not held). At the top it is new text unless its
   * head is blank; below a bottom-posted quote `follow` reads the head (a quote line, blank, or
   * new text). Lines above it are not looked back at through it:
   * a look-back meets it first and stops (it is no wrapped attribution, header or colon line),
   * and whether it was blank is all a quote below it asks (`prevLong`).
   */
  private longLine(start: string, at: number): number | undefined {
    const blank = start.trim() === ""
    const verdict = this.layout === "bottom" ? this.follow(start, at) : undefined
    if (this.layout === "top" && !blank) this.sawContent = true
    this.recent = []
    this.prevLong = blank ? "blank" : "content"
    return verdict
  }

  private remember(start: number): void {
    this.prevLong = undefined
    this.recent.push(start)
    if (this.recent.length > MAX_LINES_BACK) this.recent.shift()
  }

  private safePoint(current: number): number {
    const back = this.recent.length > 0 ? Math.min(current, this.recent[0]) : current
    return this.candidate !== undefined ? Math.min(back, this.candidate) : back
  }

  /** the insertion index if the line at `start` starts a separator, "wait" if more lines are needed */
  private judge(text: string, start: number, end: number, final: boolean): number | "wait" | undefined {
    const line = lineAt(text, start, end)
    if (line.length > MAX_SEPARATOR_LINE) return undefined
    if (BANNER.test(line) || BEGIN_FORWARDED.test(line) || NOTES_HEADER.test(line)) return start
    const quote = this.quoteAt(text, start)
    if (quote !== undefined) return quote
    const attribution = this.attribution(text, start, end, final)
    if (attribution !== undefined) return attribution
    if (SENT_FROM.test(line)) {
      // the sign-off stays with the new text; text after it (if any) is the appended original
      const after = nextContentLine(text, end)
      if (after === "wait") return final ? undefined : "wait"
      if (after !== undefined) return after
    }
    if (FROM_LINE.test(line) || UNDERSCORE_RULE.test(line)) {
      const lookahead = nextLines(text, end, HEADER_BLOCK_LOOKAHEAD)
      const bounded = text.length - end > MAX_SEPARATOR_LINE * HEADER_BLOCK_LOOKAHEAD
      if (!final && !bounded && lookahead.complete < HEADER_BLOCK_LOOKAHEAD) return "wait"
      const others = lookahead.lines
      const isBlock = FROM_LINE.test(line)
        ? others.some((l) => OTHER_HEADER_LINE.test(l))
        : others.slice(0, 2).some((l) => FROM_LINE.test(l) || OTHER_HEADER_LINE.test(l))
      if (isBlock) return this.blockTop(text, start)
    }
    return undefined
  }

  /**
   * An attribution line, alone or wrapped by its client over up to three
   * lines (the shortest reading wins, so new text right above is never taken
   * in): a dated form of the lexicon is enough; an author-only form ("Bob
   * wrote:") needs an address, a digit or quoted lines below it; the
   * structural fallback (a date, a name or address, a colon) needs quoted
   * lines below it.
   */
  private attribution(text: string, start: number, end: number, final: boolean): number | "wait" | undefined {
    const line = lineAt(text, start, end)
    if (line.length > MAX_ATTRIBUTION) return undefined
    if (!endsWithColon(line) && !datedAddress(line)) return undefined
    let joined = line
    let from = start
    let weak: number | undefined
    for (let k = 0; k <= 2; k++) {
      if (k > 0) {
        const above = this.recent[this.recent.length - k]
        if (above === undefined) break
        const upper = lineAt(text, above, from)
        // a wrapped attribution's head never ends a sentence or a label of its own
        if (upper.trim() === "" || QUOTE_LINE.test(upper) || WRAP_STOP.test(upper) || joined.length + upper.length > MAX_ATTRIBUTION) break
        joined = `${upper.trimEnd()} ${joined.trimStart()}`
        from = above
      }
      const kind = attributionKind(joined) ?? (ATTRIBUTION_END.test(joined) ? "author" : undefined)
      // a dated reading wins at once; a weaker one may still be the tail of a wrapped dated one above
      if (kind === "dated") return from
      if (weak !== undefined) continue
      if (kind === "author" && (ATTRIBUTION_START.test(joined) || /@|<|\d|[\u3040-\u30ff\u4e00-\u9fff]/u.test(joined))) {
        weak = from
      } else {
        // the address form ("11:00 AM, 17 Nov 2021, Bob <bob@example.com>:") is read on the line alone
        const address = k === 0 && joined.includes("@") && ATTRIBUTION_ADDRESS.test(joined)
        if (address) weak = from
        else if (kind === "author" || structuralAttribution(joined)) {
          const quoted = quotedBelow(text, end)
          if (quoted === "wait") return final ? undefined : "wait"
          if (quoted) weak = from
        }
      }
    }
    return weak
  }

  /**
   * Where a header block found at its sender line starts: other header lines
   * right above it belong to it (GMX and Web.de write "Gesendet:" first,
   * Roundcube "Subject:" and "Date:"), and so does a framed title right above
   * those ("-------- Oprindelig besked --------", in whatever language).
   */
  private blockTop(text: string, start: number): number {
    let top = start
    for (let k = this.recent.length - 1; k >= 0; k--) {
      const line = lineAt(text, this.recent[k], top)
      if (OTHER_HEADER_LINE.test(line)) top = this.recent[k]
      else {
        if (FRAMED_TITLE.test(line)) top = this.recent[k]
        break
      }
    }
    return top
  }

  /** a ">" line that opens a quote block: preceded by a blank line or the start of the text */
  private quoteAt(text: string, start: number): number | undefined {
    if (!QUOTE_LINE.test(text.slice(start, start + 64))) return undefined
    // a long line above: a blank one is a gap, any other is no colon line introducing the quote
    if (this.prevLong !== undefined) return this.prevLong === "blank" ? start : undefined
    const prevStart = this.recent[this.recent.length - 1]
    if (start === 0 || prevStart === undefined) return start
    const prev = lineAt(text, prevStart, start)
    if (prev.trim() === "") return start
    // any short line ending with a colon right above a quote block introduces it ("… írta:")
    return prev.length <= 400 && /[:：]\s*$/.test(prev) && !QUOTE_LINE.test(prev) ? prevStart : undefined
  }
}

/** a line ending like this is not the wrapped head of an attribution below it */
const WRAP_STOP = /[:：!?]\s*$/
/** a short title between rules of dashes, underscores, equals signs or stars */
const FRAMED_TITLE = /^[ \t>]*[-_=*]{2,}[ \t]*[^-_=*\s][^-_=*]{0,60}?[ \t]*[-_=*]{2,}[ \t]*$/u

/** is the first non-blank line at or after `from` a quoted (">") line; "wait" while it has not arrived */
const quotedBelow = (text: string, from: number): boolean | "wait" => {
  const at = nextContentLine(text, from)
  if (at === "wait") return "wait"
  return at !== undefined && QUOTE_LINE.test(text.slice(at, at + 64))
}

const lineAt = (text: string, start: number, end: number): string => {
  let e = end
  if (e > start && text.charCodeAt(e - 1) === 10) e--
  if (e > start && text.charCodeAt(e - 1) === 13) e--
  return text.slice(start, e)
}

/** up to `max` complete lines after `from` (blank lines skipped but counted) */
const nextLines = (text: string, from: number, max: number): { lines: Array<string>; complete: number } => {
  const lines: Array<string> = []
  let pos = from
  let complete = 0
  while (complete < max) {
    const nl = text.indexOf("\n", pos)
    if (nl < 0) {
      if (pos < text.length) lines.push(lineAt(text, pos, text.length))
      break
    }
    const l = lineAt(text, pos, nl + 1)
    if (l.trim() !== "") lines.push(l)
    complete++
    pos = nl + 1
    if (pos - from > MAX_SEPARATOR_LINE * max) return { lines, complete: max }
  }
  return { lines, complete }
}

/** start of the first non-blank line at or after `from`; "wait" while it has not arrived */
const nextContentLine = (text: string, from: number): number | undefined | "wait" => {
  let pos = from
  for (let n = 0; n < HEADER_BLOCK_LOOKAHEAD; n++) {
    if (pos >= text.length) return "wait"
    const nl = text.indexOf("\n", pos)
    const line = lineAt(text, pos, nl < 0 ? text.length : nl + 1)
    if (line.trim() !== "") return pos
    if (nl < 0) return "wait"
    pos = nl + 1
  }
  return undefined
}
