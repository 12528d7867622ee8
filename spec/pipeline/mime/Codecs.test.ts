/**
 * The streaming codecs against independent implementations (libqp,
 * libbase64, iconv-lite on whole buffers), with input cut at arbitrary points.
 */
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import iconv from "iconv-lite"
import { createRequire } from "node:module"
import { makeCharsetDecoder, resolveCharset, type TextDecoderLike } from "../../../src/pipeline/mime/Charset.js"
import { type ByteCodec, makeTransferDecoder, makeTransferEncoder } from "../../../src/pipeline/mime/TransferCodec.js"

const require = createRequire(import.meta.url)
const libqp = require("libqp") as { decode: (s: string) => Buffer; encode: (b: Buffer) => string; wrap: (s: string, n: number) => string }
const libbase64 = require("libbase64") as { decode: (s: string) => Buffer }

/** splits `b` at the given (sorted, de-duplicated) positions */
const pieces = (b: Buffer, cuts: Array<number>): Array<Buffer> => {
  const at = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y)
  const out: Array<Buffer> = []
  let prev = 0
  for (const c of at) {
    out.push(b.subarray(prev, c))
    prev = c
  }
  out.push(b.subarray(prev))
  return out
}

const through = (codec: ByteCodec, parts: Array<Buffer>): Buffer => Buffer.concat([...parts.map((p) => codec.write(p)), codec.end()])

const decodeAll = (decoder: TextDecoderLike, parts: Array<Buffer>): string => parts.map((p) => decoder.write(p)).join("") + decoder.end()

const textWithBreaks = fc
  .array(fc.oneof(fc.string({ unit: "grapheme", maxLength: 40 }), fc.constant("\r\n"), fc.constant(" \r\n"), fc.constant("=")), {
    maxLength: 30
  })
  .map((xs) => xs.join(""))

const cuts = fc.array(fc.nat(), { maxLength: 12 })

describe("quoted-printable encoder", () => {
  it("round-trips through libqp, keeps lines within 76 and never splits a UTF-8 character", () => {
    fc.assert(
      fc.property(textWithBreaks, cuts, (text, at) => {
        const bytes = Buffer.from(text, "utf8")
        const encoded = through(makeTransferEncoder("quoted-printable"), pieces(bytes, at)).toString("latin1")
        expect(libqp.decode(encoded).equals(bytes)).toBe(true)
        const lines = encoded.split("\r\n")
        for (const [i, line] of lines.entries()) {
          expect(line.length).toBeLessThanOrEqual(76)
          expect(line).not.toMatch(/[ \t]$/)
          // a soft break never falls between the bytes of one character
          if (line.endsWith("=") && i + 1 < lines.length) expect(lines[i + 1]).not.toMatch(/^=[89AB][0-9A-F]/)
        }
      })
    )
  })
})

describe("transfer decoders", () => {
  it("quoted-printable: decodes libqp's output for any bytes, however cut", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), cuts, (raw, at) => {
        const bytes = Buffer.from(raw)
        const encoded = Buffer.from(libqp.wrap(libqp.encode(bytes), 76), "latin1")
        expect(through(makeTransferDecoder("quoted-printable"), pieces(encoded, at)).equals(libqp.decode(encoded.toString("latin1")))).toBe(true)
      })
    )
  })

  it("base64: encoder and decoder round-trip any bytes, lines within 76", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 500 }), cuts, cuts, (raw, at1, at2) => {
        const bytes = Buffer.from(raw)
        const encoded = through(makeTransferEncoder("base64"), pieces(bytes, at1))
        for (const line of encoded.toString("latin1").split("\r\n")) expect(line.length).toBeLessThanOrEqual(76)
        expect(libbase64.decode(encoded.toString("latin1")).equals(bytes)).toBe(true)
        expect(through(makeTransferDecoder("base64"), pieces(encoded, at2)).equals(bytes)).toBe(true)
      })
    )
  })
})

describe("charset decoders", () => {
  const decoderFor = (label: string, mode: "html" | "text" = "text"): TextDecoderLike => {
    const choice = resolveCharset(label)
    if (!choice.decodable) throw new Error(`undecodable ${label}`)
    return makeCharsetDecoder(choice.name, mode)
  }

  it.each(["gb18030", "shift_jis", "euc-kr", "big5", "utf-16", "koi8-r"])("%s: any cut gives the whole decoding", (cs) => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 60 }), cuts, (text, at) => {
        const bytes = iconv.encode(text, cs)
        expect(decodeAll(decoderFor(cs), pieces(bytes, at))).toBe(iconv.decode(bytes, cs))
      })
    )
  })

  it("double-byte charsets: a pair cut after its first byte decodes as the whole, even where it gives two UTF-16 units", () => {
    // iconv-lite sizes a write's output for that write's bytes alone: a HKSCS character outside the BMP (95 7A is U+2F9BC)
    // or an invalid pair (a replacement character, then the second byte read again) begun in the previous write lost a unit;
    // in GB18030 too, where a four-byte sequence (94 39 FC 36 is U+1F600) or an invalid one can be cut after any byte
    const cases: Array<[string, string]> = [
      ["big5", "957a"],
      ["big5", "8862"],
      ["big5", "8745"],
      ["cp950", "a17f"],
      ["shift_jis", "817f"],
      ["euc-jp", "8e40"],
      ["euc-kr", "8140"],
      ["ks_c_5601-1987", "815b"],
      ["gbk", "817f"],
      ["gb18030", "9439fc36"],
      ["gb18030", "8130018120"]
    ]
    for (const [cs, hex] of cases) {
      const bytes = Buffer.from(`41${hex}42`, "hex")
      const choice = resolveCharset(cs)
      if (!choice.decodable) throw new Error(`undecodable ${cs}`)
      const whole = iconv.decode(bytes, choice.name)
      for (let c = 1; c < bytes.length; c++) expect([cs, hex, c, decodeAll(decoderFor(cs), pieces(bytes, [c]))]).toEqual([cs, hex, c, whole])
      expect(decodeAll(decoderFor(cs), pieces(bytes, [1, 2, 3]))).toBe(whole)
    }
  })

  it("any bytes, valid or not, cut anywhere, decode as they do in one write", () => {
    // bytes that matter to the stateful decoders (escapes, shifts, lead bytes) mixed with random ones
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 60 }),
      fc
        .array(
          fc.constantFrom(0x1b, 0x24, 0x28, 0x42, 0x40, 0x49, 0x4a, 0x2b, 0x2d, 0x41, 0x77, 0x3d, 0x0d, 0x0a, 0x20, 0x81, 0x30, 0x95, 0x7a, 0xb0, 0x00, 0xe3),
          { maxLength: 60 }
        )
        .map((a) => Uint8Array.from(a))
    )
    // UTF-16 and UTF-32 without a byte-order mark guess the byte order from their first bytes
    for (const cs of ["iso-2022-jp", "utf-7", "us-ascii", "utf-8", "gb18030", "big5", "shift_jis", "euc-jp", "euc-kr", "gbk", "utf-16", "utf-32"]) {
      fc.assert(
        fc.property(bytes, cuts, (raw, at) => {
          const input = Buffer.from(raw)
          const one = decoderFor(cs)
          expect(decodeAll(decoderFor(cs), pieces(input, at))).toBe(one.write(input) + one.end())
        }),
        // ISO-2022-JP passes 8-bit bytes to its EUC-JP decoder: B0 | 00 lost the NUL; UTF-16: 16 bytes then 2 guessed
        // little-endian where all 18 say big-endian
        {
          examples: [
            [Uint8Array.from([0xb0, 0x00]), [1]],
            [Uint8Array.from(Buffer.from("452706010101010101010101012001010001", "hex")), [16]]
          ]
        }
      )
    }
  })

  it("UTF-7: matches iconv-lite on whole input, whatever the cuts; in HTML shifted markup stays text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 60 }), cuts, (text, at) => {
        const bytes = iconv.encode(text, "utf7")
        expect(decodeAll(decoderFor("unicode-1-1-utf-7"), pieces(bytes, at))).toBe(iconv.decode(bytes, "utf7"))
      })
    )
    expect(decodeAll(decoderFor("utf-7", "html"), [Buffer.from("a +ADw-script+AD4- 1+-1")])).toBe("a &lt;script&gt; 1+1")
  })

  it("ISO-2022-JP: escapes and byte pairs survive any cut", () => {
    const bytes = Buffer.from("\x1b$B$3$s$K$A$O\x1b(B abc \x1b(I6@6E\x1b(B", "latin1")
    const whole = decodeAll(decoderFor("iso-2022-jp"), [bytes])
    expect(whole).toBe("こんにちは abc ｶﾀｶﾅ")
    for (let c = 1; c < bytes.length; c++) expect(decodeAll(decoderFor("ISO-2022-JP"), pieces(bytes, [c]))).toBe(whole)
  })

  it("labels: aliases resolve, junk is undecodable, unknown-8bit is never guessed", () => {
    expect(resolveCharset("UTF8")).toEqual({ decodable: true, name: "utf-8" })
    expect(resolveCharset('"ks_c_5601-1987"')).toEqual({ decodable: true, name: "cp949" })
    expect(resolveCharset("x-unknown")).toEqual({ decodable: true, name: "ascii-fallback" })
    expect(resolveCharset(false)).toEqual({ decodable: true, name: "ascii-fallback" })
    expect(resolveCharset("unknown-8bit").decodable).toBe(false)
    expect(resolveCharset("fakescii").decodable).toBe(false)
  })

  it("ASCII fallback: UTF-8 where well-formed, windows-1252 elsewhere, independent of cuts", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), cuts, (raw, at) => {
        const bytes = Buffer.from(raw)
        expect(decodeAll(decoderFor("us-ascii"), pieces(bytes, at))).toBe(decodeAll(decoderFor("us-ascii"), [bytes]))
      })
    )
    expect(decodeAll(decoderFor(""), [Buffer.from([0x47, 0xc3, 0xbc, 0x20, 0x93, 0x71, 0x94])])).toBe("Gü “q”")
  })
})
