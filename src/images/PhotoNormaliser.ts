import { Effect, Either, Layer } from "effect"
import { createHash } from "node:crypto"
import type { Sharp, SharpOptions } from "sharp"
import { type NormalisedPhoto, PhotoNormaliser, PhotoRefused } from "../domain/Photos.js"
import { sniffImage } from "./ImageSniffer.js"

/**
 * Directory photos (issue 17 item 3) into one fixed form: a PHOTO_BOX ×
 * PHOTO_BOX baseline JPEG, cropped to fill the box from the centre, turned
 * upright by its EXIF orientation, transparency flattened onto white, and no
 * metadata kept (EXIF, GPS, ICC). Every photo a signature shows is then small
 * (a few KB) and of one shape, whatever the directory held.
 *
 * sharp (libvips) decodes and encodes: its prebuilt platform packages install
 * from the npm registry with no install script. The real type is sniffed from
 * the bytes first (ImageSniffer: PNG, JPEG or GIF only), so sharp's wider
 * reach (SVG through librsvg, TIFF, HEIF, …) is never offered untrusted input.
 */

/** the side of the square every photo is re-encoded to, in pixels */
export const PHOTO_BOX = 96
/** the largest photo accepted as input (AD's thumbnailPhoto is at most 100 KB; jpegPhoto and imports are larger) */
export const MAX_PHOTO_INPUT_BYTES = 2 * 1024 * 1024
/** decoded pixels refused beyond this (decompression bombs); the sniffer already caps each side at 5,000 */
export const MAX_PHOTO_INPUT_PIXELS = 25_000_000
export const PHOTO_JPEG_QUALITY = 85

/**
 * sharp (and libvips, tens of MB) is loaded on the first photo, not with the
 * relay: the mail path only reads stored photos. One image at a time is all a
 * sync pass asks; libvips' operation cache would only hold memory.
 */
let loaded: Promise<(input: Uint8Array, options: SharpOptions) => Sharp> | undefined
const loadSharp = () =>
  (loaded ??= import("sharp").then(({ default: sharp }) => {
    sharp.cache(false)
    sharp.concurrency(1)
    return (input: Uint8Array, options: SharpOptions) => sharp(input, options)
  }))

export { type NormalisedPhoto, PhotoRefused } from "../domain/Photos.js"

export const sha256Hex = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex")

/** The photo as a PHOTO_BOX² JPEG, or why it is refused (too large, not PNG/JPEG/GIF, undecodable). */
export const normalisePhoto = Effect.fn("PhotoNormaliser.normalise")(function* (input: Uint8Array) {
  if (input.length === 0) return yield* new PhotoRefused({ reason: "the photo is empty" })
  if (input.length > MAX_PHOTO_INPUT_BYTES) {
    return yield* new PhotoRefused({ reason: `the photo is ${input.length} bytes; at most ${MAX_PHOTO_INPUT_BYTES} are read` })
  }
  const sniffed = sniffImage(input)
  if (Either.isLeft(sniffed)) return yield* new PhotoRefused({ reason: sniffed.left })
  const bytes = yield* Effect.tryPromise({
    try: async () =>
      (await loadSharp())(input, { limitInputPixels: MAX_PHOTO_INPUT_PIXELS, failOn: "error", animated: false })
        .rotate()
        .resize(PHOTO_BOX, PHOTO_BOX, { fit: "cover", position: "centre" })
        .flatten({ background: "#ffffff" })
        .jpeg({ quality: PHOTO_JPEG_QUALITY, progressive: false, chromaSubsampling: "4:2:0" })
        .toBuffer(),
    catch: (e) => new PhotoRefused({ reason: `the ${sniffed.right.type.toUpperCase()} cannot be decoded: ${e instanceof Error ? e.message : String(e)}` })
  })
  return { bytes, sha256: sha256Hex(bytes), width: PHOTO_BOX, height: PHOTO_BOX } satisfies NormalisedPhoto
})

/** The domain's PhotoNormaliser (what the directory sync asks for), provided by the composition root. */
export const PhotoNormaliserLive = Layer.succeed(PhotoNormaliser, { normalise: normalisePhoto })
