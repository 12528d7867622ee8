import { deflateSync } from "node:zlib"

/**
 * A minimal PNG encoder (8-bit RGBA, no interlace, filter 0) for images made
 * in code: the demo tenant's logo, icons and banner, and test images. Pixels
 * are drawn into a Canvas with a few shape helpers; nothing here decodes.
 */

export type Rgba = readonly [number, number, number, number]

export const rgb = (hex: string, alpha = 255): Rgba => {
  const n = Number.parseInt(hex.replace(/^#/, ""), 16)
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255, alpha]
}

export class Canvas {
  readonly pixels: Uint8Array

  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgba = [0, 0, 0, 0]
  ) {
    this.pixels = new Uint8Array(width * height * 4)
    this.fill(background)
  }

  fill(color: Rgba): this {
    for (let i = 0; i < this.pixels.length; i += 4) this.pixels.set(color, i)
    return this
  }

  /** Blends `color` over the pixel with `coverage` (0-1), for anti-aliased edges. */
  blend(x: number, y: number, color: Rgba, coverage = 1): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height || coverage <= 0) return
    const at = (y * this.width + x) * 4
    const a = (color[3] / 255) * Math.min(1, coverage)
    const under = this.pixels[at + 3]! / 255
    const out = a + under * (1 - a)
    for (let c = 0; c < 3; c++) {
      this.pixels[at + c] = out === 0 ? 0 : Math.round((color[c]! * a + this.pixels[at + c]! * under * (1 - a)) / out)
    }
    this.pixels[at + 3] = Math.round(out * 255)
  }

  /** Paints every pixel whose centre `inside` covers (sampled 4×4 for smooth edges). */
  shape(inside: (x: number, y: number) => boolean, color: Rgba, box = { x0: 0, y0: 0, x1: this.width, y1: this.height }): this {
    for (let y = Math.max(0, Math.floor(box.y0)); y < Math.min(this.height, Math.ceil(box.y1)); y++) {
      for (let x = Math.max(0, Math.floor(box.x0)); x < Math.min(this.width, Math.ceil(box.x1)); x++) {
        let hits = 0
        for (let sy = 0; sy < 4; sy++) for (let sx = 0; sx < 4; sx++) if (inside(x + (sx + 0.5) / 4, y + (sy + 0.5) / 4)) hits++
        this.blend(x, y, color, hits / 16)
      }
    }
    return this
  }

  rect(x: number, y: number, w: number, h: number, color: Rgba, radius = 0): this {
    const inside = (px: number, py: number): boolean => {
      if (px < x || py < y || px > x + w || py > y + h) return false
      const cx = Math.min(Math.max(px, x + radius), x + w - radius)
      const cy = Math.min(Math.max(py, y + radius), y + h - radius)
      return (px - cx) ** 2 + (py - cy) ** 2 <= radius ** 2
    }
    return this.shape(inside, color, { x0: x, y0: y, x1: x + w + 1, y1: y + h + 1 })
  }

  circle(cx: number, cy: number, r: number, color: Rgba): this {
    return this.shape((px, py) => (px - cx) ** 2 + (py - cy) ** 2 <= r * r, color, { x0: cx - r, y0: cy - r, x1: cx + r + 1, y1: cy + r + 1 })
  }

  /** A straight stroke of width `w` from (x0, y0) to (x1, y1). */
  line(x0: number, y0: number, x1: number, y1: number, w: number, color: Rgba): this {
    const dx = x1 - x0
    const dy = y1 - y0
    const len2 = dx * dx + dy * dy
    const inside = (px: number, py: number): boolean => {
      const t = Math.max(0, Math.min(1, ((px - x0) * dx + (py - y0) * dy) / len2))
      return (px - x0 - t * dx) ** 2 + (py - y0 - t * dy) ** 2 <= (w / 2) ** 2
    }
    return this.shape(inside, color, { x0: Math.min(x0, x1) - w, y0: Math.min(y0, y1) - w, x1: Math.max(x0, x1) + w + 1, y1: Math.max(y0, y1) + w + 1 })
  }

  polygon(points: ReadonlyArray<readonly [number, number]>, color: Rgba): this {
    const inside = (px: number, py: number): boolean => {
      let odd = false
      for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
        const [xi, yi] = points[i]!
        const [xj, yj] = points[j]!
        if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) odd = !odd
      }
      return odd
    }
    return this.shape(inside, color)
  }

  toPng(): Buffer {
    return encodePng(this.width, this.height, this.pixels)
  }
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

const crc32 = (bytes: Uint8Array): number => {
  let c = 0xffffffff
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

const chunk = (type: string, data: Uint8Array): Buffer => {
  const head = Buffer.alloc(8)
  head.writeUInt32BE(data.length, 0)
  head.write(type, 4, "latin1")
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0)
  return Buffer.concat([head, data, crc])
}

/** RGBA pixels (row by row) as a PNG file. */
export const encodePng = (width: number, height: number, rgba: Uint8Array): Buffer => {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 6 // colour type RGBA
  const raw = Buffer.alloc((width * 4 + 1) * height)
  for (let y = 0; y < height; y++) {
    raw[y * (width * 4 + 1)] = 0 // filter: none
    raw.set(rgba.subarray(y * width * 4, (y + 1) * width * 4), y * (width * 4 + 1) + 1)
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw, { level: 9 })),
    chunk("IEND", new Uint8Array(0))
  ])
}
