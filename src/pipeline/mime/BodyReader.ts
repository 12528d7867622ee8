import { makeCharsetDecoder, META_SNIFF_BYTES, resolveCharset, sniffHtmlCharset, type TextDecoderLike } from "./Charset.js"
import { PartSplicer, type SpliceState } from "./PartSplicer.js"
import type { StampPlan } from "./StampPlan.js"
import { type ByteCodec, makeTransferDecoder, type TransferEncoding } from "./TransferCodec.js"

/**
 * Raw body bytes of one part → transfer decoding → charset decoding →
 * splicer, whose text output goes to `sink`. Holds only the decoders' carries,
 * the first bytes of an HTML part without a MIME charset (to read its
 * `<meta charset>`), and the splicer's look-back window.
 */
export class BodyReader {
  private readonly transfer: ByteCodec
  private charset: TextDecoderLike | undefined
  private sniff: Array<Buffer> = []
  private sniffBytes = 0
  private readonly splicer: PartSplicer

  constructor(
    private readonly kind: "html" | "text",
    encoding: TransferEncoding,
    charsetName: string,
    /** an HTML part without a MIME charset is read by its own <meta charset>, as readers do */
    sniffHtml: boolean,
    plan: StampPlan,
    sink: (text: string) => void
  ) {
    this.transfer = makeTransferDecoder(encoding)
    this.splicer = new PartSplicer(kind, plan, sink)
    if (!sniffHtml) this.charset = makeCharsetDecoder(charsetName, kind)
  }

  get state(): SpliceState {
    return this.splicer.state
  }

  get stamped(): boolean {
    return this.splicer.stamped
  }

  /** characters and bytes held right now */
  get held(): number {
    return this.splicer.held + this.sniffBytes
  }

  write(raw: Buffer): void {
    this.decoded(this.transfer.write(raw))
  }

  /** what is read from here on no longer tells whether the sender's signature is in the thread */
  freezeThread(): void {
    this.splicer.freezeThread()
  }

  end(): void {
    this.decoded(this.transfer.end())
    if (this.charset === undefined) this.startCharset()
    this.splicer.write(this.charset!.end())
    this.splicer.end()
  }

  private decoded(bytes: Buffer): void {
    if (bytes.length === 0) return
    if (this.charset !== undefined) return this.splicer.write(this.charset.write(bytes))
    this.sniff.push(bytes)
    this.sniffBytes += bytes.length
    if (this.sniffBytes >= META_SNIFF_BYTES) this.startCharset()
  }

  private startCharset(): void {
    const start = Buffer.concat(this.sniff)
    this.sniff = []
    this.sniffBytes = 0
    const sniffed = resolveCharset(sniffHtmlCharset(start) ?? "")
    this.charset = makeCharsetDecoder(sniffed.decodable ? sniffed.name : "ascii-fallback", this.kind)
    if (start.length > 0) this.splicer.write(this.charset.write(start))
  }
}
