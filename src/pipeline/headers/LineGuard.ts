import { Transform, type TransformCallback } from "node:stream"
import { BareLineEnding, MessageTooBig } from "./HeadersError.js"

const CR = 0x0d
const LF = 0x0a
const NUL = 0x00
const DOT = 0x2e

/**
 * First stage of every DATA stream. Refuses bare CR and bare LF (one wire, one
 * reading: invariant 8, SMTP smuggling), a line made of NULs and a single dot
 * (a downstream that strips NUL would read it as the end of data), and a message
 * over the size limit — before any byte of the offending chunk moves on. A CR
 * at the end of a chunk is held back until the next chunk shows whether LF
 * follows, so the downstream never receives a bare CR either. Other NULs are
 * passed: malformed mail exists and must not be lost for it.
 *
 * The checks live in LineScreen, a plain object, so that HeaderPeek can run them itself
 * when nothing stands between the two (one stream fewer per message: Transaction.ts).
 */
export class LineGuard extends Transform {
  readonly screen: LineScreen
  private readonly pass = (piece: Buffer) => {
    this.push(piece)
  }

  constructor(limit: number | LineScreen) {
    super()
    this.screen = typeof limit === "number" ? new LineScreen(limit) : limit
  }

  get bytes(): number {
    return this.screen.bytes
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    done(this.screen.take(chunk, this.pass))
  }

  override _flush(done: TransformCallback): void {
    done(this.screen.end())
  }
}

/** LineGuard's checks over one message's chunks, in order; what passes is handed on as it came (zero-copy). */
export class LineScreen {
  private offset = 0
  private pendingCR = false
  /** the unfinished line so far holds only NULs and dots: their counts; undefined when it holds anything else */
  private line: { dots: number; nuls: number } | undefined = { dots: 0, nuls: 0 }

  constructor(private readonly maxBytes: number) {}

  get bytes(): number {
    return this.offset
  }

  /** screens the next chunk: the error that refuses the message, or undefined once what passes was handed to `pass` (at most two pieces) */
  take(chunk: Buffer, pass: (piece: Buffer) => void): MessageTooBig | BareLineEnding | undefined {
    const start = this.offset
    this.offset += chunk.length
    if (this.offset > this.maxBytes) return new MessageTooBig({ limit: this.maxBytes })
    if (chunk.length === 0) return undefined
    let from = 0
    if (this.pendingCR) {
      if (chunk[0] !== LF) return new BareLineEnding({ offset: start - 1, what: "CR" })
      from = 1
    }
    const bare = bareLineEnding(chunk, from)
    if (bare !== undefined) return new BareLineEnding({ offset: start + bare.at, what: bare.what })
    const nulDot = this.nulDotLine(chunk, from)
    if (nulDot !== undefined) return new BareLineEnding({ offset: start + nulDot, what: "NUL" })
    const endsInCR = chunk.length > from && chunk[chunk.length - 1] === CR
    if (this.pendingCR) pass(Buffer.from([CR]))
    this.pendingCR = endsInCR
    const body = endsInCR ? chunk.subarray(0, chunk.length - 1) : chunk
    if (body.length > 0) pass(body)
    return undefined
  }

  /** the message ended: a CR still held is a bare one */
  end(): BareLineEnding | undefined {
    return this.pendingCR ? new BareLineEnding({ offset: this.offset - 1, what: "CR" }) : undefined
  }

  /**
   * Offset of a line consisting of NULs and exactly one dot, or undefined. Only
   * lines that contain a NUL, the line carried over from the last chunk, and the
   * chunk's last line are looked at, so clean chunks cost a few native indexOfs.
   */
  private nulDotLine(chunk: Buffer, from: number): number | undefined {
    let pos = from
    if (this.line === undefined && from === 0) {
      // the chunk starts inside a line already judged safe: skip to the next line
      const lf = chunk.indexOf(LF)
      if (lf === -1) return undefined
      pos = lf + 1
    } else if (this.line !== undefined) {
      const r = scanLine(chunk, pos, this.line)
      if (r.kind === "dangerous") return pos
      if (r.kind === "open") {
        this.line = r.counts
        return undefined
      }
      pos = r.next
    }
    // pos is at a line start, or at the chunk's end inside a line already judged safe
    for (let nul = chunk.indexOf(NUL, pos); nul !== -1; nul = chunk.indexOf(NUL, pos)) {
      const lineStart = Math.max(pos, chunk.lastIndexOf(LF, nul) + 1)
      const r = scanLine(chunk, lineStart, EMPTY)
      if (r.kind === "dangerous") return lineStart
      if (r.kind === "open") {
        this.line = r.counts
        return undefined
      }
      pos = r.next
    }
    const lastLF = chunk.lastIndexOf(LF)
    if (lastLF + 1 < pos) {
      // the last line was judged safe and runs on into the next chunk
      this.line = undefined
      return undefined
    }
    const r = scanLine(chunk, Math.max(pos, lastLF + 1), EMPTY)
    this.line = r.kind === "open" ? r.counts : undefined
    return undefined
  }
}

const EMPTY = { dots: 0, nuls: 0 }

type LineScan =
  | { readonly kind: "dangerous" }
  /** the line holds something else: judged safe; `next` is the next line's start (or the chunk's end) */
  | { readonly kind: "safe"; readonly next: number }
  /** the chunk ended while the line still held only NULs and dots */
  | { readonly kind: "open"; readonly counts: { dots: number; nuls: number } }

/** Reads one line from `at` (its start, or where the carried counts left off). */
const scanLine = (chunk: Buffer, at: number, counts: { dots: number; nuls: number }): LineScan => {
  let { dots, nuls } = counts
  for (let i = at; i < chunk.length; i++) {
    const b = chunk[i]
    if (b === NUL) nuls++
    else if (b === DOT) dots++
    else {
      if (b === CR && nuls > 0 && dots === 1) return { kind: "dangerous" }
      const lf = chunk.indexOf(LF, i)
      return { kind: "safe", next: lf === -1 ? chunk.length : lf + 1 }
    }
  }
  return { kind: "open", counts: { dots, nuls } }
}

/**
 * Position of the first bare CR or LF from `from`; a CR in the last byte is
 * judged by the next chunk. Uses Buffer.indexOf (native) as this runs on every byte.
 */
const bareLineEnding = (chunk: Buffer, from: number): { at: number; what: "CR" | "LF" } | undefined => {
  for (let lf = chunk.indexOf(LF, from); lf !== -1; lf = chunk.indexOf(LF, lf + 1)) {
    if (lf === 0 || chunk[lf - 1] !== CR) return { at: lf, what: "LF" }
  }
  for (let cr = chunk.indexOf(CR, from); cr !== -1; cr = chunk.indexOf(CR, cr + 1)) {
    if (cr + 1 < chunk.length && chunk[cr + 1] !== LF) return { at: cr, what: "CR" }
  }
  return undefined
}
