import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { CORPUS_DIR } from "../../support/Corpus.js"
import { cutInto, defaultPlan, element, runStampedCopy, runStamper, SIG_MARKER, SIG_TEXT_LINE, toCrlf } from "./MimeHarness.js"
import { makeTransferEncoder } from "../../../src/pipeline/mime/TransferCodec.js"

/**
 * A TCP read can end anywhere, so a stamped copy must not depend on where the message was cut
 * into chunks: the same bytes in, cut anywhere, give the same bytes out as the message written
 * whole. Checked on the relay's stage (StampedCopy: MimeScanner) and on the specs' chain
 * (SplitterGuard → mailsplit's Splitter → Stamper → Joiner, MimeHarness.runStamper).
 */

const HEAD = "From: a@example.com\r\nTo: b@example.com\r\nSubject: cuts\r\nMIME-Version: 1.0\r\n"
const ATTACHMENT = "Content-Type: application/octet-stream; name=a.bin\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA"

/** small messages around a body part's end: `body` is what comes between its header block and the line break before the boundary */
const shapes = (body: string): Array<[string, string]> => [
  [
    "mixed: text, attachment",
    `Content-Type: multipart/mixed; boundary="BB"\r\n\r\n--BB\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n${body}\r\n--BB\r\n${ATTACHMENT}\r\n--BB--\r\n`
  ],
  [
    "mixed: html, attachment",
    `Content-Type: multipart/mixed; boundary="BB"\r\n\r\n--BB\r\nContent-Type: text/html\r\n\r\n${body}\r\n--BB\r\n${ATTACHMENT}\r\n--BB--\r\n`
  ],
  ["mixed: text only", `Content-Type: multipart/mixed; boundary="BB"\r\n\r\n--BB\r\nContent-Type: text/plain\r\n\r\n${body}\r\n--BB--\r\n`],
  [
    "mixed: alternative, attachment",
    `Content-Type: multipart/mixed; boundary="BB"\r\n\r\n--BB\r\nContent-Type: multipart/alternative; boundary="CC"\r\n\r\n` +
      `--CC\r\nContent-Type: text/plain\r\n\r\n${body}\r\n--CC\r\nContent-Type: text/html\r\n\r\n${body}\r\n--CC--\r\n\r\n--BB\r\n${ATTACHMENT}\r\n--BB--\r\n`
  ],
  [
    "mixed: text, a part of header lines only",
    `Content-Type: multipart/mixed; boundary="BB"\r\n\r\n--BB\r\nContent-Type: text/plain\r\n\r\n${body}\r\n--BB\r\nContent-Type: text/plain; name=empty.txt\r\n--BB--\r\n`
  ],
  ["single part", `Content-Type: text/plain\r\n\r\n${body}\r\n`]
]

const BODIES = ["", "\r\n", "Hello\r\n", "-- \r\nSent from a phone"]

const CORPUS = join(CORPUS_DIR, "messages")
/** how much of a corpus message is fed in small pieces (the rest in pieces of 4093) */
const FINE_BYTES = 64 * 1024

/** a CR not followed by LF: the relay refuses such DATA, so no stamper meets it */
const hasBareCr = (b: Buffer): boolean => {
  for (let i = 0; i < b.length; i++) if (b[i] === 13 && b[i + 1] !== 10) return true
  return false
}

describe("stamped output whatever the cuts", () => {
  it("is the same for a message cut in two at every position and in pieces of 1 to 16 bytes", async () => {
    const differs: Array<string> = []
    for (const body of BODIES) {
      for (const [shape, text] of shapes(body)) {
        const message = Buffer.from(HEAD + text, "utf8")
        const whole = (await runStamper(message, undefined, { chunkSize: message.length })).output
        const wholeCopy = await runStampedCopy([message])
        const plans: Array<[string, Array<Buffer>]> = []
        for (let at = 1; at < message.length; at++) plans.push([`cut at ${at}`, [message.subarray(0, at), message.subarray(at)]])
        for (let size = 1; size <= 16; size++) plans.push([`pieces of ${size}`, cutInto(message, [size])])
        for (const [plan, chunks] of plans) {
          const name = `${shape}, body ${JSON.stringify(body)}, ${plan}`
          const viaSplitter = await runStamper(async function* () {
            yield* chunks
          })
          if (!viaSplitter.output.equals(whole)) differs.push(`${name} (Splitter chain)`)
          if (!(await runStampedCopy(chunks)).equals(wholeCopy)) differs.push(`${name} (StampedCopy)`)
        }
      }
    }
    expect(differs).toEqual([])
  }, 60_000)

  it("takes a line that ends in a padded boundary after other text for text, wherever a chunk ends", async () => {
    // StampedPart looks for boundary lines with transport padding ("--BB  ") that the splitter did
    // not take as boundaries; the 300 characters it kept from one write for the next started
    // anywhere, so a "--BB  " 300 characters before the end of a write looked like a line start
    const lines = ["Hello", `${"a".repeat(50)}--BB  `, "c".repeat(292), "more text", ""].join("\r\n")
    const message = Buffer.from(
      `${HEAD}Content-Type: multipart/mixed; boundary="BB"\r\n\r\n--BB\r\nContent-Type: text/plain\r\n\r\n${lines}\r\n--BB--\r\n`,
      "latin1"
    )
    const whole = await runStamper(message, undefined, { chunkSize: message.length })
    expect(whole.outcome.stamped).toEqual(["text"])
    const differs: Array<number> = []
    for (let at = message.indexOf("--BB  ") + 1; at < message.length; at++) {
      const chunks = [message.subarray(0, at), message.subarray(at)]
      const viaSplitter = await runStamper(async function* () {
        yield* chunks
      })
      if (!viaSplitter.output.equals(whole.output) || !(await runStampedCopy(chunks)).equals(await runStampedCopy([message]))) differs.push(at)
    }
    expect(differs).toEqual([])
  })

  it("finds a padded boundary line cut across two writes when the second is long and holds no boundary text", async () => {
    // StampedPart reads a long write as a string only up to its first line break unless a boundary's
    // text is in it: a padded boundary line begun in the carry must still be found there
    const lines = ["Hello", "--BB  ", "c".repeat(2000), "d".repeat(700), "more text", ""].join("\r\n")
    const message = Buffer.from(
      `${HEAD}Content-Type: multipart/mixed; boundary="BB"\r\n\r\n--BB\r\nContent-Type: text/plain\r\n\r\n${lines}\r\n--BB--\r\n`,
      "latin1"
    )
    const whole = await runStamper(message, undefined, { chunkSize: message.length })
    expect(whole.outcome.parts[0]?.result).toBe("malformed")
    expect(whole.output.equals(message)).toBe(true)
    const differs: Array<number> = []
    const from = message.indexOf("Hello")
    for (let at = from; at < message.indexOf("cc") + 2; at++) {
      const chunks = [message.subarray(0, at), message.subarray(at)]
      const split = await runStamper(async function* () {
        yield* chunks
      })
      if (
        split.outcome.parts[0]?.result !== "malformed" ||
        !split.output.equals(message) ||
        !(await runStampedCopy(chunks)).equals(await runStampedCopy([message]))
      ) {
        differs.push(at)
      }
    }
    expect(differs).toEqual([])
  })

  it("judges a line longer than a separator can be the same whether it came in one write or in several", async () => {
    // TextSeparators skips a line too long to be a separator without holding it; the line it skipped
    // must count as it does when it is read whole: as new text, and as the line above the next one
    const long = "x".repeat(1100)
    const bodies = [
      ["Hello", long, "> quoted"],
      [long, "> quoted", "more"],
      ["Hello", "", `> ${long}`, "> quoted", "end"],
      ["> quoted", "My reply", `> ${long}`, "> more quoted"],
      ["> quoted", "My reply", "", `> ${long}`, "Bye"]
    ]
    const differs: Array<string> = []
    for (const [n, lines] of bodies.entries()) {
      const message = Buffer.from(
        `${HEAD}Content-Type: multipart/mixed; boundary="BB"\r\n\r\n--BB\r\nContent-Type: text/plain\r\n\r\n${lines.join("\r\n")}\r\n--BB\r\n${ATTACHMENT}\r\n--BB--\r\n`,
        "latin1"
      )
      const whole = await runStampedCopy([message])
      for (let at = message.indexOf("x"); at < message.indexOf("x") + 1120; at += 7) {
        if (!(await runStampedCopy([message.subarray(0, at), message.subarray(at)])).equals(whole)) differs.push(`body ${n} cut at ${at}`)
      }
      for (const size of [1, 5, 61, 997]) if (!(await runStampedCopy(cutInto(message, [size]))).equals(whole)) differs.push(`body ${n} in pieces of ${size}`)
    }
    expect(differs).toEqual([])
  })

  it("rewrites the charset of the HTML head only, wherever the part was cut", async () => {
    // a forwarded or pasted HTML document inside the body keeps its own <meta charset> (the head's
    // is rewritten to utf-8); it was rewritten too when it left in one piece with the head
    const html = [
      '<html><head><meta charset="iso-8859-1"></head><body><p>Hello</p>',
      `<div>${"x".repeat(1500)}</div>`,
      '<html><head><meta charset="iso-8859-1"></head><p>pasted</p>',
      "</body></html>"
    ].join("\r\n")
    const message = Buffer.from(`${HEAD}Content-Type: text/html; charset=iso-8859-1\r\n\r\n${html}\r\n`, "latin1")
    const whole = await runStampedCopy([message])
    expect(whole.toString("latin1")).toContain('<meta charset=3D"iso-8859-1"></head><p>pasted</p>')
    const differs: Array<string> = []
    for (let at = message.indexOf("<html>"); at < message.length; at += 5) {
      if (!(await runStampedCopy([message.subarray(0, at), message.subarray(at)])).equals(whole)) differs.push(`cut at ${at}`)
    }
    for (const size of [1, 2, 7, 61, 997]) if (!(await runStampedCopy(cutInto(message, [size]))).equals(whole)) differs.push(`pieces of ${size}`)
    expect(differs).toEqual([])
  })

  it("takes a typed placeholder or a signature found above the insertion point the same wherever the part was cut", async () => {
    // the placeholder (and an "already signed" text) counts only above the insertion point; read
    // before the separator below it was, it was taken whatever the separator then said
    const placeholderPlan = { ...defaultPlan, placeholder: "{{signature}}" }
    const htmls = [
      "<html><body>{{signature}}\r\n-----Original Message-----\r\nFrom: Bob</body></html>",
      "<html><body><div>Hi {{signature}}</div>\r\n<div>-----Original Message-----</div></body></html>"
    ]
    const differs: Array<string> = []
    for (const [n, html] of htmls.entries()) {
      const message = Buffer.from(`${HEAD}Content-Type: text/html; charset=utf-8\r\n\r\n${html}\r\n`, "utf8")
      const whole = await runStampedCopy([message], placeholderPlan)
      for (let at = message.indexOf("<html>"); at < message.length; at++) {
        if (!(await runStampedCopy([message.subarray(0, at), message.subarray(at)], placeholderPlan)).equals(whole)) differs.push(`html ${n} cut at ${at}`)
      }
      for (const size of [1, 3, 16])
        if (!(await runStampedCopy(cutInto(message, [size]), placeholderPlan)).equals(whole)) differs.push(`html ${n} in pieces of ${size}`)
    }
    expect(differs).toEqual([])
  })

  it("places the signature in malformed HTML (a stray < or >) the same wherever the part was cut", async () => {
    // a look-back walked on to the start of the held text, which depends on the cuts: a stray ">"
    // paired with a "<body" 1,400 characters above it in one write, with nothing once "<body>" had
    // been let go, and the signature went between "a<" and ">"
    const placeholderPlan = { ...defaultPlan, placeholder: "{{signature}}" }
    const html = `<html><body>${"x".repeat(1360)}\r\n> quoted line\r\n><>\r\n${"x".repeat(671)}\r\n-----BEGIN PGP SIGNATURE-----\r\na<>\r\n</body></html>`
    const message = Buffer.from(`${HEAD}Content-Type: text/html\r\n\r\n${html}\r\n`, "utf8")
    const differs: Array<string> = []
    for (const [name, plan] of [
      ["default", defaultPlan],
      ["placeholder", placeholderPlan]
    ] as const) {
      const whole = await runStampedCopy([message], plan)
      expect(whole.toString("latin1")).not.toContain("a<<div")
      for (let at = message.indexOf("<html>"); at < message.length; at++) {
        if (!(await runStampedCopy([message.subarray(0, at), message.subarray(at)], plan)).equals(whole)) differs.push(`${name}: cut at ${at}`)
      }
      for (const size of [1, 5, 16]) if (!(await runStampedCopy(cutInto(message, [size]), plan)).equals(whole)) differs.push(`${name}: pieces of ${size}`)
    }
    expect(differs).toEqual([])
  }, 60_000)

  it("places the signature the same in any HTML of stray brackets, quotes, separators and long runs, cut anywhere", async () => {
    // mostly text without "<", so a stray ">" is far from the nearest "<" and look-backs walk long
    const piece = fc.oneof(
      { arbitrary: fc.integer({ min: 1, max: 3000 }).map((n) => "x".repeat(n)), weight: 5 },
      { arbitrary: fc.constantFrom(">", "\r\n>", "\r\n> quoted\r\n", "<>", "a<", "a<>\r\n", "<", "\r\n"), weight: 4 },
      { arbitrary: fc.constantFrom("<br>", "<div>", "</div>", "<p>Hi</p>", '<blockquote type="cite">', "</blockquote>", "<body>"), weight: 2 },
      {
        arbitrary: fc.constantFrom("On Mon, 1 Jan 2024, Bob <b@example.com> wrote:<br>", "<hr>", "From: Bob<br>Sent: Monday<br>", "-----Original Message-----"),
        weight: 1
      }
    )
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { minLength: 1, maxLength: 14 }), fc.integer({ min: 1, max: 8 }), async (pieces, size) => {
        const message = Buffer.from(`${HEAD}Content-Type: text/html\r\n\r\n<html><body>${pieces.join("")}</body></html>\r\n`, "utf8")
        expect((await runStampedCopy(cutInto(message, [size]))).equals(await runStampedCopy([message]))).toBe(true)
      }),
      { numRuns: 1000 }
    )
  }, 120_000)

  it("judges a text line over 1,024 characters that starts blank the same whether it came in one write or in several", async () => {
    // read before its end, such a line was judged by what had come of it (blank: a gap above the
    // quote below); read whole, by all of it (new text): both now judge it by its head
    const text = `${"x".repeat(111)}\r\n\r\n${" ".repeat(3981)}x\r\n> quoted\r\n\r\n`
    const message = Buffer.from(`${HEAD}Content-Type: text/plain; charset=utf-8\r\n\r\n${text}`, "utf8")
    const whole = await runStampedCopy([message])
    const differs: Array<string> = []
    for (const size of [1, 2, 7, 61, 997]) if (!(await runStampedCopy(cutInto(message, [size]))).equals(whole)) differs.push(`pieces of ${size}`)
    expect(differs).toEqual([])
  })

  it("places the signature the same in any plain text of long lines, blank runs, quotes and separators, cut anywhere", async () => {
    const piece = fc.oneof(
      { arbitrary: fc.integer({ min: 1, max: 2000 }).map((n) => "x".repeat(n)), weight: 4 },
      { arbitrary: fc.integer({ min: 1, max: 1500 }).map((n) => " ".repeat(n)), weight: 2 },
      {
        arbitrary: fc.constantFrom(
          "\r\n",
          "\r\n\r\n",
          "\r\n> quoted\r\n",
          "> ",
          "-- \r\n",
          "\r\n-----Original Message-----\r\n",
          "From: Bob <b@example.com>\r\nSent: Monday\r\nTo: x\r\nSubject: y\r\n",
          "On Mon, 1 Jan 2024, Bob <b@example.com> wrote:\r\n",
          "{{signature}}"
        ),
        weight: 4
      }
    )
    const plans = [defaultPlan, { ...defaultPlan, placeholder: "{{signature}}" }, { elements: [element("bottom")], skipIfPresent: [] }]
    await fc.assert(
      fc.asyncProperty(
        fc.array(piece, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 8 }),
        fc.constantFrom(...plans),
        fc.constantFrom("text/plain", "text/plain; format=flowed"),
        async (pieces, size, plan, type) => {
          const message = Buffer.from(`${HEAD}Content-Type: ${type}; charset=utf-8\r\n\r\n${pieces.join("")}\r\n`, "utf8")
          expect((await runStampedCopy(cutInto(message, [size]), plan)).equals(await runStampedCopy([message], plan))).toBe(true)
        }
      ),
      { numRuns: 500 }
    )
  }, 120_000)

  it("decides on a chosen part at the same byte wherever the message was cut, when the part outgrows the held window", async () => {
    // the commit (and its dry run over the held bytes) came after the chunk that took the held start
    // over HOLD_BYTES, so one big write let the dry run read further than small ones: a quoted
    // signature of the sender whose line ended just past the budget left the part raw (already
    // signed) from one write, and re-encoded from small ones
    const differs: Array<string> = []
    for (const n of [5380, 5410, 5430, 5447, 5470]) {
      const text = `${"é".repeat(n)}\r\nOn Mon, 1 Jan 2024, Bob wrote:\r\n> Jane Doe — Ünïcode ✓\r\n> ${SIG_TEXT_LINE}${"é".repeat(428)}\r\n`
      const encoder = makeTransferEncoder("quoted-printable")
      const body = Buffer.concat([encoder.writeText(text), encoder.end()])
      const message = Buffer.concat([
        Buffer.from(`${HEAD}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n`),
        body,
        Buffer.from("\r\n")
      ])
      const whole = await runStampedCopy([message])
      for (const size of [7, 61, 997, 4093]) if (!(await runStampedCopy(cutInto(message, [size]))).equals(whole)) differs.push(`${n}: pieces of ${size}`)
    }
    expect(differs).toEqual([])
  }, 60_000)

  it("reads the thread for the sender's signature only in a part's held start, so what arrives with the separator later does not decide", async () => {
    // a part past the held window is decided live: the sender's signature below the separator
    // counted when it came in the same write as the separator (one big write: left unstamped) and
    // not when it came later (small writes: stamped)
    const differs: Array<string> = []
    // the signature lands around the end of the held start (36 KiB of base64, headers included)
    for (const n of [13_383, 13_413, 13_443, 13_473, 13_503]) {
      const encoder = makeTransferEncoder("base64")
      const html = `<html><body>${"é".repeat(n)}<div class="gmail_quote"><div id="${SIG_MARKER}">Jane Doe — Ünïcode ✓ ${SIG_TEXT_LINE}</div></body></html>\r\n`
      const body = Buffer.concat([encoder.writeText(html), encoder.end()]).toString("latin1")
      const message = Buffer.from(
        `${HEAD}Content-Type: multipart/mixed; boundary="BB"\r\n\r\n--BB\r\nContent-Type: multipart/alternative; boundary="CC"\r\n\r\n` +
          `--CC\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\r\n\r\n` +
          `--CC\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${body}\r\n--CC--\r\n\r\n` +
          `--BB\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n\r\n--BB--\r\n`,
        "latin1"
      )
      const whole = await runStampedCopy([message])
      for (const size of [1, 61, 997]) if (!(await runStampedCopy(cutInto(message, [size]))).equals(whole)) differs.push(`${n}: pieces of ${size}`)
    }
    expect(differs).toEqual([])
  }, 60_000)

  it("is the same for any multipart/alternative reply around the held window, in any transfer encoding, cut anywhere", async () => {
    const encode = (text: string, cte: "8bit" | "base64" | "quoted-printable"): string => {
      if (cte === "8bit") return text
      const encoder = makeTransferEncoder(cte)
      return Buffer.concat([encoder.writeText(text), encoder.end()]).toString("latin1")
    }
    // long runs of a two-byte character, or one of the given pieces
    const piece = (...pieces: Array<string>) =>
      fc.oneof({ arbitrary: fc.integer({ min: 1, max: 9000 }).map((n) => "é".repeat(n)), weight: 3 }, { arbitrary: fc.constantFrom(...pieces), weight: 2 })
    const textPiece = piece(
      "\r\n",
      "\r\n> quoted\r\n",
      "On Mon, 1 Jan 2024, Bob wrote:\r\n",
      "-----Original Message-----\r\n",
      `> Jane Doe — Ünïcode ✓\r\n> ${SIG_TEXT_LINE}\r\n`,
      `Jane Doe — Ünïcode ✓\r\n${SIG_TEXT_LINE}\r\n`,
      "-----BEGIN PGP SIGNED MESSAGE-----\r\n"
    )
    const htmlPiece = piece(
      "<br>",
      "<div>",
      "</div>",
      '<blockquote type="cite">',
      "On Mon, 1 Jan 2024, Bob wrote:<br>",
      '<div class="gmail_quote">',
      `<div id="${SIG_MARKER}">Jane Doe — Ünïcode ✓ ${SIG_TEXT_LINE}</div>`,
      "<hr>From: Bob<br>Sent: Monday<br>"
    )
    const cte = fc.constantFrom("8bit" as const, "base64" as const, "quoted-printable" as const)
    const plans = [defaultPlan, { ...defaultPlan, placeholder: "{{signature}}" }, { elements: [element("bottom")], skipIfPresent: [] }]
    await fc.assert(
      fc.asyncProperty(
        fc.array(textPiece, { maxLength: 8 }),
        fc.array(htmlPiece, { maxLength: 8 }),
        cte,
        cte,
        fc.constantFrom(...plans),
        fc.integer({ min: 0, max: 40_000 }),
        fc.constantFrom(1, 7, 61, 997, 4093, 65_536),
        fc.boolean(),
        async (textPieces, htmlPieces, textCte, htmlCte, plan, attachment, size, calendar) => {
          const text = encode(`${textPieces.join("")}\r\n`, textCte)
          const html = encode(`<html><body>${htmlPieces.join("")}</body></html>\r\n`, htmlCte)
          const message = Buffer.from(
            `${HEAD}Content-Type: multipart/mixed; boundary="BB"\r\n\r\n--BB\r\nContent-Type: multipart/alternative; boundary="CC"\r\n\r\n` +
              `--CC\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: ${textCte}\r\n\r\n${text}\r\n` +
              `--CC\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: ${htmlCte}\r\n\r\n${html}\r\n--CC--\r\n\r\n` +
              `--BB\r\nContent-Type: ${calendar ? "text/calendar; method=REQUEST" : "application/octet-stream"}\r\nContent-Transfer-Encoding: base64\r\n\r\n` +
              `${"QUFB".repeat(attachment / 4).replace(/.{76}/g, "$&\r\n")}\r\n--BB--\r\n`,
            "latin1"
          )
          // a refusal (the stamper's error: inline PGP after the stamped body left) must be the same too
          const stamp = (chunks: Array<Buffer>) => runStampedCopy(chunks, plan).catch((e: Error) => Buffer.from(`refused: ${e.message}`))
          expect((await stamp(cutInto(message, [size]))).equals(await stamp([message]))).toBe(true)
        }
      ),
      { numRuns: 100 }
    )
  }, 120_000)

  it("is the same for every corpus message in small pieces (2 to 16 bytes, per message) as whole", async () => {
    const differs: Array<string> = []
    for (const [i, name] of readdirSync(CORPUS).sort().entries()) {
      const message = toCrlf(readFileSync(join(CORPUS, name)))
      if (hasBareCr(message)) continue
      const size = 2 + (i % 15)
      // the pieces stay small over the part of the message a stamp can touch in practice; past it, bigger
      const fine = cutInto(message.subarray(0, FINE_BYTES), [size])
      const chunks = message.length > FINE_BYTES ? [...fine, ...cutInto(message.subarray(FINE_BYTES), [4093])] : fine
      const whole = (await runStamper(message, undefined, { chunkSize: message.length })).output
      const viaSplitter = await runStamper(async function* () {
        yield* chunks
      })
      if (!viaSplitter.output.equals(whole)) differs.push(`${name} in pieces of ${size} (Splitter chain)`)
      if (!(await runStampedCopy(chunks)).equals(await runStampedCopy([message]))) differs.push(`${name} in pieces of ${size} (StampedCopy)`)
    }
    expect(differs).toEqual([])
  }, 120_000)
})
