import { Transform, type TransformCallback } from "node:stream"

/**
 * Puts Imprint's header lines (Received, loop stamp) in front of the joined
 * message, like every MTA prepends its trace header. The prefix is read when
 * the first byte arrives: by then the root headers have passed RootHeaders.
 */
export class HeaderPrefix extends Transform {
  private sent = false

  constructor(private readonly prefix: () => Buffer | undefined) {
    super()
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (!this.sent) {
      this.sent = true
      const p = this.prefix()
      if (p) this.push(p)
    }
    done(null, chunk)
  }
}
