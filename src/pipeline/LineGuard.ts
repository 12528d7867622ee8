import { Transform, type TransformCallback } from "node:stream"
import { BareLineEnding, MessageTooBig } from "./RelayError.js"

const CR = 0x0d
const LF = 0x0a
const NUL = 0x00

/**
 * First stage of every DATA stream. Refuses bare CR, bare LF and NUL (one wire,
 * one reading: invariant 8, SMTP smuggling) and the message over the size limit,
 * before any byte of the offending chunk moves on. A CR at the end of a chunk is
 * held back until the next chunk shows whether LF follows, so the downstream
 * never receives a bare CR either.
 */
export class LineGuard extends Transform {
  private offset = 0
  private pendingCR = false

  constructor(private readonly maxBytes: number) {
    super()
  }

  get bytes(): number {
    return this.offset
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const start = this.offset
    this.offset += chunk.length
    if (this.offset > this.maxBytes) return done(new MessageTooBig({ limit: this.maxBytes }))
    let i = 0
    if (this.pendingCR) {
      if (chunk.length === 0) return done()
      if (chunk[0] !== LF) return done(new BareLineEnding({ offset: start - 1, what: "CR" }))
      i = 1
    }
    const bad = scan(chunk, i)
    if (bad !== undefined) return done(new BareLineEnding({ offset: start + bad.at, what: bad.what }))
    const endsInCR = chunk.length > i && chunk[chunk.length - 1] === CR
    const head = this.pendingCR ? Buffer.from([CR]) : undefined
    this.pendingCR = endsInCR
    const body = endsInCR ? chunk.subarray(0, chunk.length - 1) : chunk
    if (head) this.push(head)
    if (body.length > 0) this.push(body)
    done()
  }

  override _flush(done: TransformCallback): void {
    if (this.pendingCR) return done(new BareLineEnding({ offset: this.offset - 1, what: "CR" }))
    done()
  }
}

/**
 * Position of the first bare CR/LF or NUL from `from`; a CR in the last byte is
 * judged by the next chunk. Uses Buffer.indexOf (native) as this runs on every byte.
 */
const scan = (chunk: Buffer, from: number): { at: number; what: "CR" | "LF" | "NUL" } | undefined => {
  const nul = chunk.indexOf(NUL, from)
  const limit = nul === -1 ? chunk.length : nul
  for (let lf = chunk.indexOf(LF, from); lf !== -1 && lf < limit; lf = chunk.indexOf(LF, lf + 1)) {
    if (lf === 0 || chunk[lf - 1] !== CR) return { at: lf, what: "LF" }
  }
  for (let cr = chunk.indexOf(CR, from); cr !== -1 && cr < limit; cr = chunk.indexOf(CR, cr + 1)) {
    if (cr + 1 < chunk.length && chunk[cr + 1] !== LF) return { at: cr, what: "CR" }
  }
  return nul === -1 ? undefined : { at: nul, what: "NUL" }
}
