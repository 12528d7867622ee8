import iconv from "iconv-lite"
import { AsciiFallbackDecoder, iconvDecoder, Iso2022JpDecoder, type TextDecoderLike, Utf7Decoder } from "./StatefulDecoders.js"

export type { TextDecoderLike } from "./StatefulDecoders.js"

/**
 * The decoding Imprint uses for a part's charset label: a name iconv-lite
 * knows, one of the decoders written here, or "undecodable" (the part then
 * passes untouched: re-encoding text we cannot read would corrupt it).
 */
export type CharsetChoice = { readonly decodable: true; readonly name: string } | { readonly decodable: false; readonly label: string }

/** labels that say "ASCII or unknown": decoded as UTF-8 where well-formed, else windows-1252 */
const ASCII_OR_UNKNOWN = new Set(["", "us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "us", "x-unknown", "unknown", "default", "x-user-defined", "none"])

/** labels seen in real mail that iconv-lite does not know under that name */
const ALIASES: Record<string, string> = {
  utf8: "utf-8",
  "unicode-1-1-utf-7": "utf-7",
  "x-unicode-2-0-utf-7": "utf-7",
  "unicode-2-0-utf-7": "utf-7",
  "ks_c_5601-1987": "cp949",
  ks_c_5601: "cp949",
  "x-mac-cyrillic": "maccyrillic",
  "x-mac-roman": "macroman",
  "x-sjis": "shift_jis",
  sjis: "shift_jis",
  "x-euc-jp": "euc-jp",
  "iso-8859-8-i": "iso-8859-8",
  "x-gbk": "gbk",
  csiso2022jp: "iso-2022-jp",
  "iso-2022-jp-1": "iso-2022-jp",
  "iso-2022-jp-2": "iso-2022-jp"
}

/** "unknown-8bit" (RFC 1428) explicitly says the bytes are of no known charset */
const UNDECODABLE = new Set(["unknown-8bit", "x-binaryenc", "binary"])

const normalise = (label: string): string =>
  label
    .trim()
    .replace(/^["']+|["']+$/g, "")
    .replace(/^charset\s*=\s*/i, "")
    .trim()
    .toLowerCase()

export const resolveCharset = (label: string | false | undefined): CharsetChoice => {
  const raw = label === false || label === undefined ? "" : label
  const name = normalise(raw)
  if (ASCII_OR_UNKNOWN.has(name)) return { decodable: true, name: "ascii-fallback" }
  if (UNDECODABLE.has(name)) return { decodable: false, label: raw }
  const aliased = ALIASES[name] ?? name
  if (aliased === "iso-2022-jp" || aliased === "utf-7" || aliased === "utf7") {
    return { decodable: true, name: aliased === "utf7" ? "utf-7" : aliased }
  }
  if (/^[a-z0-9._:-]{1,40}$/.test(aliased) && iconv.encodingExists(aliased)) return { decodable: true, name: aliased }
  return { decodable: false, label: raw }
}

/** `mode` matters for UTF-7 only: in HTML, base64-shifted markup characters become entities. */
export const makeCharsetDecoder = (name: string, mode: "html" | "text"): TextDecoderLike => {
  switch (name) {
    case "ascii-fallback":
      return new AsciiFallbackDecoder()
    case "iso-2022-jp":
      return new Iso2022JpDecoder()
    case "utf-7":
      return new Utf7Decoder(mode === "html")
    default: {
      // a UTF-16/32 byte-order mark means nothing once the part is UTF-8; a UTF-8 one is kept as it came
      return iconvDecoder(name, { stripBOM: /^(?:utf-?(?:16|32)|ucs-?[24])/.test(name) })
    }
  }
}

/** how many decoded bytes an HTML part's start is searched for a `<meta charset>` when MIME gave none */
export const META_SNIFF_BYTES = 1024

/** the charset an HTML document declares in its own `<meta>`, if within the sniffed start */
export const sniffHtmlCharset = (start: Buffer): string | undefined => {
  const head = start.toString("latin1", 0, Math.min(start.length, META_SNIFF_BYTES))
  const m = /<meta[^>]+charset\s*=\s*["']?\s*([a-z0-9._:-]+)/i.exec(head)
  return m?.[1]
}
