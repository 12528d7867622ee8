/**
 * Images for specs, made in code (src/images/PngWriter.ts): a small PNG of
 * one colour with a mark, a PNG padded to an exact size (the sniffer reads
 * headers only, so the padding after IEND is still a PNG of that size), and
 * the smallest GIF and JPEG headers.
 */
import { Canvas, rgb } from "../../src/images/PngWriter.js"

export const testPng = (width: number, height: number, color = "#1a5fb4"): Buffer =>
  new Canvas(width, height, rgb(color)).circle(width / 2, height / 2, Math.min(width, height) / 3, rgb("#ffffff")).toPng()

/** A valid PNG of `bytes` bytes (image data, then padding after IEND). */
export const paddedPng = (bytes: number, width = 4, height = 4): Buffer => {
  const png = testPng(width, height)
  return Buffer.concat([png, Buffer.alloc(Math.max(0, bytes - png.length), 0x20)])
}

/** GIF89a, 3×2, one colour: a real image browsers decode. */
export const tinyGif = (): Buffer => Buffer.from("R0lGODlhAwACAIAAAP8AAAAAACH5BAAAAAAALAAAAAADAAIAAAIChF0AOw==", "base64")

/** The start of a JPEG: SOI, an APP0 segment, then a baseline frame header of 640×480. */
export const jpegHeader = (): Buffer =>
  Buffer.from([
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x01,
    0xe0, 0x02, 0x80, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xff, 0xd9
  ])
