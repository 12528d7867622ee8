import iconv from "iconv-lite"
import { isUtf8 } from "node:buffer"

/** A streaming bytes → text decoder (the shape of iconv-lite's decoders). */
export interface TextDecoderLike {
  write(bytes: Buffer): string
  end(): string
}

const ESC = 0x1b

type IconvDecoder = ReturnType<typeof iconv.getDecoder>
/** iconv-lite's double-byte decoder keeps the bytes of a sequence begun but not finished in `prevBytes` */
type HeldBytes = { prevBytes: Array<number> }

/**
 * iconv-lite's decoder for `name`, wrapped where iconv-lite's own depends on
 * where the bytes were cut: a double-byte one, or one that guesses its byte order.
 */
export const iconvDecoder = (name: string, options: { stripBOM: boolean } = { stripBOM: false }): TextDecoderLike => {
  const decoder = iconv.getDecoder(name, options)
  const guessBytes = ByteOrderGuessDecoder.GUESS_BYTES[name.toLowerCase().replace(/[^0-9a-z]/g, "")]
  if (guessBytes !== undefined) return new ByteOrderGuessDecoder(decoder, guessBytes)
  if (Array.isArray((decoder as Partial<HeldBytes>).prevBytes)) return new DoubleByteDecoder(name, options, decoder as IconvDecoder & HeldBytes)
  return { write: (b) => decoder.write(b), end: () => decoder.end() ?? "" }
}

/**
 * iconv-lite's double-byte decoder (Big5, Shift_JIS, EUC-*, GBK, GB18030, cp949...)
 * sizes each write's output for that write's bytes alone. A sequence begun in
 * the previous write that decodes to two UTF-16 units (a HKSCS character
 * outside the BMP, a multi-character mapping, or an invalid pair: a
 * replacement character, then its second byte read again), or a GB18030
 * four-byte sequence cut after its third byte, overflows it, and the last
 * units of the write are lost. So when the decoder holds such bytes,
 * they go in front of the next chunk into a fresh decoder, which sizes its
 * output for both.
 */
export class DoubleByteDecoder implements TextDecoderLike {
  constructor(
    private readonly name: string,
    private readonly options: { stripBOM: boolean },
    private decoder: IconvDecoder & HeldBytes
  ) {}

  write(chunk: Buffer): string {
    const held = this.decoder.prevBytes
    if (held.length === 0) return this.decoder.write(chunk)
    this.decoder = iconv.getDecoder(this.name, this.options) as IconvDecoder & HeldBytes
    return this.decoder.write(Buffer.concat([Buffer.from(held), chunk]))
  }

  end(): string {
    return this.decoder.end() ?? ""
  }
}

/**
 * iconv-lite's UTF-16 and UTF-32 decoders without a byte order in the name
 * guess it, when no byte-order mark says, from the first bytes they have when
 * they decide: at least 16 (32), at most 200 (400). So the guess moved with
 * where the first chunks were cut. Here those first bytes are handed over in
 * one write, which makes the guess the one a whole-part decode makes.
 */
export class ByteOrderGuessDecoder implements TextDecoderLike {
  /** how many bytes iconv-lite's guess reads, for the names that guess */
  static readonly GUESS_BYTES: Readonly<Record<string, number>> = { utf16: 200, utf32: 400, ucs4: 400 }
  private held: Array<Buffer> = []
  private heldBytes = 0
  private started = false

  constructor(
    private readonly decoder: IconvDecoder,
    private readonly guessBytes: number
  ) {}

  write(chunk: Buffer): string {
    if (this.started) return this.decoder.write(chunk)
    this.held.push(chunk)
    this.heldBytes += chunk.length
    if (this.heldBytes < this.guessBytes) return ""
    return this.release()
  }

  end(): string {
    return (this.started ? "" : this.release()) + (this.decoder.end() ?? "")
  }

  private release(): string {
    this.started = true
    const all = Buffer.concat(this.held)
    this.held = []
    return this.decoder.write(all)
  }
}

/**
 * ISO-2022-JP (RFC 1468), which iconv-lite lacks: the 7-bit escape-switched
 * form of JIS X 0208 is mapped onto EUC-JP bytes (each byte | 0x80) and decoded
 * by iconv-lite's EUC-JP decoder. Incomplete escapes and byte pairs carry over
 * chunk boundaries.
 */
export class Iso2022JpDecoder implements TextDecoderLike {
  private mode: "ascii" | "jis0208" | "jis0212" | "katakana" = "ascii"
  private carry: Buffer = Buffer.alloc(0)
  private readonly euc = iconvDecoder("euc-jp")

  write(bytes: Buffer): string {
    const input = this.carry.length > 0 ? Buffer.concat([this.carry, bytes]) : bytes
    this.carry = Buffer.alloc(0)
    const out: number[] = []
    let i = 0
    while (i < input.length) {
      const b = input[i]
      if (b === ESC) {
        const seq = this.escape(input, i)
        if (seq === "incomplete") {
          this.carry = input.subarray(i)
          break
        }
        if (seq > 0) {
          i += seq
          continue
        }
        out.push(b)
        i++
        continue
      }
      if (b < 0x21 || b > 0x7e || this.mode === "ascii") {
        out.push(b)
        i++
      } else if (this.mode === "katakana") {
        out.push(0x8e, b | 0x80)
        i++
      } else {
        if (i + 1 >= input.length) {
          this.carry = input.subarray(i)
          break
        }
        if (this.mode === "jis0212") out.push(0x8f)
        out.push(b | 0x80, input[i + 1] | 0x80)
        i += 2
      }
    }
    return this.euc.write(Buffer.from(out))
  }

  end(): string {
    const rest = this.carry.length > 0 ? this.carry.toString("latin1") : ""
    this.carry = Buffer.alloc(0)
    return this.euc.end() + rest
  }

  /** length of a recognised escape sequence at `i`, 0 if not one, "incomplete" at the chunk end */
  private escape(b: Buffer, i: number): number | "incomplete" {
    if (i + 2 >= b.length) return "incomplete"
    const a = b[i + 1]
    const c = b[i + 2]
    if (a === 0x28 && (c === 0x42 || c === 0x4a)) return ((this.mode = "ascii"), 3)
    if (a === 0x28 && c === 0x49) return ((this.mode = "katakana"), 3)
    if (a === 0x24 && (c === 0x40 || c === 0x42)) return ((this.mode = "jis0208"), 3)
    if (a === 0x24 && c === 0x28) {
      if (i + 3 >= b.length) return "incomplete"
      if (b[i + 3] === 0x44) return ((this.mode = "jis0212"), 4)
    }
    return 0
  }
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
const B64_VALUE = new Int8Array(128).fill(-1)
for (let i = 0; i < B64.length; i++) B64_VALUE[B64.charCodeAt(i)] = i

const HTML_ESCAPES: Record<string, string> = { "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&#39;" }

/**
 * UTF-7 (RFC 2152). In HTML mode, characters that arrive base64-shifted are
 * escaped when they are markup-significant: browsers never decode UTF-7, so a
 * reader saw `+ADw-script+AD4-` as text, and once re-encoded as UTF-8 it must
 * stay text (never `<script>`).
 */
export class Utf7Decoder implements TextDecoderLike {
  private shifted = false
  private justShifted = false
  private bits = 0
  private bitCount = 0
  private highSurrogate = ""

  constructor(private readonly escapeMarkup: boolean) {}

  write(bytes: Buffer): string {
    let out = ""
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]
      if (this.shifted) {
        const v = b < 128 ? B64_VALUE[b] : -1
        if (v >= 0) {
          this.justShifted = false
          this.bits = ((this.bits << 6) | v) & 0xffffff
          this.bitCount += 6
          if (this.bitCount >= 16) {
            this.bitCount -= 16
            out += this.unit((this.bits >> this.bitCount) & 0xffff)
          }
          continue
        }
        const wasEmpty = this.justShifted
        this.shifted = false
        this.bits = 0
        this.bitCount = 0
        if (b === 0x2d) {
          if (wasEmpty) out += "+" // "+-" is a literal plus
          continue
        }
      } else if (b === 0x2b) {
        this.shifted = true
        this.justShifted = true
        continue
      }
      out += String.fromCharCode(b)
    }
    return out
  }

  end(): string {
    const rest = this.highSurrogate
    this.highSurrogate = ""
    return rest
  }

  private unit(code: number): string {
    if (code >= 0xd800 && code <= 0xdbff) {
      this.highSurrogate = String.fromCharCode(code)
      return ""
    }
    const ch = this.highSurrogate + String.fromCharCode(code)
    this.highSurrogate = ""
    return this.escapeMarkup && HTML_ESCAPES[ch] !== undefined ? HTML_ESCAPES[ch] : ch
  }
}

/**
 * For parts labelled us-ascii (or not labelled at all) that carry 8-bit bytes
 * anyway: well-formed UTF-8 sequences decode as UTF-8, any other byte as
 * windows-1252. Deterministic, so the text before the insertion point decodes
 * the same way every time.
 */
export class AsciiFallbackDecoder implements TextDecoderLike {
  private carry: Buffer = Buffer.alloc(0)

  write(bytes: Buffer): string {
    const input = this.carry.length > 0 ? Buffer.concat([this.carry, bytes]) : bytes
    this.carry = Buffer.alloc(0)
    // the common case, checked natively: all of it well-formed UTF-8 (ASCII included), nothing cut at the end
    if (isUtf8(input)) return input.toString("utf8")
    let out = ""
    let start = 0
    let i = 0
    while (i < input.length) {
      const b = input[i]
      if (b < 0x80) {
        i++
        continue
      }
      const n = b >= 0xf0 && b <= 0xf4 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 && b <= 0xdf ? 2 : 0
      if (n > 0 && i + n > input.length && continuationRun(input, i + 1, input.length)) {
        out += input.toString("utf8", start, i)
        this.carry = input.subarray(i)
        return out
      }
      if (n > 0 && continuationRun(input, i + 1, i + n) && !overlongOrSurrogate(b, input[i + 1])) {
        i += n
        continue
      }
      out += input.toString("utf8", start, i) + iconv.decode(input.subarray(i, i + 1), "windows-1252")
      i++
      start = i
    }
    return out + input.toString("utf8", start, input.length)
  }

  end(): string {
    const rest = this.carry
    this.carry = Buffer.alloc(0)
    return rest.length > 0 ? iconv.decode(rest, "windows-1252") : ""
  }
}

const continuationRun = (b: Buffer, from: number, to: number): boolean => {
  for (let j = from; j < to; j++) if ((b[j] & 0xc0) !== 0x80) return false
  return true
}

/** the second-byte restrictions of RFC 3629 that a continuation-byte check alone misses */
const overlongOrSurrogate = (lead: number, second: number): boolean =>
  (lead === 0xe0 && second < 0xa0) || (lead === 0xed && second >= 0xa0) || (lead === 0xf0 && second < 0x90) || (lead === 0xf4 && second >= 0x90)
