import { blockStart, hoist, lineBefore, MAX_LOOKBACK, parseTag, type Tag, visibleText } from "./HtmlTokens.js"
import { ATTRIBUTION_END, FROM_LABELS, OTHER_HEADER_LINE, OTHER_LABELS } from "./ReplyLexicon.js"
import type { ScanResult, SeparatorScanner } from "./TextSeparators.js"

/** how much HTML after a candidate is read to confirm it (the "From:/Sent:" lines under a rule) */
export const HTML_LOOKAHEAD = 2048
/** a tag, comment or text run longer than this is not waited for: it is judged as it is */
const MAX_TOKEN = 16 * 1024

/** class/id values that mark the start of the quoted part, per client */
const QUOTE_CONTAINER =
  /\b(?:id|class|name)\s*=\s*["']?[^"'>]*?(?:divRplyFwdMsg|appendonsend|mail-editor-reference-message-container|OLK_SRC_BODY_SECTION|gmail_quote|moz-cite-prefix|moz-forward-container|yahoo_quoted|zwchr|stopSpelling|replyforward|protonmail_quote|zmail_extra|domino-section)/i

/** Outlook desktop, Windows Mail, Notes: a rule drawn as the top border of the header block */
const BORDER_TOP_RULE = /border-top\s*:[^"'>;]*solid|border-top-style\s*:\s*solid/i

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
const LABELS = `(?:${[...FROM_LABELS, ...OTHER_LABELS].map(escapeRegExp).join("|")})`
const HEADER_LABEL_FIRST = new RegExp(`^\\s*\\*?${LABELS}\\s?\\*?\\s?[:：]`, "iu")
const FROM_LABEL_FIRST = new RegExp(`^\\s*\\*?(?:${FROM_LABELS.map(escapeRegExp).join("|")})\\s?\\*?\\s?[:：]`, "iu")
const BANNER_ANYWHERE =
  /[-_=*]{2,}\s*(?:original message|forwarded message|ursprüngliche nachricht|weitergeleitete nachricht|message d['’]origine|message transféré|mensaje original|mensaje reenviado|messaggio originale|messaggio inoltrato|oorspronkelijk bericht|doorgestuurd bericht|originalmeddelande|oprindelig meddelelse|opprinnelig melding|alkuperäinen viesti|mensagem original|mensagem encaminhada|wiadomość oryginalna|przekazana wiadomość|původní zpráva|eredeti üzenet|исходное сообщение|пересылаемое сообщение|пересланное сообщение|原始邮件|原始郵件|转发邮件|元のメッセージ|転送メッセージ|원본 메시지)\s*[-_=*]{2,}|begin forwarded message\s*:/iu

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
  private inHead = false
  /** start of the first text run with visible text in the body (new text above a quote) */
  private firstContent: number | undefined
  /** the latest hit opens a quoted reply (not a forward) */
  private replyQuote = false
  /** bottom-posted (Thunderbird's default): the quote came first, the signature goes at the end */
  private bottom = false

  shift(n: number): void {
    this.pos = Math.max(0, this.pos - n)
    if (this.firstContent !== undefined) this.firstContent -= n
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
          if (tag.closing && tag.name === "body") return { hit: tag.start, safe: tag.start }
          this.pos = tag.end
          continue
        }
        this.replyQuote = false
        const verdict = this.judgeTag(html, tag, final)
        if (verdict === "wait") return this.wait(pos)
        if (verdict !== undefined && this.bottomPosted(verdict)) {
          this.bottom = true
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
        if (!this.inHead && VISIBLE.test(run) && !NBSP_ONLY.test(run)) this.firstContent ??= pos
        this.pos = end
      }
    }
    return this.wait(this.pos)
  }

  /** nothing before the look-back distance of the first unjudged token can still change */
  private wait(pos: number): ScanResult {
    this.pos = pos
    return { safe: Math.max(0, pos - MAX_LOOKBACK) }
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
      return hoist(html, tag.start)
    }
    if (tag.name === "blockquote") {
      const cite = /\btype\s*=\s*["']?cite/i.test(text)
      const line = lineBefore(html, tag.start)
      // "Here is the list:" above a blockquote of one's own is not an attribution: those name a date or an address
      const attribution =
        line !== undefined && line.text.length <= 400 && /[:：]$/.test(line.text) && (cite || /\d|@/.test(line.text))
      if (attribution) {
        this.replyQuote = ATTRIBUTION_END.test(line.text)
        return hoist(html, line.start)
      }
      if (!cite) return undefined
      // Apple Mail puts the attribution inside: "On … wrote:" is a reply, "Begin forwarded message:" is not
      const inside = ahead(html, tag.end, final)
      if (inside === "wait") return "wait"
      this.replyQuote = ATTRIBUTION_END.test(inside.trimStart().split("\n")[0] ?? "")
      return hoist(html, tag.start)
    }
    const ruled = tag.name === "hr" || (["div", "p", "td", "table"].includes(tag.name) && BORDER_TOP_RULE.test(text))
    if (ruled) {
      const after = ahead(html, tag.end, final)
      if (after === "wait") return "wait"
      if (HEADER_LABEL_FIRST.test(after) || BANNER_ANYWHERE.test(after.slice(0, 200))) return hoist(html, tag.start)
    }
    return undefined
  }

  private judgeText(html: string, start: number, end: number, final: boolean): Verdict {
    const run = html.slice(start, end)
    // cheap filters first: most text runs are neither a banner nor a header label
    const banner = MAYBE_BANNER.test(run) ? (BANNER_ANYWHERE.exec(run) ?? NOTES_ANYWHERE.exec(run)) : null
    if (banner !== null) {
      const at = start + banner.index
      return hoist(html, blockStart(html, at))
    }
    if (MAYBE_LABEL.test(run.slice(0, 80)) && FROM_LABEL_FIRST.test(visibleText(run))) {
      const lineStart = blockStart(html, start)
      if (visibleText(html.slice(lineStart, start)).trim() !== "") return undefined
      const after = ahead(html, start, final)
      if (after === "wait") return "wait"
      const lines = after.split("\n").slice(1, 9)
      if (lines.some((l) => OTHER_HEADER_LINE.test(l))) return hoist(html, lineStart)
    }
    return undefined
  }
}

const ahead = (html: string, from: number, final: boolean): string | "wait" =>
  !final && html.length - from < HTML_LOOKAHEAD ? "wait" : visibleText(html.slice(from, from + HTML_LOOKAHEAD))
