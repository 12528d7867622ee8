/**
 * Issue 4: charset × transfer-encoding matrix. Each body is built from a known
 * string (so the expected output never depends on the decoders under test),
 * encoded in the charset and transfer encoding, stamped, and read back with
 * independent decoders (libqp, libbase64; the output is always UTF-8).
 */
import { describe, expect, it } from "vitest"
import iconv from "iconv-lite"
import { createRequire } from "node:module"
import { decodeText, longestLine, runStamper, SIG_MARKER, SIG_TEXT_LINE, splitParts } from "./MimeHarness.js"

const require = createRequire(import.meta.url)
const libqp = require("libqp") as { encode: (b: Buffer) => string; wrap: (s: string, n: number) => string }

const SAMPLES: Record<string, string> = {
  "utf-8": "Grüße, Привет, 日本語, 😀 — ok",
  "iso-8859-1": "Grüße aus Köln, façade, señor",
  "windows-1252": "Grüße — “quoted” € ‰",
  "iso-2022-jp": "こんにちは、世界。日本語のテキストです。ｶﾀｶﾅ",
  shift_jis: "こんにちは、世界。ｶﾀｶﾅ",
  gb18030: "你好，世界。中文文本 😀",
  "koi8-r": "Привет, мир! Как дела?",
  "utf-16": "Grüße 日本 😀",
  "utf-7": "Hi <script>alert(1)</script> & Grüße 日本"
}

/** ISO-2022-JP from EUC-JP bytes: iconv-lite encodes EUC-JP but not ISO-2022-JP */
const encodeIso2022Jp = (text: string): Buffer => {
  const euc = iconv.encode(text, "euc-jp")
  const out: Array<number> = []
  let mode = "ascii"
  const to = (m: string, seq: Array<number>): void => {
    if (mode !== m) out.push(...seq)
    mode = m
  }
  for (let i = 0; i < euc.length; i++) {
    const b = euc[i]
    if (b < 0x80) {
      to("ascii", [0x1b, 0x28, 0x42])
      out.push(b)
    } else if (b === 0x8e) {
      to("kana", [0x1b, 0x28, 0x49])
      out.push(euc[++i] & 0x7f)
    } else {
      to("jis", [0x1b, 0x24, 0x42])
      out.push(b & 0x7f, euc[++i] & 0x7f)
    }
  }
  to("ascii", [0x1b, 0x28, 0x42])
  return Buffer.from(out)
}

/** UTF-7 with every non-letter shifted, as Outlook Express did (`<` → `+ADw-`) */
const encodeUtf7 = (text: string): Buffer =>
  Buffer.from(
    text.replace(/[^A-Za-z0-9 ,.\r\n]+/g, (run) => {
      const b64 = iconv.encode(run, "utf-16be").toString("base64").replace(/=+$/, "")
      return `+${b64}-`
    }),
    "latin1"
  )

/** in UTF-7 HTML only the sample is shifted; the markup around it is direct ASCII, as real senders wrote it */
const encode = (text: string, charset: string, sample: string): Buffer =>
  charset === "iso-2022-jp"
    ? encodeIso2022Jp(text)
    : charset === "utf-7"
      ? Buffer.from(
          text
            .split(sample)
            .map((s) => s.replace(/[^\x20-\x7e\r\n]/g, "?"))
            .join(encodeUtf7(sample).toString("latin1")),
          "latin1"
        )
      : iconv.encode(text, charset)

const ENCODINGS = ["7bit", "8bit", "quoted-printable", "base64"] as const

/** a transfer encoding is valid for bytes if it can carry them (RFC 2045) */
const valid = (bytes: Buffer, cte: (typeof ENCODINGS)[number]): boolean => {
  if (cte === "quoted-printable" || cte === "base64") return true
  for (const b of bytes) if (b === 0 || (cte === "7bit" && b >= 0x80)) return false
  return !/\r(?!\n)|(?<!\r)\n/.test(bytes.toString("latin1"))
}

const applyCte = (bytes: Buffer, cte: (typeof ENCODINGS)[number]): string =>
  cte === "base64"
    ? bytes.toString("base64").replace(/.{76}/g, "$&\r\n")
    : cte === "quoted-printable"
      ? libqp.wrap(libqp.encode(bytes), 76)
      : bytes.toString("latin1")

const ATTRIBUTION = "On Mon, 1 Jan 2024 at 10:00, Bob <bob@example.com> wrote:"
const SIG_TEXT = `Jane Doe — Ünïcode ✓\r\n${SIG_TEXT_LINE}`
const SIG_HTML = `<div id="${SIG_MARKER}">Jane Doe — Ünïcode ✓ ${SIG_TEXT_LINE}</div>`

const escapeHtml = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

const bodyOf = (kind: "html" | "text", sample: string, charset: string): string =>
  kind === "text"
    ? `${sample}\r\n\r\n${ATTRIBUTION}\r\n> ${sample}\r\n`
    : `<html><head><meta http-equiv="Content-Type" content="text/html; charset=${charset}"></head>` +
      `<body><div>${charset === "utf-7" ? sample : escapeHtml(sample)}</div>\r\n<div class="gmail_quote">${escapeHtml(ATTRIBUTION)}` +
      `<blockquote>${charset === "utf-7" ? sample : escapeHtml(sample)}</blockquote></div></body></html>\r\n`

const message = (kind: "html" | "text", charset: string, cte: string, body: string): Buffer =>
  Buffer.from(
    `From: a@example.com\r\nTo: b@example.com\r\nSubject: matrix\r\nMIME-Version: 1.0\r\n` +
      `Content-Type: multipart/alternative; boundary="b1"\r\n\r\n--b1\r\n` +
      `Content-Type: text/${kind === "html" ? "html" : "plain"}; charset="${charset}"\r\nContent-Transfer-Encoding: ${cte}\r\n\r\n` +
      `${body}\r\n--b1--\r\n`,
    "latin1"
  )

describe("Stamper charset × transfer-encoding matrix", () => {
  for (const kind of ["text", "html"] as const) {
    for (const [charset, sample] of Object.entries(SAMPLES)) {
      const text = bodyOf(kind, sample, charset)
      const bytes = encode(text, charset, sample)
      for (const cte of ENCODINGS.filter((e) => valid(bytes, e))) {
        it(`${kind} ${charset} ${cte}`, async () => {
          const input = message(kind, charset, cte, applyCte(bytes, cte))
          const { output, outcome } = await runStamper(input, undefined, { chunkSize: 37 })
          expect(outcome.stamped).toEqual([kind])
          const part = (await splitParts(output))[1]
          expect(part.node.charset).toBe("utf-8")
          expect(part.node.encoding).toBe(cte === "base64" ? "base64" : "quoted-printable")
          expect(longestLine(part.body)).toBeLessThanOrEqual(76)
          const decoded = decodeText(part, kind)
          if (kind === "text") {
            expect(decoded).toBe(text.replace(ATTRIBUTION, `${SIG_TEXT}\r\n\r\n${ATTRIBUTION}`))
          } else {
            // UTF-7 in HTML: what was shifted (`+ADw-script+AD4-`) stays text, never markup
            const shown = charset === "utf-7" ? text.split(sample).join(escapeHtml(sample)) : text
            const expected = shown.replace(`charset=${charset}`, "charset=utf-8").replace('<div class="gmail_quote">', `${SIG_HTML}<div class="gmail_quote">`)
            expect(decoded).toBe(expected)
            expect(decoded).not.toContain("<script")
          }
        })
      }
    }
  }

  it("keeps Big5-HKSCS characters outside the BMP when a base64 or QP line ends between their two bytes", async () => {
    // 95 7A is U+2F9BC: two UTF-16 units from two bytes. The transfer decoder hands the charset decoder one encoded
    // line at a time, so a pair can arrive cut in two, and the second write lost a unit
    for (const cte of ["base64", "quoted-printable"] as const) {
      for (const pad of ["", "a", "ab", "abc"]) {
        const sample = `${pad}${"\u{2F9BC}".repeat(40)} ok`
        const text = bodyOf("text", sample, "big5")
        const bytes = iconv.encode(text, "big5")
        expect(iconv.decode(bytes, "big5")).toBe(text)
        const { output, outcome } = await runStamper(message("text", "big5", cte, applyCte(bytes, cte)), undefined, { chunkSize: 37 })
        expect(outcome.stamped).toEqual(["text"])
        const decoded = decodeText((await splitParts(output))[1], "text")
        expect([cte, pad, decoded]).toEqual([cte, pad, text.replace(ATTRIBUTION, `${SIG_TEXT}\r\n\r\n${ATTRIBUTION}`)])
      }
    }
  })

  it("leaves a part labelled unknown-8bit byte-identical and says why", async () => {
    const input = message("text", "unknown-8bit", "8bit", `caf\xe9 ol\xe9\r\n`)
    const { output, outcome } = await runStamper(input)
    expect(output.equals(input)).toBe(true)
    expect(outcome.skipped).toBe("undecodable")
    expect(outcome.parts[0]?.detail).toContain("unknown-8bit")
  })

  it("reads a missing charset as UTF-8 where well-formed and windows-1252 elsewhere", async () => {
    const body = Buffer.concat([Buffer.from("Grüße "), Buffer.from([0x93, 0x71, 0x94]), Buffer.from("\r\n")])
    const input = Buffer.concat([Buffer.from("Subject: x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"), body])
    const { output } = await runStamper(input)
    const [root] = await splitParts(output)
    expect(decodeText(root, "text")).toBe(`Grüße “q”\r\n\r\n${SIG_TEXT}\r\n`)
  })
})
