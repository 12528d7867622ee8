/**
 * Issue 4, corpus acceptance: every message of spec/fixtures/corpus/messages goes
 * through Splitter → Stamper → Joiner; it is stamped or passes with a reason;
 * the output parses; untouched parts are byte-identical; each stamped part
 * holds the signature once, with the original text intact around it.
 */
import { describe, expect, it } from "vitest"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { CORPUS_DIR } from "../../support/Corpus.js"
import { countOf, decodeText, longestLine, type Part, passThrough, runStamper, SIG_MARKER, SIG_TEXT_LINE, splitParts, toCrlf } from "./MimeHarness.js"

const CORPUS = join(CORPUS_DIR, "messages")
const files = readdirSync(CORPUS).sort()

/** a CR not followed by LF: the relay refuses such DATA (SMTP smuggling), so the stamper never sees it */
const hasBareCr = (b: Buffer): boolean => {
  for (let i = 0; i < b.length; i++) if (b[i] === 13 && b[i + 1] !== 10) return true
  return false
}

const sameMetaCharset = (html: string): string => html.replace(/(<meta\b[^>]*?charset\s*=\s*["']?\s*)([a-z0-9._:-]+)/gi, (_, h: string) => `${h}utf-8`)

const kindOf = (p: Part): "html" | "text" => (p.node.contentType === "text/html" ? "html" : "text")

interface Figures {
  stamped: number
  passed: Record<string, number>
  failures: Array<string>
  bareCr: Array<string>
  lateSkip: Array<string>
  splitterNotExact: Array<string>
}

/** chunkings vary per message: a network read can end anywhere */
const CHUNK_SIZES = [127, 1021, 4093, 16381]

const checkMessage = async (name: string, figures: Figures, chunkSize: number): Promise<void> => {
  const input = toCrlf(readFileSync(join(CORPUS, name)))
  if (hasBareCr(input)) {
    figures.bareCr.push(name)
    return
  }
  const fail = (why: string): void => void figures.failures.push(`${name}: ${why}`)
  const { output, outcome } = await runStamper(input, undefined, { chunkSize })
  if (outcome.stamped.length > 0) figures.stamped++
  else if (outcome.skipped !== undefined) figures.passed[outcome.skipped] = (figures.passed[outcome.skipped] ?? 0) + 1
  else return fail("neither stamped nor skipped with a reason")
  if (outcome.lateSkip !== undefined) figures.lateSkip.push(`${name} (${outcome.lateSkip})`)

  // the baseline is what mailsplit alone gives back (it is not byte-exact for every malformed message)
  const plain = await passThrough(input)
  if (!plain.equals(input)) figures.splitterNotExact.push(name)
  const before = await splitParts(plain)
  const after = await splitParts(output)
  if (before.length !== after.length) return fail(`part count ${before.length} → ${after.length}`)
  if (outcome.stamped.length === 0 && !output.equals(plain)) return fail("unstamped message changed")
  for (let i = 0; i < before.length; i++) {
    const a = before[i]
    const b = after[i]
    if (a.headers.equals(b.headers) && a.body.equals(b.body)) continue
    const kind = kindOf(a)
    if (a.node.contentType !== b.node.contentType) return fail(`part ${i} content type changed`)
    if (longestLine(b.headers) > Math.max(998, longestLine(a.headers))) return fail(`part ${i} header line over 998`)
    if (longestLine(b.body) > 76) return fail(`part ${i} has an encoded line over 76`)
    const original = decodeText(a, kind)
    const stamped = decodeText(b, kind)
    const needle = kind === "html" ? SIG_MARKER : SIG_TEXT_LINE
    if (countOf(stamped, needle) !== countOf(original, needle) + 1) return fail(`part ${i} (${kind}) signature count`)
    const orig = kind === "html" ? sameMetaCharset(original) : original
    if (kind === "html") {
      const sig = /<div id="imprint-sig-7f3a">[^<]*<\/div>/.exec(stamped)!
      const head = stamped.slice(0, sig.index)
      const rest = stamped.slice(sig.index + sig[0].length)
      if (sameMetaCharset(head) + rest !== orig) return fail(`part ${i} (html): text around the signature differs`)
    } else {
      const at = stamped.indexOf("Jane Doe — Ünïcode ✓")
      const end = stamped.indexOf(SIG_TEXT_LINE) + SIG_TEXT_LINE.length
      const head = stamped.slice(0, at).replace(/(?:\r\n)+$/, "")
      const rest = stamped.slice(end).replace(/^(?:\r\n)+/, "")
      if (!orig.startsWith(head) || !orig.endsWith(rest) || head.length + rest.length > orig.length) {
        return fail(`part ${i} (text): text around the signature differs`)
      }
    }
  }
}

describe("Stamper over the shared corpus", () => {
  it("stamps or passes every message, keeps untouched parts byte-identical", async () => {
    const figures: Figures = {
      stamped: 0,
      passed: {},
      failures: [],
      bareCr: [],
      lateSkip: [],
      splitterNotExact: []
    }
    for (const [i, f] of files.entries()) await checkMessage(f, figures, CHUNK_SIZES[i % CHUNK_SIZES.length])
    console.log(
      `corpus: ${files.length} messages, stamped ${figures.stamped}, passed ${JSON.stringify(figures.passed)}, ` +
        `bare CR (refused by the relay, not run) ${figures.bareCr.length}, failures ${figures.failures.length}\n` +
        (figures.lateSkip.length > 0 ? `late skip reasons: ${figures.lateSkip.join(", ")}\n` : "") +
        (figures.bareCr.length > 0 ? `bare CR: ${figures.bareCr.join(", ")}\n` : "") +
        (figures.splitterNotExact.length > 0 ? `mailsplit pass-through not byte-exact: ${figures.splitterNotExact.join(", ")}\n` : "") +
        figures.failures.join("\n")
    )
    expect(figures.failures).toEqual([])
    expect(figures.stamped).toBeGreaterThan(files.length / 2)
  }, 300_000)
})
