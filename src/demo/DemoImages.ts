import { Effect } from "effect"
import type { TenantId } from "../domain/Tenant.js"
import { Canvas, rgb } from "../images/PngWriter.js"
import { saveImage } from "../images/ImageLibrary.js"
import type { ImageRepo } from "../store/ImageRepo.js"

/**
 * The demo tenant's images, drawn in code (no downloads, no binary files in
 * the repository): the company logo, three social icons and the winter
 * banner, as PNGs. The demo templates show them with `<img src="image:ID">`;
 * `imprint demo` stores them in the tenant's library after importing the
 * tenant, so every demo message carries them embedded and shows them with
 * no network.
 */

const BRAND = rgb("#1a5fb4")
const WHITE = rgb("#ffffff")

/** The logo: a brand-blue tile with a white "D", 88×88. */
const logo = (): Buffer => {
  const c = new Canvas(88, 88).rect(0, 0, 87, 87, BRAND, 14)
  // the D: a stem and a half ring
  c.rect(26, 20, 12, 48, WHITE)
  c.shape((x, y) => {
    const d = Math.hypot(x - 38, y - 44)
    return x >= 38 && d <= 24 && d >= 12
  }, WHITE)
  return c.toPng()
}

/** Social icons at twice the size they are shown (20×20), so they stay sharp on high-density screens. */
const linkedin = (): Buffer => {
  const c = new Canvas(40, 40).rect(0, 0, 39, 39, rgb("#0a66c2"), 7)
  c.circle(11.5, 10.5, 3.2, WHITE).rect(8.5, 16, 6, 16, WHITE)
  c.rect(18, 16, 5.5, 16, WHITE)
  c.shape((x, y) => {
    const d = Math.hypot(x - 26, y - 23)
    return (y <= 23 && x >= 18 && d <= 8.5 && d >= 3) || (y > 23 && x >= 29 && x <= 34.5 && y <= 32) || (y > 22 && x >= 18 && x <= 23.5 && y <= 32)
  }, WHITE)
  return c.toPng()
}

const x = (): Buffer => new Canvas(40, 40).rect(0, 0, 39, 39, rgb("#000000"), 7).line(11, 10, 29, 30, 4.5, WHITE).line(29, 10, 11, 30, 2.5, WHITE).toPng()

const youtube = (): Buffer =>
  new Canvas(40, 40)
    .rect(2, 8, 35, 24, rgb("#ff0000"), 7)
    .polygon(
      [
        [16, 14],
        [16, 26],
        [26.5, 20]
      ],
      WHITE
    )
    .toPng()

/** The banner, 480×80: a brand gradient with snowflake dots and a call-to-action pill (the words are in its alt text). */
const banner = (): Buffer => {
  const c = new Canvas(480, 80)
  for (let px = 0; px < 480; px++) {
    const t = px / 479
    const color = rgb("#0d3b73").map((v, i) => (i === 3 ? 255 : Math.round(v + (BRAND[i]! + 40 - v) * t))) as unknown as [number, number, number, number]
    c.shape((sx) => sx >= px && sx < px + 1, color, { x0: px, y0: 0, x1: px + 1, y1: 80 })
  }
  const flakes: ReadonlyArray<readonly [number, number, number]> = [
    [40, 18, 3],
    [90, 55, 2],
    [150, 25, 2.5],
    [210, 60, 3],
    [260, 15, 2],
    [300, 48, 2.5],
    [430, 20, 3],
    [455, 62, 2],
    [390, 66, 2.5]
  ]
  for (const [fx, fy, r] of flakes) c.circle(fx, fy, r, rgb("#ffffff", 200))
  c.rect(330, 26, 120, 28, WHITE, 14)
  c.polygon(
    [
      [404, 33],
      [404, 47],
      [416, 40]
    ],
    BRAND
  )
  c.rect(30, 34, 180, 6, rgb("#ffffff", 230), 3).rect(30, 46, 120, 4, rgb("#ffffff", 160), 2)
  return c.toPng()
}

/** The demo's library: the ids the demo templates use. */
export const demoImages = (): ReadonlyArray<{ readonly id: string; readonly bytes: Buffer }> => [
  { id: "logo", bytes: logo() },
  { id: "linkedin", bytes: linkedin() },
  { id: "x", bytes: x() },
  { id: "youtube", bytes: youtube() },
  { id: "banner-winter", bytes: banner() }
]

/** Stores the demo images in the tenant's library (create or replace: running the demo again changes nothing). */
export const provisionDemoImages = (repo: ImageRepo, tenantId: TenantId) =>
  Effect.forEach(demoImages(), ({ id, bytes }) => saveImage(repo, tenantId, id, bytes, "put"), { discard: true })
