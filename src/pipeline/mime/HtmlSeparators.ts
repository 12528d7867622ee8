import { blockStart, hoist, lineBefore, MAX_LOOKBACK, parseTag, type Reach, type Tag, visibleText } from "./HtmlTokens.js"
import { attributionKind, MAX_ATTRIBUTION, structuralAttribution } from "./lexicon/AttributionMatcher.js"
import { ATTRIBUTION_END, BANNER_PHRASES, FROM_LABELS, OTHER_LABELS } from "./ReplyLexicon.js"
import { MAX_CANDIDATE_SPAN, type ScanResult, type SeparatorScanner } from "./TextSeparators.js"

/** how much HTML after a candidate is read to confirm it (the "From:/Sent:" lines under a rule) */
export const HTML_LOOKAHEAD = 2048
/** a tag, comment or text run longer than this is not waited for: it is judged as it is */
const MAX_TOKEN = 16 * 1024
/**
 * How much text before the token being judged is kept, and the furthest back
 * any look-back may read: an attribution of up to three lines, each found by
 * a walk of MAX_LOOKBACK, then hoisted. Reading nothing before it, and
 * everything after it being kept, a judgement is the same however the part
 * was cut into writes (a walk used to run on to the start of the held text,
 * which depended on the cuts).
 */
export const HTML_RETAIN = 4 * MAX_LOOKBACK

/** class/id values that mark the start of the quoted part, per client */
const QUOTE_CONTAINER =
  /\b(?:id|class|name)\s*=\s*["']?[^"'>]*?(?:divRplyFwdMsg|appendonsend|mail-editor-reference-message-container|OLK_SRC_BODY_SECTION|gmail_quote|moz-cite-prefix|moz-forward-container|yahoo_quoted|zwchr|stopSpelling|replyforward|protonmail_quote|zmail_extra|domino-section)/i

/** Outlook desktop, Windows Mail, Notes: a rule drawn as the top border of the header block */
const BORDER_TOP_RULE = /border-top\s*:[^"'>;]*solid|border-top-style\s*:\s*solid/i

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
const LABELS = `(?:${[...FROM_LABELS, ...OTHER_LABELS].map(escapeRegExp).join("|")})`
const HEADER_LABEL_FIRST = new RegExp(`^\\s*\\*?${LABELS}\\s?\\*?\\s?[:：]`, "iu")
const FROM_LABEL_FIRST = new RegExp(`^\\s*\\*?(?:${FROM_LABELS.map(escapeRegExp).join("|")})\\s?\\*?\\s?[:：]`, "iu")
const BANNER_ANYWHERE = new RegExp(`[-_=*]{2,}\\s*(?:${BANNER_PHRASES.map(escapeRegExp).join("|")})\\s*[-_=*]{2,}|begin forwarded message\\s*:`, "iu")

const MAYBE_BANNER = /--|__|==|\*\*|begin forwarded/i
/** Notes' "-----"John" <john@example.com> wrote: -----" as HTML text */
const NOTES_ANYWHERE = /-{3,}\s*[^<>]{1,200}?\s(?:wrote|schrieb|a écrit|escribió|ha scritto)\s*[:：]?\s*-{3,}/iu
const MAYBE_LABEL = /^(?:\s|&nbsp;|\*)*[^\s:：<]{1,24}(?:\s|&nbsp;)?\*?(?:\s|&nbsp;)?[:：]/iu

/** a text run a reader sees (not only whitespace and non-breaking spaces) */
const VISIBLE = /[^\s\u00a0]/u
const NBSP_ONLY = /^(?:\s|&nbsp;|&#160;|&#xa0;)*$/i

type Verdict = number | "wait" | undefined

/**
 * HTML reply separators of the common clients, scanned tag by tag over a
 * growing window: quote containers by class/id (Outlook on the web and new
 * Outlook, Gmail, Thunderbird, Yahoo, Zimbra, Hotmail), `<blockquote>` with
 * its attribution line (Apple Mail, iOS, mail.ru, Yandex), Outlook desktop's
 * bordered "From:/Sent:" block or `<hr>` above it, "-----Original
 * Message-----" banners, a bare "From:/Sent:" block, and finally `</body>`.
 * The hit is always the start of an element or of a visual line, never the
 * middle of a tag.
 */
export class HtmlSeparatorScanner implements SeparatorScanner {
  private pos = 0
  /** characters of the part already let go (shifted out) before index 0 */
  private base = 0
  private inHead = false
  /** start of the first text run with visible text in the body (new text above a quote) */
  private firstContent: number | undefined
  /** the latest hit opens a quoted reply (not a forward) */
  private replyQuote = false
  /** bottom-posted (Thunderbird's default): the quote came first, the signature goes after the last new text */
  private bottom = false
  /** bottom-posted: blockquotes open around the current position */
  private quoteDepth = 0
  /** bottom-posted: new text was written since the last quote */
  private newSinceQuote = false
  /** bottom-posted: where the quote after the latest new text starts (interleaved replies), until more new text shows up */
  private candidate: number | undefined

  shift(n: number): void {
    this.base += n
    this.pos = Math.max(0, this.pos - n)
    if (this.firstContent !== undefined) this.firstContent -= n
    if (this.candidate !== undefined) this.candidate -= n
  }

  get needlesApply(): boolean {
    return !this.bottom
  }

  /** a quoted reply with no new text above it: the reply is below it */
  private bottomPosted(hit: number): boolean {
    return this.replyQuote && (this.firstContent === undefined || this.firstContent >= hit)
  }

  scan(html: string, final: boolean): ScanResult {
    while (this.pos < html.length) {
      const pos = this.pos
      if (html.charCodeAt(pos) === 60 /* < */) {
        const skipped = this.skipOpaque(html, pos, final)
        if (skipped === "wait") return this.wait(pos)
        if (skipped !== undefined) {
          this.pos = skipped
          continue
        }
        const gt = html.indexOf(">", pos + 1)
        if (gt < 0) {
          if (!final && html.length - pos <= MAX_TOKEN) return this.wait(pos)
          this.pos = pos + 1
          continue
        }
        const tag = parseTag(html, pos, gt + 1)
        if (tag === undefined) {
          this.pos = pos + 1
          continue
        }
        if (tag.name === "head") this.inHead = !tag.closing
        if (tag.name === "body" && !tag.closing) this.inHead = false
        if (this.bottom) {
          const hit = this.followTag(html, tag)
          if (hit !== undefined) return { hit, safe: hit }
          this.pos = tag.end
          continue
        }
        this.replyQuote = false
        const verdict = this.judgeTag(html, tag, final)
        if (verdict === "wait") return this.wait(pos)
        if (verdict !== undefined && this.bottomPosted(verdict)) {
          this.bottom = true
          if (tag.name === "blockquote" && !tag.closing) this.quoteDepth = 1
          this.pos = tag.end
          continue
        }
        if (verdict !== undefined) return { hit: verdict, safe: verdict }
        this.pos = tag.end
      } else {
        const lt = html.indexOf("<", pos)
        const end = lt < 0 ? html.length : lt
        if (lt < 0 && !final && end - pos <= MAX_TOKEN) return this.wait(pos)
        const verdict = this.bottom ? undefined : this.judgeText(html, pos, end, final)
        if (verdict === "wait") return this.wait(pos)
        if (verdict !== undefined) return { hit: verdict, safe: verdict }
        const run = html.slice(pos, end)
        if (!this.inHead && VISIBLE.test(run) && !NBSP_ONLY.test(run)) {
          this.firstContent ??= pos
          if (this.bottom && this.quoteDepth === 0) {
            this.newSinceQuote = true
            this.candidate = undefined
          }
        }
        this.pos = end
      }
    }
    return this.wait(this.pos)
  }

  /**
   * Bottom-posted and interleaved replies: a quote opened after new text is
   * where the signature goes, unless more new text follows it; `</body>`
   * decides (or a candidate held longer than MAX_CANDIDATE_SPAN).
   */
  private followTag(html: string, tag: Tag): number | undefined {
    if (this.candidate !== undefined && tag.start - this.candidate > MAX_CANDIDATE_SPAN) return this.candidate
    if (tag.closing && tag.name === "body") return this.candidate ?? tag.start
    if (tag.name !== "blockquote") return undefined
    if (tag.closing) {
      this.quoteDepth = Math.max(0, this.quoteDepth - 1)
      return undefined
    }
    if (this.quoteDepth === 0 && this.newSinceQuote) {
      const cite = /\btype\s*=\s*["']?cite/i.test(html.slice(tag.start, tag.end))
      this.candidate = hoist(html, attributionBefore(html, tag.start, cite, this.reach)?.start ?? tag.start, this.reach)
      this.newSinceQuote = false
    }
    this.quoteDepth++
    return undefined
  }

  /** what the look-backs of a judgement at the current position may read */
  private get reach(): Reach {
    return { limit: Math.max(0, this.pos - HTML_RETAIN), origin: -this.base }
  }

  /** nothing before the look-back reach of the first unjudged token (nor a held candidate) can still change */
  private wait(pos: number): ScanResult {
    this.pos = pos
    const safe = Math.max(0, pos - HTML_RETAIN)
    return { safe: this.candidate !== undefined ? Math.min(safe, this.candidate) : safe }
  }

  /** comments, `<style>` and `<script>` bodies hold no separators (but do hold CSS like `border-top:solid`) */
  private skipOpaque(html: string, pos: number, final: boolean): number | "wait" | undefined {
    const head = html.slice(pos, pos + 8).toLowerCase()
    const element = /^<(style|script)\b/.exec(head)
    const close = head.startsWith("<!--") ? /-->/g : element !== null ? new RegExp(`</${element[1]}`, "gi") : undefined
    if (close === undefined) return undefined
    close.lastIndex = pos + 4
    const found = close.exec(html)
    if (found !== null) return found.index + found[0].length
    if (!final && html.length - pos <= MAX_TOKEN) return "wait"
    return undefined
  }

  private judgeTag(html: string, tag: Tag, final: boolean): Verdict {
    const text = html.slice(tag.start, tag.end)
    if (tag.closing) return tag.name === "body" ? tag.start : undefined
    if (QUOTE_CONTAINER.test(text)) {
      this.replyQuote = /moz-cite-prefix/i.test(text)
      return hoist(html, tag.start, this.reach)
    }
    if (tag.name === "blockquote") {
      const cite = /\btype\s*=\s*["']?cite/i.test(text)
      const line = attributionBefore(html, tag.start, cite, this.reach)
      if (line !== undefined) {
        this.replyQuote = ATTRIBUTION_END.test(line.text) || attributionKind(line.text) !== undefined
        return hoist(html, line.start, this.reach)
      }
      if (!cite) return undefined
      // Apple Mail puts the attribution inside: "On … wrote:" is a reply, "Begin forwarded message:" is not
      const inside = ahead(html, tag.end, final)
      if (inside === "wait") return "wait"
      this.replyQuote = ATTRIBUTION_END.test(inside.trimStart().split("\n")[0] ?? "")
      return hoist(html, tag.start, this.reach)
    }
    const ruled = tag.name === "hr" || (["div", "p", "td", "table"].includes(tag.name) && BORDER_TOP_RULE.test(text))
    if (ruled) {
      const after = ahead(html, tag.end, final)
      if (after === "wait") return "wait"
      if (HEADER_LABEL_FIRST.test(after) || BANNER_ANYWHERE.test(after.slice(0, 200))) return hoist(html, tag.start, this.reach)
    }
    return undefined
  }

  private judgeText(html: string, start: number, end: number, final: boolean): Verdict {
    const run = html.slice(start, end)
    // cheap filters first: most text runs are neither a banner nor a header label
    const banner = MAYBE_BANNER.test(run) ? (BANNER_ANYWHERE.exec(run) ?? NOTES_ANYWHERE.exec(run)) : null
    if (banner !== null) {
      const at = start + banner.index
      return hoist(html, blockStart(html, at, this.reach), this.reach)
    }
    if (MAYBE_LABEL.test(run.slice(0, 80)) && HEADER_LABEL_FIRST.test(visibleText(run))) {
      const lineStart = blockStart(html, start, this.reach)
      if (visibleText(html.slice(lineStart, start)).trim() !== "") return undefined
      const after = ahead(html, start, final)
      if (after === "wait") return "wait"
      // a header block: its sender line and one more label within a few lines, whichever label comes first
      const lines = after
        .split("\n")
        .filter((l) => l.trim() !== "")
        .slice(0, 9)
      if (FROM_LABEL_FIRST.test(lines[0] ?? "") || lines.slice(1).some((l) => FROM_LABEL_FIRST.test(l))) {
        if (lines.slice(1).some((l) => HEADER_LABEL_FIRST.test(l))) return hoist(html, lineStart, this.reach)
      }
    }
    if (this.firstContent !== undefined && QUOTED_RUN.test(run)) {
      // '>'-quoted lines of a plain reply rendered as HTML: above them, or above their attribution
      const lineStart = blockStart(html, start, this.reach)
      if (visibleText(html.slice(lineStart, start)).trim() !== "") return undefined
      const line = attributionBefore(html, lineStart, false, this.reach)
      return hoist(html, line?.start ?? lineStart, this.reach)
    }
    return undefined
  }
}

/** a text run that starts a '>'-quoted line ("&gt; …" as HTML writes it) */
const QUOTED_RUN = /^(?:\s|&nbsp;)*(?:&gt;|>)(?!\s*[:：])/i

/**
 * The attribution on the visual lines right above `index` (a blockquote or
 * quoted lines): the line before, joined with up to two lines above it when a
 * client wrapped it with <br>. Read by the lexicon, the structural rule (a
 * date, a name, a colon), or, below a cite blockquote, any short line ending
 * in a colon. "Here is the list:" above one's own blockquote is none of these.
 */
const attributionBefore = (html: string, index: number, cite: boolean, reach: Reach): { text: string; start: number } | undefined => {
  const first = lineBefore(html, index, reach)
  if (first === undefined || first.text.length > MAX_ATTRIBUTION || !/[:：]$/.test(first.text)) return undefined
  const weakFirst = attributionKind(first.text) !== undefined || structuralAttribution(first.text) || cite || /\d|@/.test(first.text)
  let joined = first
  let weak: { text: string; start: number } | undefined = weakFirst ? first : undefined
  for (let k = 0; k <= 2; k++) {
    const kind = attributionKind(joined.text)
    if (kind === "dated") return joined
    if (k > 0 && weak === undefined && (kind !== undefined || structuralAttribution(joined.text))) weak = joined
    const above = lineBefore(html, joined.start, reach)
    if (above === undefined || above.text === "" || /[:：!?]$/.test(above.text)) break
    if (above.text.length + joined.text.length > MAX_ATTRIBUTION) break
    joined = { text: `${above.text} ${joined.text}`, start: above.start }
  }
  return weak
}

const ahead = (html: string, from: number, final: boolean): string | "wait" =>
  !final && html.length - from < HTML_LOOKAHEAD ? "wait" : visibleText(html.slice(from, from + HTML_LOOKAHEAD))
