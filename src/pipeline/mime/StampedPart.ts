import type { MimeNode, SplitterChunk } from "mailsplit"
import { BodyReader } from "./BodyReader.js"
import { resolveCharset } from "./Charset.js"
import type { SpliceState } from "./PartSplicer.js"
import type { PartFrame } from "./RelatedImages.js"
import { LateSkipError, type PartOutcome, type PartResult, type StampPlan } from "./StampPlan.js"
import { makeTransferEncoder, resolveTransferEncoding, type TextEncoderCodec, type TransferEncoding } from "./TransferCodec.js"

/**
 * One chosen body part on its way through the stamper. Until `commit` only
 * its raw bytes are held (so it can still leave byte-identical: the message
 * may turn out to be one that must pass). At `commit` a dry run over those
 * bytes tells whether the part is already signed or inline-PGP (then it
 * leaves raw); otherwise the bytes are replayed through a `BodyReader` whose
 * output is encoded as UTF-8 quoted-printable (base64 if it came as base64),
 * and the part streams live from then on.
 */
export class StampedPart {
  private raw: Array<SplitterChunk> = []
  private rawBytes = 0
  private committed = false
  private passRaw = false
  private ended = false
  private sawBody = false
  /** the first raw body bytes (up to 3): a body of one line break only is the splitter's empty-line body (see `finish`) */
  private bodyHead = ""
  private emitted = false
  /** the last byte this part emitted was LF */
  private outEndsInBreak = false
  private probed: SpliceState | undefined
  private reader: BodyReader | undefined
  /** the dry run's reader and the text it emitted, for the commit to continue from (see `record`) */
  private probeReader: BodyReader | undefined
  private recorded: Array<string> | undefined
  private recordedChars = 0
  /** the reader has been ended (by the dry run, when the part had ended before the commit) */
  private readerEnded = false
  private encoder: TextEncoderCodec | undefined
  /** the most held at once during a dry run or replay (raw + reader window) */
  peak = 0
  private readonly undecodable: string | undefined
  /** a line opening or closing an enclosing multipart, with transport padding mailsplit did not take as one */
  private readonly paddedBoundary: RegExp | undefined
  /** the enclosing boundaries' texts, as the bytes a line holding one would have (undefined: one holds a line break) */
  private readonly boundaryTexts: ReadonlyArray<Buffer> | undefined
  private boundaryCarry = ""
  private malformed = false
  private readonly transfer: TransferEncoding
  private readonly charsetName: string
  private readonly outputEncoding: "quoted-printable" | "base64"
  private push: (chunk: SplitterChunk) => void = () => {}

  constructor(
    readonly node: MimeNode,
    readonly kind: "html" | "text",
    private readonly plan: StampPlan,
    /** what goes around the part when it leaves stamped (embedded images: RelatedImages.ts) */
    private readonly frame?: PartFrame
  ) {
    const transfer = resolveTransferEncoding(node.encoding)
    const charset = resolveCharset(node.charset)
    this.undecodable = transfer === undefined ? `transfer-encoding ${node.encoding}` : !charset.decodable ? `charset ${charset.label}` : undefined
    this.transfer = transfer ?? "identity"
    this.charsetName = charset.decodable ? charset.name : "ascii-fallback"
    this.outputEncoding = transfer === "base64" ? "base64" : "quoted-printable"
    const boundaries = enclosingBoundaries(node)
    this.paddedBoundary = paddedBoundaryPattern(boundaries)
    this.boundaryTexts = boundaries.some((b) => b.includes("\n")) ? undefined : boundaries.map((b) => Buffer.from(b, "latin1"))
  }

  /** bytes and characters this part holds in memory right now */
  get held(): number {
    return this.rawBytes + (this.reader?.held ?? 0)
  }

  /** committed to leave re-encoded (no longer byte-identical) */
  get transcoding(): boolean {
    return this.committed && !this.passRaw
  }

  get stamped(): boolean {
    return this.transcoding && this.reader!.stamped
  }

  write(chunk: SplitterChunk & { value: Buffer }): void {
    if (chunk.value.length > 0) {
      this.sawBody = true
      if (this.bodyHead.length < 3) this.bodyHead += chunk.value.toString("latin1", 0, 3 - this.bodyHead.length)
    }
    this.checkBoundary(chunk.value)
    if (!this.committed) {
      this.raw.push(chunk)
      this.rawBytes += chunk.value.length
    } else if (this.passRaw) {
      this.push(chunk)
    } else {
      this.reader!.write(chunk.value)
      this.refuseArmour()
    }
  }

  /**
   * RFC 2046 §5.1.1: a boundary line may carry transport padding
   * ("--b  "). The splitter does not take such a line as a boundary, so the
   * parts after it sit inside this one: re-encoding it would rewrite them.
   */
  private checkBoundary(value: Buffer): void {
    if (this.paddedBoundary === undefined || this.malformed) return
    // A padded boundary line lies within this write (then the write holds a boundary's text), or it
    // starts in the carry and ends at the write's first LF. So the write is read as a string only up
    // to that LF unless a boundary's text is in it: a body streaming live is not copied into a
    // string per write (and the carry joined to it) just to find no boundary.
    const texts = this.boundaryTexts
    const whole = texts === undefined || value.length <= BOUNDARY_CARRY || texts.some((b) => value.includes(b))
    const lf = whole ? -1 : value.indexOf(0x0a)
    const window = this.boundaryCarry + value.toString("latin1", 0, lf === -1 ? value.length : lf + 1)
    this.paddedBoundary.lastIndex = 0
    if (this.paddedBoundary.test(window)) {
      this.malformed = true
      if (this.transcoding) throw new LateSkipError("malformed")
    }
    this.boundaryCarry = whole ? carryOf(window) : carryOfLong(value)
  }

  /**
   * A delimiter line of an enclosing multipart is in this part's body (the stamper's
   * `strayDelimiter`): the part leaves raw if it has not left yet. True when it already left
   * re-encoded (the copy must then fail).
   */
  markMalformed(): boolean {
    this.malformed = true
    return this.transcoding
  }

  /** inline PGP read after this part started to leave stamped: the copy must not be delivered */
  private refuseArmour(): void {
    if (this.reader?.state === "pgp-inline") throw new LateSkipError("pgp-inline")
  }

  end(): void {
    this.ended = true
    if (this.transcoding) this.finish()
  }

  /** dry run over the held bytes: what the splicer would decide (cached; nothing is emitted) */
  probe(): SpliceState | "undecodable" | "malformed" {
    if (this.undecodable !== undefined) return "undecodable"
    if (this.malformed) return "malformed"
    if (this.probed !== undefined) return this.probed
    this.recorded = []
    this.recordedChars = 0
    const reader = this.newReader((text) => this.record(text))
    for (const c of this.raw) {
      reader.write((c as { value: Buffer }).value)
      this.peak = Math.max(this.peak, this.rawBytes + reader.held + this.recordedChars)
    }
    if (this.ended) reader.end()
    this.probeReader = reader
    this.probed = reader.state
    return this.probed
  }

  /**
   * The dry run's output, kept so that the commit encodes it instead of decoding and splicing
   * the held bytes a second time (the reader is deterministic: a second one fed the same bytes
   * emits the same text and ends in the same state, so the commit continues with this one).
   * Kept only while it and the held raw bytes stay within `RECORD_BYTES`; past that the commit
   * replays the raw bytes through a fresh reader, as it always did.
   */
  private record(text: string): void {
    if (this.committed) return this.encode(text)
    if (this.recorded === undefined) return
    if (this.rawBytes + this.recordedChars + text.length > RECORD_BYTES) {
      this.recorded = undefined
      this.recordedChars = 0
      return
    }
    this.recorded.push(text)
    this.recordedChars += text.length
  }

  /** start emitting: raw when `raw` (the message must pass) or when the part is not for stamping */
  commit(push: (chunk: SplitterChunk) => void, raw: boolean): void {
    this.push = push
    const state = raw ? undefined : this.probe()
    this.committed = true
    this.passRaw = raw || state === "undecodable" || state === "malformed" || state === "already-signed" || state === "pgp-inline"
    if (this.passRaw) {
      push(this.node)
      for (const c of this.raw) push(c)
    } else {
      this.rewriteHeaders()
      this.frame?.open(push)
      push(this.node)
      this.encoder = makeTransferEncoder(this.outputEncoding, splitterBoundaries(this.node))
      const recorded = this.recorded
      if (this.probeReader !== undefined && recorded !== undefined) {
        // the dry run's reader goes on, its sink now the encoder (`record` encodes once committed)
        this.reader = this.probeReader
        this.readerEnded = this.ended
        for (const text of recorded) this.encode(text)
      } else {
        this.reader = this.newReader((text) => this.encode(text))
        for (const c of this.raw) {
          this.reader.write((c as { value: Buffer }).value)
          this.peak = Math.max(this.peak, this.rawBytes + this.reader.held)
        }
      }
      // the part leaves live from here: only its held start (the same bytes however the message
      // was cut) tells whether the sender's signature is already in the thread
      if (!this.ended) this.reader.freezeThread()
      if (this.ended) this.finish()
      this.refuseArmour()
    }
    this.probeReader = undefined
    this.recorded = undefined
    this.recordedChars = 0
    this.raw = []
    this.rawBytes = 0
  }

  outcome(): PartOutcome {
    const part = this.node.partNr === false ? "?" : this.node.partNr.join(".")
    if (this.undecodable !== undefined) return { kind: this.kind, part, result: "undecodable", detail: this.undecodable }
    if (this.malformed && !this.transcoding) return { kind: this.kind, part, result: "malformed" }
    const state = this.reader?.state ?? this.probed
    // a signature met in the thread only after this part had left stamped does not undo the stamp
    const result: PartResult =
      this.stamped && state !== "pgp-inline" ? "stamped" : state === "already-signed" || state === "pgp-inline" ? state : "transcoded-only"
    return { kind: this.kind, part, result }
  }

  private newReader(sink: (text: string) => void): BodyReader {
    const sniffHtml = this.kind === "html" && this.node.charset === false
    return new BodyReader(this.kind, this.transfer, this.charsetName, sniffHtml, this.plan, sink)
  }

  private encode(text: string): void {
    if (text.length === 0) return
    this.emitted = true
    const bytes = this.encoder!.writeText(text)
    if (bytes.length > 0) this.emitBytes(bytes)
  }

  private emitBytes(bytes: Buffer): void {
    this.outEndsInBreak = bytes[bytes.length - 1] === 0x0a
    this.push({ type: "body", value: bytes, node: this.node })
  }

  private finish(): void {
    if (!this.readerEnded) this.reader!.end()
    this.readerEnded = true
    this.refuseArmour()
    const rest = this.encoder!.end()
    // the splitter hands the line break before a boundary to the boundary, except after an empty
    // body: none at all, or one empty line before a next part's boundary (that line break is then
    // the body, and the boundary line comes without one); and a single-part base64 message should
    // still end with a line break
    const child = this.node.parentNode !== false
    const endsInBreak = rest.length > 0 ? rest[rest.length - 1] === 0x0a : this.outEndsInBreak
    const emptyLineBody = this.bodyHead === "\r\n" || this.bodyHead === "\n"
    const needsBreak =
      (child && !this.sawBody && this.emitted) || (child && emptyLineBody && this.emitted && !endsInBreak) || (this.outputEncoding === "base64" && !child)
    const last = needsBreak ? Buffer.concat([rest, Buffer.from("\r\n")]) : rest
    if (last.length > 0) this.emitBytes(last)
    this.frame?.close(this.push)
  }

  private rewriteHeaders(): void {
    // a part with no header lines parses as one empty line, which would end the rebuilt block early
    const lines = this.node.headers.getList()
    for (let i = lines.length - 1; i >= 0; i--) if (lines[i].line.trim() === "") lines.splice(i, 1)
    this.node.setCharset("utf-8")
    if ((this.node.encoding || "") !== this.outputEncoding) {
      this.node.headers.update("Content-Transfer-Encoding", this.outputEncoding)
    }
    // RFC 2045 §4: the MIME fields a message without any now carries need MIME-Version to mean anything
    if (this.node.root && !this.node.headers.hasHeader("MIME-Version")) {
      this.node.headers.add("MIME-Version", "1.0", this.node.headers.getList().length)
    }
  }
}

/**
 * The most a part's dry-run output and its held raw bytes may take together to be kept for the
 * commit (characters + bytes); the held raw bytes are bounded by the stamper's HOLD_BYTES (36 KiB).
 */
const RECORD_BYTES = 32 * 1024

/** a boundary is at most 70 characters (RFC 2046); the carry holds a whole padded boundary line */
const BOUNDARY_CARRY = 300

/**
 * What the next write's boundary check keeps of this one: its end from a line start on. A boundary
 * line starts a line, and a carry cut anywhere else would make its first character look like one
 * (how the bytes were cut into writes depends on the TCP reads). No line start in the last
 * BOUNDARY_CARRY characters: the line is too long to be a boundary line, and NOT_LINE_START says so.
 */
const carryOf = (window: string): string => {
  if (window.length <= BOUNDARY_CARRY) return window
  const lf = window.indexOf("\n", window.length - BOUNDARY_CARRY - 1)
  return lf === -1 ? NOT_LINE_START : window.slice(lf)
}

/** `carryOf` of a window that ends with `value`, when `value` alone is longer than BOUNDARY_CARRY */
const carryOfLong = (value: Buffer): string => {
  const lf = value.indexOf(0x0a, value.length - BOUNDARY_CARRY - 1)
  return lf === -1 ? NOT_LINE_START : value.toString("latin1", lf)
}

/** a carry that does not start a line (any character but LF) */
const NOT_LINE_START = "\u0000"

/** the boundaries the splitter reads around a node (mailsplit's `_boundary` of each multipart above it) */
const splitterBoundaries = (node: MimeNode): Array<Buffer> => {
  const boundaries: Array<Buffer> = []
  for (let p = node.parentNode; p !== false; p = p.parentNode) {
    const b = (p as MimeNode & { _boundary?: Buffer | false })._boundary
    if (Buffer.isBuffer(b) && b.length > 0) boundaries.push(b)
  }
  return boundaries
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** the enclosing multiparts' boundaries (those of at most 200 characters) */
const enclosingBoundaries = (node: MimeNode): Array<string> => {
  const boundaries: Array<string> = []
  for (let p = node.parentNode; p !== false; p = p.parentNode) {
    const m = /;\s*boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(p.headers.getFirst("Content-Type"))
    const b = m?.[1] ?? m?.[2]
    if (b !== undefined && b.length <= 200) boundaries.push(b)
  }
  return boundaries
}

/** the enclosing multiparts' boundary lines with transport padding (exact ones are the splitter's) */
const paddedBoundaryPattern = (boundaries: ReadonlyArray<string>): RegExp | undefined => {
  if (boundaries.length === 0) return undefined
  return new RegExp(`(?:^|\\n)--(?:${boundaries.map(escapeRegExp).join("|")})(?:--)?[ \\t]+\\r?\\n`, "g")
}
