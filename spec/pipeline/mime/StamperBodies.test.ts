/**
 * Issue 4, placement acceptance: each reply-parser fixture of
 * spec/fixtures/corpus/bodies is wrapped as an HTML or a text message and stamped;
 * the signature must land after the expected new text and before the quote.
 *
 * The oracle comes only from expected.json (the source projects' own test
 * answers): the new text (exact, or a regex on the first fragment) must be
 * above the signature, fragments the source marks as quoted must be below it,
 * and between the new text and the signature there may only be a short
 * sign-off (the email_reply_parser family hides "-Abhishek", "Sent from my
 * iPhone", "-- \nrick" from its "new text", while the signature goes after it).
 */
import { describe, expect, it } from "vitest"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { CORPUS_DIR } from "../../support/Corpus.js"
import { decodeText, runStamper, SIG_MARKER, SIG_TEXT_LINE, splitParts, toCrlf } from "./MimeHarness.js"

const CORPUS = CORPUS_DIR
const BODIES = join(CORPUS, "bodies")
const files = readdirSync(BODIES).sort()

/** visible characters a sign-off between the new text and the signature may have */
const SIGN_OFF_MAX = 200
/** the pass rate reached when this spec was written, minus a small margin: a regression fails */
const PASS_RATE_FLOOR = 0.95

interface Expectation {
  target: string
  op: string
  value?: unknown
}
interface Expected {
  new_text?: string
  new_text_html?: string
  expectations?: Array<Expectation>
}

interface Oracle {
  /** exact new text, compared without whitespace */
  newText?: string
  /** regexes that must match the text above the signature */
  above: Array<RegExp>
  /** regexes that must match the text below the signature */
  below: Array<RegExp>
}

const squash = (s: string): string => s.replace(/\s+/g, "")

const htmlToText = (html: string): string =>
  html
    .replace(/<(style|script|head)\b[\s\S]*?<\/\1\s*>/gi, " ")
    .replace(/<br\b[^>]*>|<\/(?:p|div|tr|li|h\d|blockquote)\s*>/gi, "\n")
    .replace(/<[^>]*>/g, "")
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&nbsp;/g, " ")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, "&")

const oracleOf = (exp: Expected, html: boolean): Oracle | undefined => {
  const o: Oracle = { above: [], below: [] }
  const list = exp.expectations ?? []
  const flags = (name: string): Array<boolean> | undefined => {
    const e = list.find((x) => x.target === `fragments.${name}?` && x.op === "equals")
    return Array.isArray(e?.value) ? (e.value as Array<boolean>) : undefined
  }
  const quoted = flags("quoted")
  const hidden = flags("hidden")
  // quotes after the last visible new text go below the signature; quotes before it (bottom-posting,
  // interleaving) stay above it
  const lastVisible = quoted !== undefined && hidden !== undefined ? Math.max(0, ...quoted.map((q, i) => (!q && !hidden[i] ? i : 0))) : 0
  if (exp.new_text !== undefined) o.newText = exp.new_text
  if (exp.new_text_html !== undefined) o.newText = htmlToText(exp.new_text_html)
  for (const e of list) {
    const m = /^fragments\[(\d+)\](\.trim\(\))?$/.exec(e.target)
    if (m !== null && typeof e.value === "string") {
      const i = Number(m[1])
      const isQuoted = quoted?.[i] ?? list.some((x) => x.target === `fragments[${i}].isQuoted` && x.value === true)
      const pattern = (): RegExp => new RegExp((e.value as string).replace(/^\^/, "(?:^|\\n)\\s*"))
      if (isQuoted && e.op === "matches") (i > lastVisible ? o.below : o.above).push(pattern())
      else if (i === 0 && e.op === "equals") o.newText ??= e.value
      else if (i === 0 && e.op === "matches") o.above.push(pattern())
    }
    if (e.op === "equals" && typeof e.value === "string" && /parse_reply|visible text|reply text/.test(e.target)) {
      o.newText ??= e.value
    }
    if (e.target === "extracted html" && typeof e.value === "string") o.newText ??= htmlToText(e.value)
    if (e.target === "unwrap_html(data)" && typeof e.value === "object" && e.value !== null) {
      const top = (e.value as Record<string, unknown>)["html_top"]
      if (typeof top === "string") o.newText ??= htmlToText(top)
    }
    if (e.target === "result" && e.op === "lacks_key" && e.value === "html_top") o.newText ??= ""
  }
  if (html && o.newText === undefined && list.some((x) => /html_top/.test(x.target))) return undefined
  return o.newText === undefined && o.above.length === 0 && o.below.length === 0 ? undefined : o
}

const wrap = (body: Buffer, html: boolean): Buffer => {
  const b64 = body.toString("base64").replace(/.{76}/g, "$&\r\n")
  const type = html ? "text/html" : "text/plain"
  return Buffer.from(
    `From: a@example.com\r\nTo: b@example.com\r\nSubject: fixture\r\nMIME-Version: 1.0\r\n` +
      `Content-Type: ${type}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}\r\n`
  )
}

const judge = async (name: string, oracle: Oracle): Promise<string | undefined> => {
  const html = name.endsWith(".html")
  const { output, outcome } = await runStamper(wrap(readFileSync(join(BODIES, name)), html))
  if (outcome.stamped.length !== 1) return `not stamped (${outcome.skipped})`
  const [part] = await splitParts(output)
  return judgeDecoded(decodeText(part, html ? "html" : "text"), html, oracle)
}

/** whole corpus messages with an expectation on their first text/plain part (talon's standard replies) */
const judgeMessage = async (name: string, oracle: Oracle): Promise<string | undefined> => {
  const { output, outcome } = await runStamper(toCrlf(readFileSync(join(CORPUS, name))))
  if (!outcome.stamped.includes("text")) return `text part not stamped (${outcome.skipped})`
  const part = (await splitParts(output)).find((p) => (p.node.contentType || "text/plain") === "text/plain")!
  return judgeDecoded(decodeText(part, "text"), false, oracle)
}

const judgeDecoded = (decoded: string, html: boolean, oracle: Oracle): string | undefined => {
  const at = decoded.indexOf(html ? `<div id="${SIG_MARKER}"` : "Jane Doe — Ünïcode ✓")
  const end = html ? decoded.indexOf("</div>", at) + 6 : decoded.indexOf(SIG_TEXT_LINE) + SIG_TEXT_LINE.length
  const above = html ? htmlToText(decoded.slice(0, at)) : decoded.slice(0, at)
  const below = html ? htmlToText(decoded.slice(end)) : decoded.slice(end)
  for (const r of oracle.above) if (!r.test(above)) return `above the signature lacks ${r}`
  for (const r of oracle.below) if (!r.test(below)) return `below the signature lacks ${r}`
  if (oracle.newText !== undefined) {
    const want = squash(oracle.newText)
    const got = squash(above)
    const i = got.indexOf(want)
    if (i < 0) return `new text not above the signature`
    if (got.length - (i + want.length) > SIGN_OFF_MAX) {
      return `signature too far below the new text: ${JSON.stringify(got.slice(i + want.length, i + want.length + 80))}…`
    }
  }
  return undefined
}

describe("Stamper placement on reply-parser fixtures", () => {
  it("puts the signature after the new text and before the quote", async () => {
    const expected = JSON.parse(readFileSync(join(CORPUS, "expected.json"), "utf8")) as Record<string, Expected>
    const failures: Array<string> = []
    const unjudged: Array<string> = []
    let judged = 0
    for (const name of files) {
      const exp = expected[`bodies/${name}`]
      const oracle = exp === undefined ? undefined : oracleOf(exp, name.endsWith(".html"))
      if (oracle === undefined) {
        unjudged.push(name)
        continue
      }
      judged++
      const why = await judge(name, oracle)
      if (why !== undefined) failures.push(`${name}: ${why}`)
    }
    for (const [key, exp] of Object.entries(expected)) {
      if (!key.startsWith("messages/") || !existsSync(join(CORPUS, key))) continue
      const oracle = oracleOf(exp, false)
      if (oracle === undefined) continue
      judged++
      const why = await judgeMessage(key, oracle)
      if (why !== undefined) failures.push(`${key}: ${why}`)
    }
    const rate = (judged - failures.length) / judged
    console.log(
      `bodies: ${files.length} fixtures (+ corpus messages with an expectation), ${judged} judged, ${judged - failures.length} pass ` +
        `(${(rate * 100).toFixed(1)}%), ${unjudged.length} without a usable expectation\n` +
        failures.join("\n")
    )
    expect(judged).toBeGreaterThan(80)
    expect(rate).toBeGreaterThanOrEqual(PASS_RATE_FLOOR)
  }, 120_000)
})
