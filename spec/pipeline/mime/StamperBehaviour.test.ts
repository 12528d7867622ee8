/**
 * Issue 4, the stamper's decisions one by one: skip reasons, already-signed,
 * placeholder, bottom elements, embedded messages, attachments, flowed text.
 */
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { SignatureElement } from "../../../src/domain/Signature.js"
import { HOLD_BYTES, STAMP_WINDOW_BYTES } from "../../../src/pipeline/mime/Stamper.js"
import type { StampPlan } from "../../../src/pipeline/mime/StampPlan.js"
import { countOf, decodeText, defaultPlan, element, passThrough, runStamper, SIG_MARKER, SIG_TEXT_LINE, splitParts } from "./MimeHarness.js"

const headers = "From: a@example.com\r\nTo: b@example.com\r\nSubject: t\r\nMIME-Version: 1.0\r\n"

const single = (type: string, body: string, extra = ""): Buffer =>
  Buffer.from(`${headers}Content-Type: ${type}; charset=utf-8\r\n${extra}Content-Transfer-Encoding: 8bit\r\n\r\n${body}`)

const multipart = (type: string, parts: Array<string>, extra = ""): Buffer =>
  Buffer.from(`${headers}Content-Type: ${type}; boundary="bb"${extra}\r\n\r\n` + parts.map((p) => `--bb\r\n${p}\r\n`).join("") + `--bb--\r\n`)

const textPart = (body: string, type = "text/plain", extra = ""): string =>
  `Content-Type: ${type}; charset=utf-8\r\n${extra}Content-Transfer-Encoding: 8bit\r\n\r\n${body}`

const REPLY_HTML = `<html><body><div>Hello</div><div class="gmail_quote">On Mon, Bob wrote:<blockquote>old</blockquote></div></body></html>`
const REPLY_TEXT = `Hello\r\n\r\nOn Mon, 1 Jan 2024, Bob <bob@example.com> wrote:\r\n> old\r\n`

const stampedText = async (input: Buffer, plan: StampPlan = defaultPlan, index = 0, kind: "html" | "text" = "text") => {
  const run = await runStamper(input, plan)
  const part = (await splitParts(run.output))[index]
  return { ...run, text: decodeText(part, kind), part }
}

describe("Stamper decisions", () => {
  it.each([
    ["multipart/signed", "signed"],
    ["multipart/encrypted", "encrypted"],
    ["multipart/report", "report"]
  ])("passes a %s message byte-identical", async (type, reason) => {
    const input = multipart(type, [textPart(REPLY_TEXT), textPart("sig", "application/pgp-signature")])
    const { output, outcome } = await runStamper(input)
    expect(outcome.skipped).toBe(reason)
    expect(output.equals(input)).toBe(true)
  })

  it("passes an S/MIME enveloped message and a message/partial", async () => {
    for (const [type, reason] of [
      ["application/pkcs7-mime; smime-type=enveloped-data", "pkcs7"],
      ["message/partial; id=x; number=1", "partial"]
    ]) {
      const input = single(type, "MIIB...\r\n")
      const { output, outcome } = await runStamper(input)
      expect(outcome.skipped).toBe(reason)
      expect(output.equals(input)).toBe(true)
    }
  })

  it("passes a meeting invitation whose calendar part follows the HTML body", async () => {
    const input = multipart("multipart/alternative", [
      textPart(REPLY_TEXT),
      textPart(REPLY_HTML, "text/html"),
      textPart("BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR", "text/calendar; method=REQUEST")
    ])
    const { output, outcome } = await runStamper(input)
    expect(outcome.skipped).toBe("calendar")
    expect(output.equals(input)).toBe(true)
  })

  it("reports a calendar part met only after the held window as a late reason (the body already left stamped)", async () => {
    const bigHtml = REPLY_HTML.replace("<div>Hello</div>", `<div>Hello</div>${"<p>agenda item</p>\r\n".repeat(4000)}`)
    const input = multipart("multipart/alternative", [
      textPart(bigHtml, "text/html"),
      textPart("BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR", "text/calendar; method=REQUEST")
    ])
    const { outcome, highWater } = await runStamper(input)
    expect(outcome.stamped).toEqual(["html"])
    expect(outcome.lateSkip).toBe("calendar")
    expect(highWater).toBeLessThanOrEqual(STAMP_WINDOW_BYTES)
  })

  it("stamps the part it can read when the other one has an unknown charset", async () => {
    const input = multipart("multipart/alternative", [
      `Content-Type: text/plain; charset=unknown-8bit\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncaf\xe9`,
      textPart(REPLY_HTML, "text/html")
    ])
    const before = await splitParts(await passThrough(Buffer.from(input.toString("latin1"), "latin1")))
    const { output, outcome } = await runStamper(input)
    const after = await splitParts(output)
    expect(outcome.stamped).toEqual(["html"])
    expect(outcome.parts.find((p) => p.kind === "text")?.result).toBe("undecodable")
    expect(after[1].body.equals(before[1].body) && after[1].headers.equals(before[1].headers)).toBe(true)
  })

  it("passes an Exchange invitation marked on the root (Content-Class)", async () => {
    const input = Buffer.from(`Content-Class: urn:content-classes:calendarmessage\r\n` + single("text/plain", REPLY_TEXT).toString("latin1"), "latin1")
    expect((await runStamper(input)).outcome.skipped).toBe("calendar")
  })

  it("passes a body carried in TNEF (winmail.dat)", async () => {
    const input = multipart("multipart/mixed", [
      textPart(""),
      `Content-Type: application/ms-tnef; name="winmail.dat"\r\nContent-Transfer-Encoding: base64\r\n\r\neJ8+IgAA`
    ])
    const { output, outcome } = await runStamper(input)
    expect(outcome.skipped).toBe("tnef")
    expect(output.equals(input)).toBe(true)
  })

  it("passes an inline-PGP signed text body", async () => {
    const input = single(
      "text/plain",
      "\r\n-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\nHello\r\n-----BEGIN PGP SIGNATURE-----\r\nxyz\r\n-----END PGP SIGNATURE-----\r\n"
    )
    const { output, outcome } = await runStamper(input)
    expect(outcome.skipped).toBe("pgp-inline")
    expect(output.equals(input)).toBe(true)
  })

  it("does not sign twice: its own marker above the reply means already signed", async () => {
    const html = REPLY_HTML.replace("<div>Hello</div>", `<div>Hello</div><div id="${SIG_MARKER}">old sig</div>`)
    const input = single("text/html", html)
    const { output, outcome } = await runStamper(input)
    expect(outcome.skipped).toBe("already-signed")
    expect(output.equals(input)).toBe(true)
  })

  // the marker names the rule, not the sender: a colleague's stamped signature in the quote is not this sender's
  it("signs again when only another signature of the same rule is inside the quoted reply", async () => {
    const html = REPLY_HTML.replace("<blockquote>old", `<blockquote><div id="${SIG_MARKER}">old sig</div>old`)
    const { outcome, text } = await stampedText(single("text/html", html), defaultPlan, 0, "html")
    expect(outcome.stamped).toEqual(["html"])
    expect(countOf(text, SIG_MARKER)).toBe(2)
    expect(text.indexOf(`<div id="${SIG_MARKER}">Jane`)).toBeLessThan(text.indexOf("gmail_quote"))
  })

  it("signs a bottom-posted HTML reply at the end even when the quoted history holds its marker", async () => {
    const html =
      `<html><body><div class="moz-cite-prefix">On 01/01/2024, Bob wrote:<br></div><blockquote type="cite">old` +
      `<div id="${SIG_MARKER}">Bob's stamped signature</div></blockquote><p>New text</p></body></html>`
    const { outcome, text } = await stampedText(single("text/html", html), defaultPlan, 0, "html")
    expect(outcome.stamped).toEqual(["html"])
    expect(text).toMatch(new RegExp(`<p>New text</p><div id="${SIG_MARKER}">[^<]*</div></body></html>$`))
  })

  it("honours the tenant's skip-if-present texts in plain text", async () => {
    const plan: StampPlan = { ...defaultPlan, skipIfPresent: ["Kind regards, ACME"] }
    const input = single("text/plain", `Hello\r\nKind regards, ACME\r\n\r\nOn Mon, Bob <b@x.org> wrote:\r\n> old\r\n`)
    const { output, outcome } = await runStamper(input, plan)
    expect(outcome.skipped).toBe("already-signed")
    expect(output.equals(input)).toBe(true)
  })

  // Issue 14 item 6: "already present" looks through the whole thread text of the part, quoted material included
  it("a skip-if-present text inside a bottom-posted quote counts as already signed (the whole thread is looked at)", async () => {
    const plan: StampPlan = { ...defaultPlan, skipIfPresent: ["Kind regards, ACME"] }
    const input = single("text/plain", `On Mon, Bob <b@x.org> wrote:\r\n> old\r\n> Kind regards, ACME\r\n\r\nHello\r\n`)
    const { output, outcome } = await runStamper(input, plan)
    expect(outcome.skipped).toBe("already-signed")
    expect(output.equals(input)).toBe(true)
  })

  it("text: the sender's own signature in the quoted history, over several quoted lines, means already signed", async () => {
    const quoted = `Hello\r\n\r\nOn Mon, 1 Jan 2024, Bob <bob@example.com> wrote:\r\n> old\r\n>\r\n> > Jane Doe — Ünïcode ✓\r\n> > ${SIG_TEXT_LINE}\r\n`
    const input = single("text/plain", quoted)
    const { output, outcome } = await runStamper(input)
    expect(outcome.skipped).toBe("already-signed")
    expect(output.equals(input)).toBe(true)
  })

  it("text: the sender's own signature below the quote (a client that signs under it) means already signed", async () => {
    const input = single("text/plain", `${REPLY_TEXT}\r\n-- \r\nJane Doe — Ünïcode ✓\r\n${SIG_TEXT_LINE}\r\n`)
    const { output, outcome } = await runStamper(input)
    expect(outcome.skipped).toBe("already-signed")
    expect(output.equals(input)).toBe(true)
  })

  it("a signature in the thread met only after the part left stamped (past the held window) does not undo the stamp", async () => {
    const long = "new text line that keeps going on and on\r\n".repeat(Math.ceil((HOLD_BYTES + 8192) / 42))
    const quote = "> an old line of the quoted history\r\n".repeat(1000)
    const input = single(
      "text/plain",
      `${long}\r\nOn Mon, 1 Jan 2024, Bob <bob@example.com> wrote:\r\n${quote}> Jane Doe — Ünïcode ✓\r\n> ${SIG_TEXT_LINE}\r\n`
    )
    const { outcome, text } = await stampedText(input)
    expect(outcome.stamped).toEqual(["text"])
    expect(outcome.parts.map((p) => p.result)).toEqual(["stamped"])
    expect(countOf(text, SIG_TEXT_LINE)).toBe(2)
  })

  it("html: the sender's own stamped element inside the quoted reply, or a skip-if-present text below it, means already signed", async () => {
    const own = REPLY_HTML.replace("<blockquote>old", `<blockquote>old${element().html}`)
    const first = await runStamper(single("text/html", own))
    expect(first.outcome.skipped).toBe("already-signed")
    const plan: StampPlan = { ...defaultPlan, skipIfPresent: ["Kind regards, ACME"] }
    const below = single("text/html", REPLY_HTML.replace("</blockquote></div>", "</blockquote></div><p>Kind regards, ACME</p>"))
    const second = await runStamper(below, plan)
    expect(second.outcome.skipped).toBe("already-signed")
    expect(second.output.equals(below)).toBe(true)
  })

  it("replaces a typed placeholder in place, but not one inside a tag", async () => {
    const plan: StampPlan = { ...defaultPlan, placeholder: "{{signature}}" }
    const html = `<html><body><a title="{{signature}}">x</a><div>Hi</div><p>{{signature}}</p><div>PS</div></body></html>`
    const { text } = await stampedText(single("text/html", html), plan, 0, "html")
    expect(text).toContain(`<a title="{{signature}}">`)
    expect(text).toContain(`<p><div id="${SIG_MARKER}">`)
    expect(text).toContain(`</div></p><div>PS</div></body>`)
    const escaped = `<html><body><div>Hi</div><p>&#123;&#123;signature&#125;&#125;</p><div class="gmail_quote">q</div></body></html>`
    const viaEntities = await stampedText(single("text/html", escaped), plan, 0, "html")
    expect(viaEntities.text).toContain(`<p><div id="${SIG_MARKER}">`)
    expect(countOf(viaEntities.text, SIG_MARKER)).toBe(1)
    const plain = await stampedText(single("text/plain", "Hi\r\n{{signature}}\r\nPS\r\n"), plan)
    expect(plain.text).toBe(`Hi\r\nJane Doe — Ünïcode ✓\r\n${SIG_TEXT_LINE}\r\nPS\r\n`)
  })

  it("puts a bottom element before </body> and at the end of text, after the above-reply one", async () => {
    const plan: StampPlan = { elements: [element("above-reply"), element("bottom", "-bottom")], skipIfPresent: [] }
    const html = await stampedText(single("text/html", REPLY_HTML), plan, 0, "html")
    expect(html.text).toMatch(
      new RegExp(`<div>Hello</div><div id="${SIG_MARKER}">.*<blockquote>old</blockquote></div><div id="${SIG_MARKER}-bottom">[^<]*</div></body></html>$`)
    )
    const text = await stampedText(single("text/plain", REPLY_TEXT), plan)
    expect(text.text.indexOf(SIG_TEXT_LINE)).toBeLessThan(text.text.indexOf("wrote:"))
    expect(text.text.endsWith(`> old\r\n\r\nJane Doe — Ünïcode ✓\r\n${SIG_TEXT_LINE}-bottom\r\n`)).toBe(true)
  })

  it("stamps the message's own body, never an attachment or a part of an attached message", async () => {
    const embedded =
      `Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n` + `Subject: inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nInner body\r\n`
    const input = multipart("multipart/mixed", [
      textPart("Own body\r\n"),
      textPart("attached text\r\n", "text/plain", 'Content-Disposition: attachment; filename="a.txt"\r\n'),
      embedded
    ])
    const before = await splitParts(await passThrough(input))
    const { output, outcome } = await runStamper(input)
    const after = await splitParts(output)
    expect(outcome.stamped).toEqual(["text"])
    expect(after.length).toBe(before.length)
    for (let i = 0; i < after.length; i++) {
      const same = before[i].headers.equals(after[i].headers) && before[i].body.equals(after[i].body)
      expect(same).toBe(i !== 1) // only the own text/plain body (node 1) changes
    }
  })

  it("keeps format=flowed valid: no trailing spaces on signature lines, parameter kept", async () => {
    const plan: StampPlan = {
      elements: [new SignatureElement({ ...element(), text: "Jane Doe   \n> Sales\nFrom Berlin " })],
      skipIfPresent: []
    }
    const input = single("text/plain; format=flowed", "Hello there, \r\nsoft wrapped.\r\n")
    const { text, part } = await stampedText(input, plan)
    expect(part.node.flowed).toBe(true)
    expect(text).toBe("Hello there, \r\nsoft wrapped.\r\n\r\nJane Doe\r\n > Sales\r\n From Berlin\r\n")
  })

  it("never changes a byte of what it does not stamp (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 300 }),
        fc.uint8Array({ maxLength: 400 }),
        fc.integer({ min: 1, max: 200 }),
        async (reply, attachment, chunkSize) => {
          const body = reply.replace(/\r?\n|\r/g, "\r\n")
          const input = multipart("multipart/mixed", [
            textPart(body),
            `Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n` +
              Buffer.from(attachment).toString("base64").replace(/.{76}/g, "$&\r\n")
          ])
          const before = await splitParts(await passThrough(input))
          const run = await runStamper(input, defaultPlan, { chunkSize })
          const after = await splitParts(run.output)
          expect(after.length).toBe(before.length)
          expect(after[2].headers.equals(before[2].headers) && after[2].body.equals(before[2].body)).toBe(true)
          const text = decodeText(after[1], "text")
          expect(countOf(text, SIG_TEXT_LINE)).toBe(countOf(body, SIG_TEXT_LINE) + 1)
          const at = text.indexOf("Jane Doe — Ünïcode ✓")
          expect(body.startsWith(text.slice(0, at).replace(/(?:\r\n)+$/, ""))).toBe(true)
        }
      ),
      { numRuns: 60 }
    )
  })
})
