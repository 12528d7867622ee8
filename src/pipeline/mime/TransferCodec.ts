/**
 * Streaming, synchronous Content-Transfer-Encoding codecs for the stamper's
 * per-chunk hot path. Decoders are lenient (mail in the wild is not clean);
 * encoders always produce lines of at most `MAX_ENCODED_LINE` characters.
 */

/** RFC 2045: encoded lines of quoted-printable and base64 are at most 76 characters. */
export const MAX_ENCODED_LINE = 76
const BASE64_LINE_BYTES = (MAX_ENCODED_LINE / 4) * 3

export interface ByteCodec {
  write(chunk: Buffer): Buffer
  end(): Buffer
}

export type TransferEncoding = "identity" | "quoted-printable" | "base64"

/** `undefined` for an encoding the stamper must not touch (uuencode, typos, inventions). */
export const resolveTransferEncoding = (cte: string | false): TransferEncoding | undefined => {
  const e = (cte || "")
    .toLowerCase()
    .replace(/[\s;]+$/, "")
    .trim()
  if (e === "" || e === "7bit" || e === "8bit" || e === "binary" || e === "7-bit" || e === "8bits") return "identity"
  if (e === "quoted-printable") return "quoted-printable"
  if (e === "base64") return "base64"
  return undefined
}

const identity = (): ByteCodec => ({ write: (c) => c, end: () => Buffer.alloc(0) })

const isB64 = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f

/** Base64 decoder: ignores anything outside the alphabet, stops a group at padding. */
class Base64Decoder implements ByteCodec {
  private quad = ""
  write(chunk: Buffer): Buffer {
    let s = this.quad
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]
      if (isB64(c)) s += String.fromCharCode(c)
    }
    const whole = s.length - (s.length % 4)
    this.quad = s.slice(whole)
    return Buffer.from(s.slice(0, whole), "base64")
  }
  end(): Buffer {
    const rest = this.quad
    this.quad = ""
    return rest.length >= 2 ? Buffer.from(rest, "base64") : Buffer.alloc(0)
  }
}

const hex = (c: number): number => (c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 0x37 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1)

/** Quoted-printable decoder: soft breaks removed, `=XX` decoded, a stray `=` kept literally. */
class QuotedPrintableDecoder implements ByteCodec {
  private carry: Buffer = Buffer.alloc(0)
  write(chunk: Buffer): Buffer {
    const input = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk
    this.carry = Buffer.alloc(0)
    return this.decode(input, false)
  }
  end(): Buffer {
    const rest = this.carry
    this.carry = Buffer.alloc(0)
    return this.decode(rest, true)
  }
  private decode(input: Buffer, final: boolean): Buffer {
    const out = Buffer.allocUnsafe(input.length)
    let n = 0
    let i = 0
    while (i < input.length) {
      const c = input[i]
      if (c === 0x20 || c === 0x09) {
        // whitespace before a line end was added in transport (RFC 2045 6.7 rule 3): dropped
        let j = i + 1
        while (j < input.length && (input[j] === 0x20 || input[j] === 0x09)) j++
        if (j >= input.length && !final) {
          this.carry = Buffer.from(input.subarray(i))
          break
        }
        const atLineEnd = j >= input.length || input[j] === 0x0d || input[j] === 0x0a
        if (!atLineEnd) for (let k = i; k < j; k++) out[n++] = input[k]
        i = j
        continue
      }
      if (c !== 0x3d) {
        out[n++] = c
        i++
        continue
      }
      if (!final && i + 2 >= input.length) {
        this.carry = Buffer.from(input.subarray(i))
        break
      }
      const a = input[i + 1]
      const b = input[i + 2]
      if (a === 0x0d && b === 0x0a) i += 3
      else if (a === 0x0a) i += 2
      else if (hex(a) >= 0 && hex(b) >= 0) {
        out[n++] = (hex(a) << 4) | hex(b)
        i += 3
      } else {
        // "=" followed by trailing whitespace before the line end is a soft break too (RFC 2045 6.7 note 3)
        let j = i + 1
        while (j < input.length && (input[j] === 0x20 || input[j] === 0x09)) j++
        if (j < input.length && (input[j] === 0x0d || input[j] === 0x0a)) {
          i = input[j] === 0x0d && input[j + 1] === 0x0a ? j + 2 : j + 1
        } else if (j >= input.length && !final) {
          this.carry = Buffer.from(input.subarray(i))
          break
        } else {
          out[n++] = c
          i++
        }
      }
    }
    return out.subarray(0, n)
  }
}

export const makeTransferDecoder = (encoding: TransferEncoding): ByteCodec =>
  encoding === "base64" ? new Base64Decoder() : encoding === "quoted-printable" ? new QuotedPrintableDecoder() : identity()

/** Base64 encoder: 57 input bytes per 76-character line, lines joined by CRLF, no trailing CRLF. */
class Base64Encoder implements TextEncoderCodec {
  private carry: Buffer = Buffer.alloc(0)
  private started = false
  write(chunk: Buffer): Buffer {
    const input = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk
    const whole = input.length - (input.length % BASE64_LINE_BYTES)
    this.carry = Buffer.from(input.subarray(whole))
    return this.lines(input.subarray(0, whole))
  }
  writeText(text: string): Buffer {
    return this.write(Buffer.from(text, "utf8"))
  }
  end(): Buffer {
    const rest = this.carry
    this.carry = Buffer.alloc(0)
    return this.lines(rest)
  }
  private lines(bytes: Buffer): Buffer {
    if (bytes.length === 0) return Buffer.alloc(0)
    const parts: string[] = []
    for (let i = 0; i < bytes.length; i += BASE64_LINE_BYTES) {
      parts.push(bytes.toString("base64", i, Math.min(bytes.length, i + BASE64_LINE_BYTES)))
    }
    const text = (this.started ? "\r\n" : "") + parts.join("\r\n")
    this.started = true
    return Buffer.from(text, "latin1")
  }
}

const HEX = Buffer.from("0123456789ABCDEF")

/** bytes that may stand for themselves in quoted-printable: 1 printable ASCII except "=", 2 a blank (unless before a line end) */
const LITERAL = new Uint8Array(256)
for (let b = 0x21; b <= 0x7e; b++) LITERAL[b] = b === 0x3d ? 0 : 1
LITERAL[0x20] = LITERAL[0x09] = 2

/** A transfer encoder that also takes text, encoded as UTF-8 (`Buffer.from(text, "utf8")`'s bytes). */
export interface TextEncoderCodec extends ByteCodec {
  writeText(text: string): Buffer
}

/**
 * Buffers reused by every encoder call (the stamper's hot path is synchronous and an encoder call
 * never re-enters another): a part's UTF-8 bytes and its worst-case quoted-printable output were two
 * fresh allocations of up to three times the text per call, most of them above Buffer's pool size.
 */
const scratches: Record<"in" | "out", Buffer> = { in: Buffer.allocUnsafe(16 * 1024), out: Buffer.allocUnsafe(64 * 1024) }
const scratch = (which: "in" | "out", size: number): Buffer => {
  if (scratches[which].length < size) scratches[which] = Buffer.allocUnsafe(Math.max(size, scratches[which].length * 2))
  return scratches[which]
}

/** the text's UTF-8 bytes in the input scratch (3 bytes per UTF-16 unit at most, so nothing is cut off) */
const utf8Scratch = (text: string): Buffer => {
  const buffer = scratch("in", text.length * 3)
  return buffer.subarray(0, buffer.write(text, 0, "utf8"))
}

/**
 * Quoted-printable encoder over UTF-8 bytes. Lines break at CRLF (kept as
 * line breaks) or with a soft break before 76 characters; the bytes of one
 * UTF-8 character are never split over two lines; whitespace before a line
 * end is encoded. A lone CR or LF is encoded (`=0D`, `=0A`) so that decoding
 * gives back exactly the bytes that went in.
 */
class QuotedPrintableEncoder implements TextEncoderCodec {
  private lineLength = 0
  private carry: Buffer = Buffer.alloc(0)

  /** `delimiters`: "--" + each enclosing boundary; a line starting with one gets its first "-" as "=2D" */
  constructor(private readonly delimiters: ReadonlyArray<Buffer> = []) {}

  write(chunk: Buffer): Buffer {
    const input = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk
    this.carry = Buffer.alloc(0)
    return this.encode(input, false)
  }
  writeText(text: string): Buffer {
    return this.write(utf8Scratch(text))
  }
  end(): Buffer {
    const rest = this.carry
    this.carry = Buffer.alloc(0)
    return this.encode(rest, true)
  }
  private encode(input: Buffer, final: boolean): Buffer {
    // worst case: every byte escaped (3x) plus a soft break per 25 escapes
    const out = scratch("out", input.length * 3 + Math.ceil(input.length / 24) * 3 + 8)
    let n = 0
    let line = this.lineLength
    let i = 0
    const len = input.length
    while (i < len) {
      const c = input[i]
      if (LITERAL[c] === 1 || (LITERAL[c] === 2 && i + 1 < len && input[i + 1] !== 0x0d)) {
        if (line >= MAX_ENCODED_LINE - 1) {
          out[n++] = 0x3d
          out[n++] = 0x0d
          out[n++] = 0x0a
          line = 0
        }
        if (line === 0 && c === 0x2d && this.delimiters.length > 0) {
          // a line (after a hard or a soft break) that would read as a delimiter of an enclosing multipart
          const verdict = startsDelimiter(input, i, final, this.delimiters)
          if (verdict === "more") {
            this.carry = Buffer.from(input.subarray(i))
            break
          }
          if (verdict) {
            out[n++] = 0x3d
            out[n++] = HEX[0x2d >> 4]
            out[n++] = HEX[0x2d & 15]
            line = 3
            i++
            continue
          }
        }
        // the run of bytes that stand for themselves (a blank not before CR among them), up to the line's room
        const stop = Math.min(len, i + MAX_ENCODED_LINE - 1 - line)
        // copied as it is read: a native copy per run (Buffer#copy) made a view object for each, a
        // run being at most a line, and with its garbage cost more than the bytes it moved
        out[n++] = c
        let j = i + 1
        while (j < stop) {
          const b = input[j]
          const t = LITERAL[b]
          if (t === 1 || (t === 2 && j + 1 < len && input[j + 1] !== 0x0d)) {
            out[n++] = b
            j++
          } else break
        }
        line += j - i
        i = j
        continue
      }
      // CR, whitespace and UTF-8 lead bytes need the next byte(s): hold them back at the chunk end
      const need = c === 0x0d || c === 0x20 || c === 0x09 ? 2 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1
      if (!final && i + need > len) {
        this.carry = Buffer.from(input.subarray(i))
        break
      }
      if (c === 0x0d && input[i + 1] === 0x0a) {
        out[n++] = 0x0d
        out[n++] = 0x0a
        line = 0
        i += 2
        continue
      }
      let width = 1
      if (c >= 0xc0) {
        const max = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2
        while (width < max && i + width < len && (input[i + width] & 0xc0) === 0x80) width++
      }
      const literalSpace = (c === 0x20 || c === 0x09) && i + 1 < len && input[i + 1] !== 0x0d
      const units = literalSpace ? 1 : width * 3
      if (line + units > MAX_ENCODED_LINE - 1) {
        out[n++] = 0x3d
        out[n++] = 0x0d
        out[n++] = 0x0a
        line = 0
      }
      if (literalSpace) {
        out[n++] = c
      } else {
        // whitespace at a line end (or at the very end) would be stripped in transport: escaped
        for (let k = 0; k < width; k++) {
          const b = input[i + k]
          out[n++] = 0x3d
          out[n++] = HEX[b >> 4]
          out[n++] = HEX[b & 15]
        }
      }
      line += units
      i += width
    }
    this.lineLength = line
    // the scratch is reused by the next call: what leaves is a copy of exactly what was written
    return Buffer.from(out.subarray(0, n))
  }
}

/**
 * does `input` at `at` start with one of `delimiters` (true), not (false), or cannot it tell before
 * more bytes come ("more")
 */
const startsDelimiter = (input: Buffer, at: number, final: boolean, delimiters: ReadonlyArray<Buffer>): boolean | "more" => {
  let more = false
  for (const d of delimiters) {
    let k = 0
    while (k < d.length && at + k < input.length && input[at + k] === d[k]) k++
    if (k === d.length) return true
    if (at + k === input.length && !final) more = true
  }
  return more ? "more" : false
}

/**
 * `boundaries` (quoted-printable only): those of the multiparts around the part. A decoded line may
 * start with one (its original hid it behind a soft line break or an escape); written as it reads,
 * readers would take it for a delimiter, so its first "-" is escaped.
 */
export const makeTransferEncoder = (encoding: "quoted-printable" | "base64", boundaries: ReadonlyArray<Buffer> = []): TextEncoderCodec =>
  encoding === "base64" ? new Base64Encoder() : new QuotedPrintableEncoder(boundaries.map((b) => Buffer.concat([Buffer.from("--"), b])))
