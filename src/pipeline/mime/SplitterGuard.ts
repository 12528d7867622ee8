import { Transform, type TransformCallback } from "node:stream"

/**
 * Put this in front of mailsplit's Splitter (5.4.x). The Splitter loses the
 * bytes of a chunk that holds no LF and ends with the CR of a CRLF inside the
 * body of a multipart child part (its "store only <CR>" branch overwrites the
 * partial line it was holding). TCP reads end anywhere, so the relay can meet
 * it; `spec/pipeline/mime/SplitterGuard.test.ts` reproduces it.
 *
 * The guard only moves a chunk's trailing CR to the front of the next chunk,
 * so no chunk the Splitter sees ends between CR and LF. Bytes and their order
 * are unchanged; at most one byte is held. It also refuses overlong lines
 * (MAX_STAMPED_LINE_BYTES).
 */
/**
 * The longest line a stamped copy takes (1 MiB; RFC 5322 allows 998
 * characters). mailsplit's Splitter joins the pieces of an unfinished line with
 * Buffer.concat on every chunk, so its CPU grows with the square of a line's
 * length: an 8 MB line cost seconds, a 150 MB one would hold the event loop
 * for most of an hour. The relay's scanner (MimeScanner's HeldLine) joins a
 * line once, when it ends; the limit still bounds what one held line costs in
 * memory (a stamped text part's line is also decoded and re-encoded whole).
 * A longer line fails the stamped copy — the relay answers 451 and relays the
 * retry unstamped (invariant 5); unstamped copies never meet the scanner.
 */
export const MAX_STAMPED_LINE_BYTES = 1024 * 1024

export class SplitterGuard extends Transform {
  private readonly guard = new ChunkGuard()

  constructor() {
    super()
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    let out: Buffer | undefined
    try {
      out = this.guard.pass(chunk)
    } catch (e) {
      return callback(e as Error)
    }
    callback(null, out)
  }

  override _flush(callback: TransformCallback): void {
    callback(null, this.guard.end())
  }
}

/**
 * The guard's rule without its stream side (the stamped copy's scanner, pipeline/StampedCopy.ts,
 * runs it inline): `pass` each chunk, `end` once; what they return (if anything) goes on.
 */
export class ChunkGuard {
  private heldCr = false
  /** bytes since the last LF */
  private lineBytes = 0

  /** the chunk to hand on (undefined: nothing), or throws for an overlong line */
  pass(chunk: Buffer): Buffer | undefined {
    const lastLf = chunk.lastIndexOf(0x0a)
    this.lineBytes = lastLf === -1 ? this.lineBytes + chunk.length : chunk.length - lastLf - 1
    if (this.lineBytes > MAX_STAMPED_LINE_BYTES) throw new Error(`a line longer than ${MAX_STAMPED_LINE_BYTES} bytes is not stamped`)
    let out = this.heldCr ? Buffer.concat([CR, chunk]) : chunk
    this.heldCr = out.length > 0 && out[out.length - 1] === 0x0d
    if (this.heldCr) out = out.subarray(0, out.length - 1)
    return out.length > 0 ? out : undefined
  }

  /** the held CR, if any */
  end(): Buffer | undefined {
    return this.heldCr ? CR : undefined
  }
}

const CR = Buffer.from([0x0d])
