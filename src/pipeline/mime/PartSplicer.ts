import type { SignatureElement } from "../../domain/Signature.js"
import { HtmlSeparatorScanner } from "./HtmlSeparators.js"
import type { StampPlan } from "./StampPlan.js"
import { type SeparatorScanner, TextSeparatorScanner } from "./TextSeparators.js"
import { memo } from "./TextMemo.js"
import { ThreadPresence } from "./ThreadPresence.js"

/** the `</body>` tail kept back so a "bottom" element can still go before it */
export const BODY_TAIL_KEEP = 1024
/** "already signed" texts and the placeholder are searched for up to this length */
export const MAX_NEEDLE = 1024

/** RFC 4880 §6.2 / §7: the armour header lines of a signed or encrypted message, wherever they sit (quoted too) */
const PGP_ARMOUR = /-----BEGIN PGP (?:SIGNED )?MESSAGE-----/
/** characters kept from the end of one write so an armour line split across writes is still seen */
const ARMOUR_CARRY = 40

export type SpliceState = "searching" | "placed" | "already-signed" | "pgp-inline"

/**
 * Splices the signature into one decoded body part, streaming: decoded text
 * comes in, text with the signature goes out, and only a bounded window is
 * held — what the separator scanner may still need to look back into, and the
 * tail that may hold `</body>`.
 */
export class PartSplicer {
  private state_: SpliceState = "searching"
  private pending = ""
  private tail = "" // last characters emitted, to shape the text signature's blank lines
  private inHead = true // HTML: before `<body`, where `<meta charset>` is rewritten
  private needleFrom = 0
  private armourCarry = ""
  private armoured = false
  private readonly scanner: SeparatorScanner
  private readonly above: ReadonlyArray<SignatureElement>
  private readonly bottom: ReadonlyArray<SignatureElement>
  private readonly needles: ReadonlyArray<string>
  /** the placeholder as typed, and in HTML also as editors escape it (`&#123;&#123;signature&#125;&#125;`) */
  private readonly placeholders: ReadonlyArray<string>
  private placeholderLength = 0
  /** the sender's signature or a skip-if-present text anywhere in the part, quoted history included */
  private readonly thread: ThreadPresence
  private placedAtPlaceholder = false

  constructor(
    readonly kind: "html" | "text",
    plan: StampPlan,
    private readonly sink: (text: string) => void
  ) {
    this.scanner = kind === "html" ? new HtmlSeparatorScanner() : new TextSeparatorScanner()
    this.above = plan.elements.filter((e) => e.position === "above-reply")
    this.bottom = plan.elements.filter((e) => e.position === "bottom")
    const own = plan.elements.map((e) => (kind === "html" ? e.marker : textNeedle(e.text)))
    this.needles = [...own, ...plan.skipIfPresent].filter((n) => n.length > 0 && n.length <= MAX_NEEDLE)
    // in HTML the element itself (it names the sender), not its marker (which names only the rule)
    this.thread = new ThreadPresence(kind, [...plan.elements.map((e) => (kind === "html" ? e.html : e.text)), ...plan.skipIfPresent])
    const p = plan.placeholder
    const usable = p !== undefined && p.length > 0 && p.length <= MAX_NEEDLE && this.above.length > 0
    this.placeholders = !usable ? [] : kind === "text" ? [p] : htmlPlaceholders(p)
  }

  /**
   * "pgp-inline" as soon as an armour line was read anywhere in the part;
   * "already-signed" as soon as the sender's signature (or a skip-if-present
   * text) was read anywhere in it — unless a typed placeholder took the signature
   */
  get state(): SpliceState {
    if (this.armoured) return "pgp-inline"
    return this.thread.present && !this.placedAtPlaceholder ? "already-signed" : this.state_
  }

  /** characters held, not yet emitted */
  get held(): number {
    return this.pending.length
  }

  /** did (or will) this part receive any signature element */
  get stamped(): boolean {
    return this.state_ === "placed" && (this.above.length > 0 || this.bottom.length > 0)
  }

  /** the thread is no longer read for the sender's signature (ThreadPresence.freeze) */
  freezeThread(): void {
    this.thread.freeze()
  }

  write(text: string): void {
    if (!this.armoured) {
      const window = this.armourCarry + text
      if (PGP_ARMOUR.test(window)) this.armoured = true
      this.armourCarry = window.slice(-ARMOUR_CARRY)
    }
    this.thread.write(text)
    this.pending += text
    this.advance(false)
  }

  end(): void {
    this.thread.end()
    if (this.state_ === "searching") this.search(true)
    if (this.state_ === "placed" && this.bottom.length > 0) {
      const at = this.kind === "html" ? this.pending.toLowerCase().lastIndexOf("</body") : -1
      const cut = at >= 0 ? at : this.pending.length
      this.emitOriginal(cut, true)
      this.emit(this.kind === "html" ? this.bottom.map((e) => e.html).join("") : this.textBlock(this.bottom, "end"))
    }
    this.emitOriginal(this.pending.length, true)
  }

  private advance(final: boolean): void {
    if (this.state_ === "searching") this.search(final)
    if (this.state_ === "searching") return
    const keep = this.state_ === "placed" && this.bottom.length > 0 && !final ? BODY_TAIL_KEEP : 0
    if (this.pending.length > keep) this.emitOriginal(this.pending.length - keep, false)
  }

  private search(final: boolean): void {
    const scan = this.scanner.scan(this.pending, final)
    // what is known to lie above the insertion point: before the hit, or (none yet) before what the
    // scanner has passed; a placeholder or needle read beyond it waits, as it would in one write
    const limit = scan.hit ?? (final ? this.pending.length : scan.safe)
    const needle = this.firstNeedle(limit)
    const placeholder = this.findPlaceholder(limit)
    if (needle !== undefined && (placeholder === undefined || needle < placeholder)) {
      this.state_ = "already-signed"
      return
    }
    if (placeholder !== undefined) {
      this.placedAtPlaceholder = true
      this.emitOriginal(placeholder, true)
      this.pending = this.pending.slice(this.placeholderLength)
      this.emit(this.kind === "html" ? this.above.map((e) => e.html).join("") : this.textBlock(this.above, "inline"))
      this.state_ = "placed"
      return
    }
    if (this.thread.present) {
      // a placeholder read but not yet known to lie above the insertion point may still win
      if (scan.hit === undefined && !final && this.findPlaceholder(Infinity) !== undefined) return this.emitSafe(scan.safe)
      this.state_ = "already-signed"
      return
    }
    if (scan.hit !== undefined || final) {
      const at = scan.hit ?? this.pending.length
      const atEnd = scan.hit === undefined
      this.emitOriginal(at, true)
      if (this.above.length > 0) {
        this.emit(this.kind === "html" ? this.above.map((e) => e.html).join("") : this.textBlock(this.above, atEnd ? "end" : "above"))
      }
      this.state_ = "placed"
      return
    }
    this.emitSafe(scan.safe)
  }

  /** emits what no separator, needle or placeholder can still reach; later searches start past it */
  private emitSafe(safe: number): void {
    const maxNeedle = Math.max(0, ...this.needles.map((n) => n.length), ...this.placeholders.map((n) => n.length))
    this.needleFrom = Math.max(this.needleFrom, Math.min(this.pending.length, safe) - maxNeedle + 1)
    this.emitOriginal(Math.min(safe, this.needleFrom), false)
  }

  private firstNeedle(limit: number): number | undefined {
    if (this.scanner.needlesApply === false) return undefined
    let best: number | undefined
    for (const n of this.needles) {
      let at = this.pending.indexOf(n, Math.max(0, this.needleFrom - n.length))
      // in text, a signature on a ">" line is the quoted sender's, not one above the reply
      while (at >= 0 && this.kind === "text" && this.onQuotedLine(at)) at = this.pending.indexOf(n, at + 1)
      if (at >= 0 && at + n.length <= limit && (best === undefined || at < best)) best = at
    }
    return best
  }

  private onQuotedLine(at: number): boolean {
    const lineStart = this.pending.lastIndexOf("\n", at - 1) + 1
    return /^[ \t]*>/.test(this.pending.slice(lineStart, at + 1))
  }

  private findPlaceholder(limit: number): number | undefined {
    let best: number | undefined
    for (const token of this.placeholders) {
      let at = this.pending.indexOf(token, Math.max(0, this.needleFrom - token.length))
      // in HTML, a token inside a tag (an attribute value) is not the user's typed text
      while (at >= 0 && this.kind === "html" && this.pending.lastIndexOf("<", at) > this.pending.lastIndexOf(">", at)) {
        at = this.pending.indexOf(token, at + 1)
      }
      if (at >= 0 && at + token.length <= limit && (best === undefined || at < best)) {
        best = at
        this.placeholderLength = token.length
      }
    }
    return best
  }

  /**
   * emits `pending[0, cut)`; a non-forced cut backs off so it never splits a surrogate pair or a head
   * tag, nor lets a high surrogate go at the end of what is held (a UTF-16 decoder hands one on when
   * a write ends between the halves; the encoder would write it alone as U+FFFD)
   */
  private emitOriginal(cut: number, force: boolean): void {
    let end = Math.max(0, Math.min(cut, this.pending.length))
    if (!force) {
      if (end > 0 && isHighSurrogate(this.pending.charCodeAt(end - 1))) end--
      if (this.kind === "html" && this.inHead) {
        const lt = this.pending.lastIndexOf("<", end - 1)
        if (lt >= 0 && this.pending.indexOf(">", lt) >= end) end = lt
      }
    }
    if (end <= 0) return
    let piece = this.pending.slice(0, end)
    this.pending = this.pending.slice(end)
    this.scanner.shift(end)
    this.needleFrom = Math.max(0, this.needleFrom - end)
    if (this.kind === "html" && this.inHead) {
      // the head's charset only: a document pasted into the body keeps its own, however the text was cut
      const body = /<body\b/i.exec(piece)
      piece = body === null ? rewriteMetaCharset(piece) : rewriteMetaCharset(piece.slice(0, body.index)) + piece.slice(body.index)
      if (body !== null) this.inHead = false
    }
    this.emit(piece)
  }

  private emit(text: string): void {
    if (text.length === 0) return
    // the last 4 characters; joining a whole write to the tail first would copy it (a cons string flattened by the slice)
    this.tail = text.length >= 4 ? text.slice(-4) : (this.tail + text).slice(-4)
    this.sink(text)
  }

  /**
   * The plain-text signature block. No "-- " delimiter line: above a quoted
   * reply it would make clients treat (and hide, or strip when replying)
   * everything below it, the quote included, as signature.
   */
  private textBlock(elements: ReadonlyArray<SignatureElement>, where: "above" | "end" | "inline"): string {
    const block = elements.map((e) => textSignature(e.text)).join("\r\n\r\n")
    if (where === "inline") return block
    const nothingBefore = this.tail === ""
    const blankBefore = /\n\r?\n$/.test(this.tail)
    const newlineBefore = /\n$/.test(this.tail)
    const lead = nothingBefore || blankBefore ? "" : newlineBefore ? "\r\n" : "\r\n\r\n"
    if (where === "above") return lead + block + "\r\n\r\n"
    const trailingNewline = /\n$/.test(this.pending) || (this.pending === "" && newlineBefore)
    return lead + block + (trailingNewline ? "\r\n" : "")
  }
}

const isHighSurrogate = (c: number): boolean => c >= 0xd800 && c <= 0xdbff

const normaliseText = (text: string): string => text.replace(/\r\n|\r|\n/g, "\r\n").replace(/(?:\r\n)+$/, "")

/**
 * format=flowed (RFC 3676): a line ending in a space would join the next one,
 * and a line starting with a space, ">" or "From " must be space-stuffed.
 * Signature lines are fixed lines, so trailing spaces go; stuffing is added.
 * The signature separator "-- " keeps its space: RFC 3676 §4.3 exempts it, and
 * without the space readers do not see a separator.
 */
const flowedSafe = (text: string): string =>
  text
    .split("\r\n")
    .map((l) => (l === "-- " ? l : l.replace(/[ \t]+$/, "")))
    .map((l) => (/^(?: |>|From )/.test(l) ? " " + l : l))
    .join("\r\n")

/** the part leaves as UTF-8: a `<meta charset>` naming the old charset would make readers misread it */
const rewriteMetaCharset = (html: string): string => html.replace(/(<meta\b[^>]*?charset\s*=\s*["']?\s*)([a-z0-9._:-]+)/gi, (_, head: string) => `${head}utf-8`)

/**
 * The text forms of a signature element, read again for every stamped part of every message
 * (two regular expressions, a split and a join each): kept per text, as the element itself is
 * kept (SignatureResolver's render cache), in a bounded table of pure results.
 */
const textNeedle = memo((text: string): string => normaliseText(text).trim())
const textSignature = memo((text: string): string => flowedSafe(normaliseText(text)))
const htmlPlaceholders = memo((p: string): ReadonlyArray<string> => [...new Set([p, ...htmlEscapes(p)])])

/** how HTML editors may have escaped a typed token's punctuation */
const htmlEscapes = (token: string): Array<string> => {
  const decimal = token.replace(/[^\w\s]/g, (c) => `&#${c.charCodeAt(0)};`)
  const hex = token.replace(/[^\w\s]/g, (c) => `&#x${c.charCodeAt(0).toString(16)};`)
  const named = token.replace(/\{/g, "&lbrace;").replace(/\}/g, "&rbrace;")
  return [decimal, hex, named]
}
