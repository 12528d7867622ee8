/**
 * SMTP replies (RFC 5321 §4.2) as the downstream sends them, and an incremental
 * parser that turns socket chunks into complete replies. Chunks may split a line
 * anywhere or carry several replies at once; the parser keeps the partial line
 * and the lines of an unfinished multi-line reply between calls.
 */

/** One complete SMTP reply. */
export interface SmtpReply {
  /** Three-digit reply code, 200..599. */
  readonly code: number
  /** RFC 3463 enhanced status code ("x.y.z") when the server sent one on the first line. */
  readonly enhanced?: string
  /** The reply text without codes, lines joined with "\n". */
  readonly text: string
  /** The reply text line by line, without codes (EHLO keywords live here). */
  readonly lines: ReadonlyArray<string>
}

/** a reply, not one of the errors that stand in its place (which are tagged) */
export const isReply = (result: SmtpReply | { readonly _tag: string }): result is SmtpReply => !("_tag" in result)

/**
 * RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; real servers send longer
 * banners, so the bound is generous but still keeps a hostile peer from growing
 * the buffer without limit.
 */
export const MAX_REPLY_LINE_BYTES = 4096
/** Bound on the lines of one multi-line reply (an EHLO list is a few dozen). */
export const MAX_REPLY_LINES = 256

/** The peer sent something that is not an SMTP reply. */
export class ReplyParseError extends Error {
  override readonly name = "ReplyParseError"
}

const LF = 0x0a
const LINE = /^([2-5]\d\d)([ -]|$)(.*)$/s
const ENHANCED = /^([245])\.(\d{1,3})\.(\d{1,3})(?: +|$)/

const isReplyClass = (code: number, enhancedClass: string): boolean => String(code)[0] === enhancedClass

/** Builds a reply from its code and text lines, extracting the enhanced status code. */
export const makeReply = (code: number, rawLines: ReadonlyArray<string>): SmtpReply => {
  const first = ENHANCED.exec(rawLines[0] ?? "")
  if (first === null || !isReplyClass(code, first[1])) {
    return { code, text: rawLines.join("\n"), lines: rawLines }
  }
  const enhanced = `${first[1]}.${first[2]}.${first[3]}`
  // Servers repeat the enhanced code on every line of a multi-line reply
  const lines = rawLines.map((line) => {
    const m = ENHANCED.exec(line)
    return m !== null && `${m[1]}.${m[2]}.${m[3]}` === enhanced ? line.slice(m[0].length) : line
  })
  return { code, enhanced, text: lines.join("\n"), lines }
}

/** Incremental reply parser; one per connection (and a fresh one after STARTTLS). */
export class ReplyParser {
  private partial: Buffer = Buffer.alloc(0)
  private code: number | undefined = undefined
  private lines: Array<string> = []

  /** True while bytes of an unfinished reply are held (used to detect STARTTLS response injection). */
  get pending(): boolean {
    return this.partial.length > 0 || this.code !== undefined
  }

  /** Feeds one chunk; returns the replies it completed. Throws ReplyParseError on garbage. */
  push(chunk: Buffer): Array<SmtpReply> {
    const replies: Array<SmtpReply> = []
    const data = this.partial.length === 0 ? chunk : Buffer.concat([this.partial, chunk])
    let start = 0
    for (let end = data.indexOf(LF, start); end !== -1; end = data.indexOf(LF, start)) {
      // CRLF is the line end; a bare LF is tolerated from lenient servers
      const stop = end > start && data[end - 1] === 0x0d ? end - 1 : end
      if (stop - start > MAX_REPLY_LINE_BYTES) throw new ReplyParseError("reply line too long")
      const reply = this.line(data.toString("utf8", start, stop))
      if (reply !== undefined) replies.push(reply)
      start = end + 1
    }
    if (data.length - start > MAX_REPLY_LINE_BYTES) throw new ReplyParseError("reply line too long")
    // Copy the remainder so that the (possibly large) chunk is not retained
    this.partial = start === data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(start))
    return replies
  }

  private line(text: string): SmtpReply | undefined {
    const m = LINE.exec(text)
    if (m === null) throw new ReplyParseError(`not an SMTP reply line: ${JSON.stringify(text.slice(0, 80))}`)
    const code = Number(m[1])
    if (this.code !== undefined && this.code !== code) {
      throw new ReplyParseError(`multi-line reply changed its code from ${this.code} to ${code}`)
    }
    this.code = code
    this.lines.push(m[3])
    if (this.lines.length > MAX_REPLY_LINES) throw new ReplyParseError("multi-line reply too long")
    if (m[2] === "-") return undefined
    const reply = makeReply(code, this.lines)
    this.code = undefined
    this.lines = []
    return reply
  }
}
