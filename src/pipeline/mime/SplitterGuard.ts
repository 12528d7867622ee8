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
 * are unchanged; at most one byte is held.
 */
export class SplitterGuard extends Transform {
  private heldCr = false

  constructor() {
    super()
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    let out = this.heldCr ? Buffer.concat([CR, chunk]) : chunk
    this.heldCr = out.length > 0 && out[out.length - 1] === 0x0d
    if (this.heldCr) out = out.subarray(0, out.length - 1)
    callback(null, out.length > 0 ? out : undefined)
  }

  override _flush(callback: TransformCallback): void {
    callback(null, this.heldCr ? CR : undefined)
  }
}

const CR = Buffer.from([0x0d])
