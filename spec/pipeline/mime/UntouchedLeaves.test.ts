/**
 * Issue 14, item 5 (invariant 4), over the whole vendored corpus: every leaf the
 * stamper did not choose leaves with exactly the bytes it came with — headers
 * and body, whatever its type, charset, disposition or the message's damage.
 * Read with an independent parser (spec/support/MimeLeaves.ts, not mailsplit),
 * on the message as SMTP carries it (CRLF), in several chunkings.
 */
import { describe, expect, it } from "vitest"
import { corpusMessages, toCrlf } from "../../support/Corpus.js"
import { type Leaf, leaves } from "../../support/MimeLeaves.js"
import { runStamper, SIG_MARKER, SIG_TEXT_LINE } from "./MimeHarness.js"

const CHUNK_SIZES = [61, 1021, 16381]

/**
 * A leaf that changed must be one the stamper chose: a text part holding the
 * signature (the two parsers may number a damaged tree differently, so the
 * leaf is recognised by what it holds, not by its number).
 */
const isStampedLeaf = (leaf: Leaf, out: Leaf): boolean => {
  if (leaf.contentType !== "text/plain" && leaf.contentType !== "text/html") return false
  const raw = out.raw.toString("latin1")
  const split = raw.indexOf("\r\n\r\n")
  const base64 = /^content-transfer-encoding:\s*base64/im.test(raw.slice(0, split))
  const body = raw.slice(split + 4)
  const text = base64 ? Buffer.from(body, "base64").toString("utf8") : body.replace(/=\r\n/g, "").replace(/=20/g, " ")
  return text.includes(SIG_MARKER) || text.includes(SIG_TEXT_LINE)
}

const hasBareCr = (b: Buffer): boolean => {
  for (let i = 0; i < b.length; i++) if (b[i] === 13 && b[i + 1] !== 10) return true
  return false
}

describe("untouched leaves over the corpus", () => {
  it("changes no byte of any leaf but the chosen body parts", async () => {
    const failures: Array<string> = []
    let checked = 0
    for (const [i, { name, bytes }] of corpusMessages().entries()) {
      const input = toCrlf(bytes)
      if (hasBareCr(input)) continue
      const { output, outcome } = await runStamper(input, undefined, { chunkSize: CHUNK_SIZES[i % CHUNK_SIZES.length] })
      const stamped = outcome.parts.filter((p) => p.result === "stamped").length
      const transcoded = outcome.parts.filter((p) => p.result === "transcoded-only").length
      const before = leaves(input)
      const after = leaves(output)
      if (after.length !== before.length) failures.push(`${name}: ${before.length} leaves became ${after.length}`)
      let changed = 0
      for (const [k, leaf] of before.entries()) {
        checked++
        const out = after[k]
        if (out === undefined || out.raw.equals(leaf.raw)) continue
        changed++
        const allowed = isStampedLeaf(leaf, out) || (transcoded > 0 && leaf.contentType.startsWith("text/"))
        if (!allowed) failures.push(`${name}: leaf ${leaf.partNr || "(root)"} (${leaf.contentType}) changed`)
      }
      if (changed > stamped + transcoded) failures.push(`${name}: ${changed} leaves changed, ${stamped + transcoded} chosen`)
      if (outcome.stamped.length === 0 && !output.equals(input)) failures.push(`${name}: unstamped message changed`)
    }
    console.log(`untouched leaves: ${checked} leaves checked, ${failures.length} failures\n${failures.join("\n")}`)
    expect(failures).toEqual([])
  }, 300_000)
})
