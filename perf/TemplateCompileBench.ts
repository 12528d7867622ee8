/**
 * `npm run build && node --expose-gc dist/perf/TemplateCompileBench.js [--reps N] [--warmup N] [--sizes 64,256,2048]`
 *
 * What saving a template costs (issue 13 item 8): prepareTemplate's work
 * (sanitize, compile the HTML, derive and compile the text; its size cap
 * left out, so larger inputs show the trend) on templates of several
 * shapes and sizes, each stage timed on its own, beside a floor measured in
 * the same turns: htmlparser2 reading the same bytes with no handlers (every
 * stage parses the HTML at least once). Times are CPU time of the process
 * (user + system, so GC included), medians of `reps` runs after a warm-up,
 * stages and floor alternating. Memory: each (shape, size) is
 * prepared once more in a child process, whose peak RSS (getrusage maxRSS)
 * minus its RSS just before is the extra memory. Writes
 * perf/results/template-<timestamp>.{json,md}. A benchmark: nothing is
 * asserted.
 */
import { Parser } from "htmlparser2"
import { execFileSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Template } from "../src/domain/Template.js"
import { htmlToText } from "../src/signature/HtmlToText.js"
import { compileHtml, compileText } from "../src/signature/TemplateCompiler.js"
import { compileTemplate } from "../src/signature/TemplateEngine.js"
import { sanitizeTemplate } from "../src/signature/TemplateSanitizer.js"

const KB = 1024
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : undefined
}
const REPS = Number(arg("reps") ?? 7)
/** runs before the measured ones: htmlparser2 alone needs about five to reach its optimised speed */
const WARMUP = Number(arg("warmup") ?? 5)
const SIZES_KB = (arg("sizes") ?? "16,64,256,1024,2048").split(",").map(Number)

const ROW =
  `<tr><td style="color:#333333;font-family:Arial,sans-serif;font-size:12px">{{displayName}}</td>` +
  `<td><a href="mailto:{{mail}}">{{mail}}</a>{{#mobile}} M: <a href="tel:{{mobile}}">{{mobile}}</a>{{/mobile}}</td></tr>\n`
/** Template shapes: a signature repeated; a page of prose; placeholders only; nested blocks (as deep as allowed) */
const SHAPES: Record<string, (bytes: number) => string> = {
  signature: (bytes) => `<table>${ROW.repeat(Math.max(1, Math.floor(bytes / ROW.length)))}</table>`,
  prose: (bytes) => `<p>${"Kind regards from the whole team &amp; thanks. ".repeat(Math.floor(bytes / 48))}</p>`,
  placeholders: (bytes) => `<p>${"{{displayName}} {{title}} ".repeat(Math.floor(bytes / 26))}</p>`,
  nested: (bytes) => {
    const block = `${"<div>".repeat(50)}<span>{{title}}</span>${"</div>".repeat(50)}\n`
    return block.repeat(Math.max(1, Math.floor(bytes / block.length)))
  }
}

/** CPU milliseconds (user + system) of this process: on a machine shared with other work, wall time mostly measures the others */
const time = (f: () => unknown): number => {
  const start = process.cpuUsage()
  f()
  const used = process.cpuUsage(start)
  return (used.user + used.system) / 1000
}
const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})

/** prepareTemplate without its size cap, so sizes above it are measured too */
const prepare = (html: string) => compileTemplate(new Template({ id: "t", name: "t", html: sanitizeTemplate(html).html }))

const floor = (html: string) => {
  const parser = new Parser({})
  parser.end(html)
}

interface Row {
  readonly shape: string
  readonly kb: number
  readonly floorMs: number
  readonly sanitizeMs: number
  readonly compileHtmlMs: number
  readonly htmlToTextMs: number
  readonly compileTextMs: number
  readonly prepareMs: number
  readonly extraRssMb: number
}

/** Child mode: prepare one template once and print the peak RSS growth in MB. */
const child = (shape: string, kb: number) => {
  const html = SHAPES[shape]!(kb * KB)
  prepare(SHAPES[shape]!(KB))
  gc()
  const before = process.memoryUsage().rss
  const peakBefore = process.resourceUsage().maxRSS * KB
  prepare(html)
  const peak = process.resourceUsage().maxRSS * KB
  process.stdout.write(String((Math.max(peak, peakBefore) - Math.max(before, peakBefore)) / (KB * KB)))
}

const measure = (shape: string, kb: number): Row => {
  const html = SHAPES[shape]!(kb * KB)
  const sanitized = sanitizeTemplate(html).html
  const text = htmlToText(sanitized)
  const runs: Record<string, number[]> = { floor: [], sanitize: [], compileHtml: [], htmlToText: [], compileText: [], prepare: [] }
  for (let rep = -WARMUP; rep < REPS; rep++) {
    const sample = {
      floor: time(() => floor(html)),
      sanitize: time(() => sanitizeTemplate(html)),
      compileHtml: time(() => compileHtml(sanitized)),
      htmlToText: time(() => htmlToText(sanitized)),
      compileText: time(() => compileText(text)),
      prepare: time(() => prepare(html))
    }
    gc()
    if (rep >= 0) for (const [k, v] of Object.entries(sample)) runs[k]!.push(v)
  }
  const self = fileURLToPath(import.meta.url)
  const extra = Number(execFileSync(process.execPath, ["--expose-gc", self, "--child", shape, String(kb)], { encoding: "utf8" }))
  return {
    shape,
    kb,
    floorMs: median(runs.floor!),
    sanitizeMs: median(runs.sanitize!),
    compileHtmlMs: median(runs.compileHtml!),
    htmlToTextMs: median(runs.htmlToText!),
    compileTextMs: median(runs.compileText!),
    prepareMs: median(runs.prepare!),
    extraRssMb: extra
  }
}

const main = () => {
  const rows: Row[] = []
  for (const kb of SIZES_KB) {
    for (const shape of Object.keys(SHAPES)) {
      const row = measure(shape, kb)
      rows.push(row)
      console.log(JSON.stringify(row))
    }
  }
  const fmt = (n: number) => n.toFixed(n < 10 ? 1 : 0)
  const table = [
    "| shape | KB | floor ms | sanitize | compile HTML | HTML→text | compile text | prepare (all) | prepare / floor | extra RSS MB |",
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ...rows.map(
      (r) =>
        `| ${r.shape} | ${r.kb} | ${fmt(r.floorMs)} | ${fmt(r.sanitizeMs)} | ${fmt(r.compileHtmlMs)} | ${fmt(r.htmlToTextMs)} | ${fmt(r.compileTextMs)} | ${fmt(r.prepareMs)} | ${(r.prepareMs / r.floorMs).toFixed(1)} | ${fmt(r.extraRssMb)} |`
    )
  ].join("\n")
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")
  const stamp = new Date()
    .toISOString()
    .replace(/:/g, "-")
    .replace(/\.\d+Z$/, "Z")
  const dir = path.join(root, "perf", "results")
  mkdirSync(dir, { recursive: true })
  writeFileSync(path.join(dir, `template-${stamp}.json`), JSON.stringify({ reps: REPS, node: process.version, rows }, null, 2))
  writeFileSync(path.join(dir, `template-${stamp}.md`), `# Template compile cost, ${stamp}\n\nmedians of ${REPS} runs; ${process.version}\n\n${table}\n`)
  console.log(table)
}

if (process.argv[2] === "--child") child(process.argv[3]!, Number(process.argv[4]))
else main()
