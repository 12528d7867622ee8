import type { MimeNode, SplitterChunk } from "mailsplit"
import { makeCharsetDecoder, META_SNIFF_BYTES, resolveCharset, sniffHtmlCharset, type TextDecoderLike } from "./Charset.js"
import { PartSplicer } from "./PartSplicer.js"
import type { PartOutcome, PartResult, StampPlan } from "./StampPlan.js"
import { type ByteCodec, makeTransferDecoder, makeTransferEncoder, resolveTransferEncoding } from "./TransferCodec.js"

/**
 * One chosen body part on its way through the stamper: raw body bytes →
 * transfer decoding → charset decoding → splicer → UTF-8 → quoted-printable
 * (or base64 if it came as base64). Until `commit`, the raw bytes are kept as
 * well, so the part can still leave byte-identical (already signed, inline
 * PGP, or the whole message turned out to be one that must pass).
 */
export class StampedPart {
  private raw: Array<SplitterChunk> = []
  private rawBytes = 0
  private committed = false
  private passRaw = false
  private ended = false
  private sawBody = false
  private emitted = false
  private readonly undecodable: string | undefined
  private readonly transferDecoder: ByteCodec | undefined
  private readonly encoder: ByteCodec | undefined
  private readonly outputEncoding: "quoted-printable" | "base64"
  private charsetDecoder: TextDecoderLike | undefined
  private sniffBuffer: Array<Buffer> = []
  private sniffBytes = 0
  private readonly splicer: PartSplicer
  private push: (chunk: SplitterChunk) => void = () => {}

  constructor(
    readonly node: MimeNode,
    readonly kind: "html" | "text",
    plan: StampPlan
  ) {
    const transfer = resolveTransferEncoding(node.encoding)
    const charset = resolveCharset(node.charset)
    this.undecodable =
      transfer === undefined
        ? `transfer-encoding ${node.encoding}`
        : !charset.decodable
          ? `charset ${charset.label}`
          : undefined
    this.outputEncoding = transfer === "base64" ? "base64" : "quoted-printable"
    this.splicer = new PartSplicer(kind, plan, (text) => this.encode(text))
    if (this.undecodable === undefined && transfer !== undefined) {
      this.transferDecoder = makeTransferDecoder(transfer)
      this.encoder = makeTransferEncoder(this.outputEncoding)
      // an HTML part without a MIME charset is read by its own <meta charset>, as readers do
      if (!(kind === "html" && node.charset === false) && charset.decodable) {
        this.charsetDecoder = makeCharsetDecoder(charset.name, kind)
      }
    }
  }

  /** bytes and characters this part holds in memory right now */
  get held(): number {
    return this.rawBytes + this.splicer.held + this.sniffBytes
  }

  /** set once the splicer saw an inline PGP armour at the start */
  get pgpInline(): boolean {
    return this.splicer.state === "pgp-inline"
  }

  write(chunk: SplitterChunk & { value: Buffer }): void {
    if (chunk.value.length > 0) this.sawBody = true
    if (!this.committed || this.passRaw) {
      if (this.committed) return this.push(chunk)
      this.raw.push(chunk)
      this.rawBytes += chunk.value.length
    }
    if (this.undecodable !== undefined || this.passRaw) return
    this.decodeBytes(this.transferDecoder!.write(chunk.value))
  }

  end(): void {
    this.ended = true
    if (this.undecodable !== undefined || this.passRaw) return
    this.decodeBytes(this.transferDecoder!.end())
    if (this.charsetDecoder === undefined) this.startCharset()
    this.splicer.write(this.charsetDecoder!.end())
    this.splicer.end()
    if (this.committed) this.finishEncoding()
  }

  /**
   * Start emitting. `raw` forces byte-identical output (the message must pass);
   * otherwise the part passes raw only if it is not to be stamped and its raw
   * bytes are still all here.
   */
  commit(push: (chunk: SplitterChunk) => void, raw: boolean): void {
    this.push = push
    this.committed = true
    const notForUs = this.undecodable !== undefined || this.splicer.state === "already-signed" || this.pgpInline
    this.passRaw = raw || notForUs
    if (this.passRaw) {
      push(this.node)
      for (const c of this.raw) push(c)
    } else {
      this.rewriteHeaders()
      push(this.node)
      this.splicer.release()
      if (this.ended) this.finishEncoding()
    }
    this.raw = []
    this.rawBytes = 0
  }

  outcome(): PartOutcome {
    const part = this.node.partNr === false ? "?" : this.node.partNr.join(".")
    const result: PartResult =
      this.undecodable !== undefined
        ? "undecodable"
        : this.splicer.state === "already-signed" || this.splicer.state === "pgp-inline"
          ? this.splicer.state
          : this.passRaw
            ? "transcoded-only"
            : this.splicer.stamped
              ? "stamped"
              : "transcoded-only"
    return this.undecodable !== undefined
      ? { kind: this.kind, part, result, detail: this.undecodable }
      : { kind: this.kind, part, result }
  }

  /** committed to leave re-encoded (no longer byte-identical) */
  get transcoding(): boolean {
    return this.committed && !this.passRaw
  }

  get stamped(): boolean {
    return this.committed && !this.passRaw && this.splicer.stamped
  }

  private decodeBytes(bytes: Buffer): void {
    if (bytes.length === 0) return
    if (this.charsetDecoder === undefined) {
      this.sniffBuffer.push(bytes)
      this.sniffBytes += bytes.length
      if (this.sniffBytes < META_SNIFF_BYTES) return
      this.startCharset()
      return
    }
    this.splicer.write(this.charsetDecoder.write(bytes))
  }

  private startCharset(): void {
    const start = Buffer.concat(this.sniffBuffer)
    this.sniffBuffer = []
    this.sniffBytes = 0
    const sniffed = resolveCharset(sniffHtmlCharset(start) ?? "")
    this.charsetDecoder = makeCharsetDecoder(sniffed.decodable ? sniffed.name : "ascii-fallback", this.kind)
    if (start.length > 0) this.splicer.write(this.charsetDecoder.write(start))
  }

  private encode(text: string): void {
    if (text.length === 0) return
    this.emitted = true
    const bytes = this.encoder!.write(Buffer.from(text, "utf8"))
    if (bytes.length > 0) this.push({ type: "body", value: bytes, node: this.node })
  }

  private finishEncoding(): void {
    const rest = this.encoder!.end()
    // the splitter hands the line break before a boundary to the boundary, except after an empty
    // body; and a single-part base64 message should still end with a line break
    const needsBreak =
      (this.node.parentNode !== false && !this.sawBody && this.emitted) ||
      (this.outputEncoding === "base64" && this.node.parentNode === false)
    const tail = needsBreak ? Buffer.from("\r\n") : undefined
    const last = tail === undefined ? rest : Buffer.concat([rest, tail])
    if (last.length > 0) this.push({ type: "body", value: last, node: this.node })
  }

  private rewriteHeaders(): void {
    // a part with no header lines parses as one empty line, which would end the rebuilt block early
    const lines = this.node.headers.getList()
    for (let i = lines.length - 1; i >= 0; i--) if (lines[i].line.trim() === "") lines.splice(i, 1)
    this.node.setCharset("utf-8")
    if ((this.node.encoding || "") !== this.outputEncoding) {
      this.node.headers.update("Content-Transfer-Encoding", this.outputEncoding)
    }
  }
}
