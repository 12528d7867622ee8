import { Either } from "effect"
import type { SniffedImage } from "../domain/Images.js"

/**
 * The real type and the pixel size of an uploaded image, read from its bytes
 * (magic numbers and headers), never from its name or the upload's
 * Content-Type. Written here rather than taken from a library such as
 * image-size: three formats need about a hundred lines, and a library that
 * knows twenty formats would only widen what has to be refused.
 */

export type { SniffedImage } from "../domain/Images.js"

/** Wider or taller than this is refused: no signature needs it, and clients choke on huge canvases (decompression bombs). */
export const MAX_IMAGE_SIDE = 5_000

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

const png = (b: Uint8Array): SniffedImage | string => {
  // the IHDR chunk must come first: length 13, type "IHDR", then width and height (big-endian)
  if (b.length < 33) return "the PNG is truncated (no IHDR header)"
  const view = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
  if (view.toString("latin1", 12, 16) !== "IHDR") return "the PNG does not start with its IHDR header"
  return { type: "png", width: view.readUInt32BE(16), height: view.readUInt32BE(20) }
}

const gif = (b: Uint8Array): SniffedImage | string => {
  if (b.length < 13) return "the GIF is truncated (no screen descriptor)"
  const view = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
  return { type: "gif", width: view.readUInt16LE(6), height: view.readUInt16LE(8) }
}

/** Start-of-frame markers (baseline, progressive, lossless, arithmetic): they carry the size. */
const SOF_MARKERS = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf])

const jpeg = (b: Uint8Array): SniffedImage | string => {
  const view = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
  let at = 2
  while (at + 4 <= view.length) {
    if (view[at] !== 0xff) return "the JPEG's segments are malformed"
    const marker = view[at + 1]!
    // fill bytes, and markers without a length (RSTn, TEM)
    if (marker === 0xff) {
      at += 1
      continue
    }
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      at += 2
      continue
    }
    if (marker === 0xd9 || marker === 0xda) break // end of image, or scan data before any frame header
    const length = view.readUInt16BE(at + 2)
    if (length < 2) return "the JPEG's segments are malformed"
    if (SOF_MARKERS.has(marker)) {
      if (at + 9 > view.length) break
      return { type: "jpeg", height: view.readUInt16BE(at + 5), width: view.readUInt16BE(at + 7) }
    }
    at += 2 + length
  }
  return "the JPEG has no frame header (truncated or not a JPEG)"
}

const startsWith = (b: Uint8Array, ascii: string): boolean => {
  if (b.length < ascii.length) return false
  for (let i = 0; i < ascii.length; i++) if (b[i] !== ascii.charCodeAt(i)) return false
  return true
}

/** Text that looks like markup (SVG, HTML), after an optional BOM and blanks. */
const looksLikeMarkup = (b: Uint8Array): boolean => {
  const head = Buffer.from(b.buffer, b.byteOffset, Math.min(b.byteLength, 512))
    .toString("utf8")
    .replace(/^\uFEFF/, "")
    .trimStart()
  return head.startsWith("<")
}

const WHAT_TO_DO = "upload a PNG, JPEG or GIF"

/** The image's type and size, or a message saying why it is refused. */
export const sniffImage = (bytes: Uint8Array): Either.Either<SniffedImage, string> => {
  let found: SniffedImage | string
  if (bytes.length >= 8 && PNG_MAGIC.equals(Buffer.from(bytes.buffer, bytes.byteOffset, 8))) found = png(bytes)
  else if (startsWith(bytes, "GIF87a") || startsWith(bytes, "GIF89a")) found = gif(bytes)
  else if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) found = jpeg(bytes)
  else if (looksLikeMarkup(bytes)) {
    found = `SVG and other markup are refused (mail clients do not show SVG, and it can carry script); ${WHAT_TO_DO}`
  } else if (startsWith(bytes, "RIFF") && bytes.length >= 12 && Buffer.from(bytes.buffer, bytes.byteOffset + 8, 4).toString("latin1") === "WEBP") {
    found = `WebP is refused (Outlook does not show it); ${WHAT_TO_DO}`
  } else found = `the bytes are not a PNG, JPEG or GIF image; ${WHAT_TO_DO}`
  if (typeof found === "string") return Either.left(found)
  if (found.width < 1 || found.height < 1) return Either.left(`the ${found.type.toUpperCase()} says its size is ${found.width}×${found.height}`)
  if (found.width > MAX_IMAGE_SIDE || found.height > MAX_IMAGE_SIDE) {
    return Either.left(`the image is ${found.width}×${found.height} pixels; at most ${MAX_IMAGE_SIDE} on each side`)
  }
  return Either.right(found)
}
