import { Transform, type TransformCallback } from "node:stream"
import { headerEnd, type HeadEdit } from "./HeaderPeek.js"
import { LOOP_STAMP_HEADER } from "./LoopStamp.js"

const STAMP_FIELD = new RegExp(`^${LOOP_STAMP_HEADER}[ \\t]*:`, "i")

/**
 * An unstamped copy's only edit, done on the bytes without a MIME parser:
 * put Imprint's lines in front and, when the message carries a forged or stale
 * loop stamp, drop those fields (with their folded lines) from the root header
 * block. Every other byte passes as it came (invariant 4), and a message that
 * trips the MIME parser still flows, which is what the fail-safe retry needs.
 * HeaderPeek hands the whole root header block over as the first chunk.
 */
export class RawHeaderEdit extends Transform {
  private first = true
  private readonly edit: HeadEdit

  constructor(
    private readonly prefix: Buffer,
    private readonly dropStamps: boolean
  ) {
    super()
    this.edit = rawHeadEdit(prefix, dropStamps)
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (!this.first) return done(null, chunk)
    this.first = false
    for (const b of this.edit(chunk)) this.push(b)
    done()
  }

  override _flush(done: TransformCallback): void {
    // an empty message still gets Imprint's lines
    if (this.first) for (const b of this.edit(undefined)) this.push(b)
    done()
  }
}

/**
 * RawHeaderEdit's edit as a function, for a stage that already holds the header block
 * (HeaderPeek, when its output is the one unstamped copy's source): the same bytes out.
 */
export const rawHeadEdit =
  (prefix: Buffer, dropStamps: boolean): HeadEdit =>
  (head) =>
    head === undefined ? [prefix] : [prefix, dropStamps ? withoutStampFields(head) : head]

const withoutStampFields = (chunk: Buffer): Buffer => {
  const end = headerEnd(chunk)
  const head = (end === -1 ? chunk : chunk.subarray(0, end)).toString("latin1")
  const kept: string[] = []
  let dropping = false
  for (const line of head.split(/(?<=\r\n)/)) {
    const continuation = line.startsWith(" ") || line.startsWith("\t")
    if (!continuation) dropping = STAMP_FIELD.test(line)
    if (!dropping) kept.push(line)
  }
  const edited = Buffer.from(kept.join(""), "latin1")
  return end === -1 ? edited : Buffer.concat([edited, chunk.subarray(end)])
}
