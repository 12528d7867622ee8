/**
 * `npm run perf:photos [-- --reps N] [-- --record]`
 *
 * What a directory photo costs the sync pass (issue 17 item 3): normalising
 * one input (PhotoNormaliser: sniff, decode, EXIF-rotate, cover-resize to
 * 96×96, flatten, baseline JPEG) for inputs of the sizes directories hold,
 * beside a floor measured in the same turns: sharp decoding the same bytes
 * to raw pixels and nothing else. Also the cost of recognising an unchanged
 * photo (SHA-256 of the input, what LDAP and imports compare). Wall time per
 * photo, medians of `reps` after a warm-up, normalise and floor alternating;
 * peak RSS of the process. Writes perf/results/[local/]photos-<timestamp>.{json,md}.
 * A benchmark: nothing is asserted.
 */
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { mkdirSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import sharp from "sharp"
import { normalisePhoto } from "../src/images/PhotoNormaliser.js"
import { Canvas, rgb } from "../src/images/PngWriter.js"
import { resultsDir } from "./ResultsDir.js"

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : undefined
}
const REPS = Number(arg("reps") ?? 40)
const WARMUP = 5

/** a portrait-like picture: gradient background, a face-sized disc, so JPEG has detail to encode */
const picture = (w: number, h: number): Buffer => {
  const c = new Canvas(w, h, rgb("#dfe6ee"))
  for (let y = 0; y < h; y += 4) for (let x = 0; x < w; x += 4) c.blend(x, y, [(x * 255) / w, (y * 255) / h, 128, 255], 0.5)
  return c.circle(w / 2, h / 2.5, Math.min(w, h) / 4, rgb("#c8a27a")).toPng()
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6

const main = async () => {
  const inputs: Array<{ name: string; bytes: Buffer }> = [
    { name: "AD thumbnailPhoto 96×96 JPEG", bytes: await sharp(picture(96, 96)).jpeg({ quality: 80 }).toBuffer() },
    { name: "Graph 648×648 JPEG", bytes: await sharp(picture(648, 648)).jpeg({ quality: 85 }).toBuffer() },
    { name: "camera 1200×1600 JPEG", bytes: await sharp(picture(1200, 1600)).jpeg({ quality: 90 }).toBuffer() },
    { name: "import 400×400 PNG", bytes: picture(400, 400) }
  ]
  const rows = []
  for (const input of inputs) {
    const normalise: Array<number> = []
    const floor: Array<number> = []
    const hash: Array<number> = []
    let outBytes = 0
    for (let i = 0; i < WARMUP + REPS; i++) {
      let t = process.hrtime.bigint()
      const out = await Effect.runPromise(normalisePhoto(input.bytes))
      const n = ms(t)
      t = process.hrtime.bigint()
      await sharp(input.bytes).raw().toBuffer()
      const f = ms(t)
      t = process.hrtime.bigint()
      createHash("sha256").update(input.bytes).digest("hex")
      const h = ms(t)
      if (i >= WARMUP) {
        normalise.push(n)
        floor.push(f)
        hash.push(h)
      }
      outBytes = out.bytes.length
    }
    rows.push({
      input: input.name,
      inputBytes: input.bytes.length,
      outputBytes: outBytes,
      normaliseMs: median(normalise),
      decodeOnlyMs: median(floor),
      ratio: median(normalise) / median(floor),
      unchangedCheckMs: median(hash)
    })
  }
  const peakRssMb = process.resourceUsage().maxRSS / 1024
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")
  const dir = resultsDir(root)
  mkdirSync(dir, { recursive: true })
  const stamp = new Date().toISOString().replace(/[:.]/g, "-")
  const md = [
    `# Directory photos: normalise cost (${new Date().toISOString()}, ${REPS} reps, node ${process.version}, sharp ${sharp.versions.sharp})`,
    "",
    "| input | bytes in | bytes out (96×96 JPEG) | normalise ms (median) | decode-only floor ms | ratio | unchanged check (SHA-256) ms |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map(
      (r) =>
        `| ${r.input} | ${r.inputBytes} | ${r.outputBytes} | ${r.normaliseMs.toFixed(2)} | ${r.decodeOnlyMs.toFixed(2)} | ${r.ratio.toFixed(2)} | ${r.unchangedCheckMs.toFixed(3)} |`
    ),
    "",
    `Peak RSS of the process: ${peakRssMb.toFixed(0)} MB.`
  ].join("\n")
  writeFileSync(path.join(dir, `photos-${stamp}.md`), md + "\n")
  writeFileSync(path.join(dir, `photos-${stamp}.json`), JSON.stringify({ reps: REPS, rows, peakRssMb }, null, 2))
  console.log(md)
}

void main()
