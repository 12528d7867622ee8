import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import sharp from "sharp"
import { MAX_PHOTO_INPUT_BYTES, normalisePhoto, PHOTO_BOX, sha256Hex } from "../../src/images/PhotoNormaliser.js"
import { testPng, tinyGif } from "../support/Images.js"

const refusal = (input: Uint8Array) => Effect.map(Effect.either(normalisePhoto(input)), (r) => (Either.isLeft(r) ? r.left.reason : "accepted"))

/** the pixel at (x, y) of a decoded image, RGB */
const pixel = async (jpeg: Uint8Array, x: number, y: number) => {
  const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true })
  const at = (y * info.width + x) * info.channels
  return [data[at]!, data[at + 1]!, data[at + 2]!]
}

describe("PhotoNormaliser", () => {
  it.effect("a wide PNG becomes a 96×96 baseline JPEG, cropped from the centre", () =>
    Effect.gen(function* () {
      const png = testPng(300, 200, "#1a5fb4") // blue, a white disc in the middle
      const photo = yield* normalisePhoto(png)
      const meta = yield* Effect.promise(() => sharp(photo.bytes).metadata())
      expect(meta.format).toBe("jpeg")
      expect([meta.width, meta.height]).toEqual([PHOTO_BOX, PHOTO_BOX])
      expect(meta.isProgressive).toBe(false)
      expect(meta.exif).toBeUndefined()
      expect(photo.sha256).toBe(sha256Hex(photo.bytes))
      const centre = yield* Effect.promise(() => pixel(photo.bytes, 48, 48))
      const corner = yield* Effect.promise(() => pixel(photo.bytes, 1, 1))
      expect(Math.min(...centre)).toBeGreaterThan(230) // the disc
      expect(corner[2]).toBeGreaterThan(corner[0]! + 80) // the blue around it
    })
  )

  it.effect("a JPEG taken sideways (EXIF orientation 6) is turned upright and its metadata dropped", () =>
    Effect.gen(function* () {
      // 200 wide, 100 tall, left half red, right half green; orientation 6 means "rotate 90° clockwise to view"
      const raw = Buffer.alloc(200 * 100 * 3)
      for (let y = 0; y < 100; y++) for (let x = 0; x < 200; x++) raw.set(x < 100 ? [220, 20, 20] : [20, 200, 20], (y * 200 + x) * 3)
      const jpeg = yield* Effect.promise(() =>
        sharp(raw, { raw: { width: 200, height: 100, channels: 3 } })
          .jpeg({ quality: 95 })
          .withMetadata({ orientation: 6 })
          .toBuffer()
      )
      expect((yield* Effect.promise(() => sharp(jpeg).metadata())).orientation).toBe(6)
      const photo = yield* normalisePhoto(jpeg)
      const meta = yield* Effect.promise(() => sharp(photo.bytes).metadata())
      expect([meta.width, meta.height, meta.orientation]).toEqual([PHOTO_BOX, PHOTO_BOX, undefined])
      // upright, the red half is on top
      const top = yield* Effect.promise(() => pixel(photo.bytes, 48, 5))
      const bottom = yield* Effect.promise(() => pixel(photo.bytes, 48, 90))
      expect(top[0]).toBeGreaterThan(top[1]! + 100)
      expect(bottom[1]).toBeGreaterThan(bottom[0]! + 100)
    })
  )

  it.effect("a transparent GIF is flattened onto white", () =>
    Effect.gen(function* () {
      const photo = yield* normalisePhoto(tinyGif())
      const meta = yield* Effect.promise(() => sharp(photo.bytes).metadata())
      expect([meta.format, meta.width, meta.height]).toEqual(["jpeg", PHOTO_BOX, PHOTO_BOX])
    })
  )

  it.effect("the same input gives the same bytes (content addressing finds the photo again)", () =>
    Effect.gen(function* () {
      const a = yield* normalisePhoto(testPng(120, 160))
      const b = yield* normalisePhoto(testPng(120, 160))
      expect(a.sha256).toBe(b.sha256)
    })
  )

  it.effect("refuses what is not a PNG, JPEG or GIF, and what cannot be decoded", () =>
    Effect.gen(function* () {
      expect(yield* refusal(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'))).toMatch(/SVG .* refused/)
      expect(yield* refusal(Buffer.from("Name,Mail\nA,a@example.com\n"))).toMatch(/not a PNG, JPEG or GIF/)
      expect(yield* refusal(new Uint8Array(0))).toMatch(/empty/)
      const png = testPng(64, 64)
      // a valid header, then garbage where the pixels were
      const broken = Buffer.concat([png.subarray(0, 41), Buffer.alloc(200, 0x41)])
      expect(yield* refusal(broken)).toMatch(/cannot be decoded/)
      // RIFF/WEBP is refused by the sniffer before sharp (which would decode it) sees it
      expect(yield* refusal(Buffer.from("RIFF\x10\x00\x00\x00WEBPVP8 ", "latin1"))).toMatch(/WebP is refused/)
    })
  )

  it.effect("refuses input over the size limit before decoding it", () =>
    Effect.gen(function* () {
      const big = Buffer.concat([testPng(8, 8), Buffer.alloc(MAX_PHOTO_INPUT_BYTES, 0x20)])
      expect(yield* refusal(big)).toMatch(/at most 2097152 are read/)
    })
  )
})
