/**
 * Issue 17, embedded delivery: the stamper turns the stamped text/html part
 * into a multipart/related with the signature's images (or adds them to the
 * related part it is already in), streaming, and every other part keeps its
 * bytes.
 */
import { describe, expect, it } from "vitest"
import { ElementImage, SignatureElement } from "../../../src/domain/Signature.js"
import type { StampPlan } from "../../../src/pipeline/mime/StampPlan.js"
import { corpusMessages, toCrlf } from "../../support/Corpus.js"
import { testPng, tinyGif } from "../../support/Images.js"
import { decodeText, type Part, runStamper, splitParts, transferDecode } from "./MimeHarness.js"

const LOGO = testPng(30, 20)
const ICON = tinyGif()
const logo = new ElementImage({ contentId: "img-logo.png@imprint", contentType: "image/png", src: "cid:img-logo.png@imprint", data: LOGO })
const icon = new ElementImage({ contentId: "img-icon.gif@imprint", contentType: "image/gif", src: "cid:img-icon.gif@imprint", data: ICON })

const imageElement = (images: ReadonlyArray<ElementImage>, delivery: "embedded" | "hosted" = "embedded", rule = "r1") =>
  new SignatureElement({
    ruleId: rule,
    templateId: "t1",
    html: `<div data-sig="${rule}">Jane${images.map((i) => `<img src="${i.src}">`).join("")}</div>`,
    text: "Jane",
    marker: `data-sig="${rule}"`,
    position: "above-reply",
    delivery,
    images
  })

const plan = (elements: ReadonlyArray<SignatureElement>): StampPlan => ({ elements, skipIfPresent: [] })
const embedded = plan([imageElement([logo, icon]), imageElement([logo], "embedded", "r2")])

const head = "From: a@example.com\r\nTo: b@example.com\r\nSubject: t\r\nMIME-Version: 1.0\r\n"
const HTML = "<html><body><p>Hello</p></body></html>"
const htmlPart = `Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${HTML}`
const textPart = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nHello"
const multipart = (type: string, boundary: string, parts: ReadonlyArray<string>) =>
  `Content-Type: ${type}; boundary="${boundary}"\r\n\r\n` + parts.map((p) => `--${boundary}\r\n${p}\r\n`).join("") + `--${boundary}--\r\n`

const kinds = (parts: ReadonlyArray<Part>) => parts.map((p) => p.node.contentType)

/** The image parts: inline, with a Content-ID the HTML references, no file name, inside a multipart/related. */
const expectInlineImages = (parts: ReadonlyArray<Part>, html: string, expected: ReadonlyArray<ElementImage>) => {
  const images = parts.filter((p) => (p.node.contentType || "").startsWith("image/"))
  expect(images.map((p) => p.node.headers.getFirst("Content-ID"))).toEqual(expected.map((i) => `<${i.contentId}>`))
  for (const [n, part] of images.entries()) {
    expect(part.node.disposition).toBe("inline")
    expect(part.node.filename).toBe(false)
    expect(part.node.parentNode !== false && part.node.parentNode.contentType).toBe("multipart/related")
    expect(html).toContain(`src="cid:${expected[n]!.contentId}"`)
    expect(transferDecode(part).equals(Buffer.from(expected[n]!.data))).toBe(true)
  }
}

describe("embedded images", () => {
  it("wrap the HTML of an alternative in a related part with each image once", async () => {
    const input = Buffer.from(head + multipart("multipart/alternative", "alt", [textPart, htmlPart]))
    const { output, outcome } = await runStamper(input, embedded)
    expect([...outcome.stamped].sort()).toEqual(["html", "text"])
    const parts = await splitParts(output)
    expect(kinds(parts)).toEqual(["multipart/alternative", "text/plain", "multipart/related", "text/html", "image/png", "image/gif"])
    const html = decodeText(parts[3]!, "html")
    expect(html).toContain("<p>Hello</p>")
    expectInlineImages(parts, html, [logo, icon])
    expect(parts[2]!.node.headers.getFirst("Content-Type")).toContain('type="text/html"')
  })

  it("turn a single-part HTML message into multipart/related; the message's headers stay on top", async () => {
    const input = Buffer.from(head + "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + HTML)
    const { output } = await runStamper(input, embedded)
    const parts = await splitParts(output)
    expect(kinds(parts)).toEqual(["multipart/related", "text/html", "image/png", "image/gif"])
    const root = parts[0]!.headers.toString("latin1")
    expect(root).toMatch(/^From: a@example.com\r\nTo: b@example.com\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart\/related;/)
    expect(parts[1]!.headers.toString("latin1")).toMatch(/^Content-Type: text\/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n$/)
    expectInlineImages(parts, decodeText(parts[1]!, "html"), [logo, icon])
  })

  it("join a related part the HTML is already in, as siblings, without a second related level", async () => {
    const existing = `Content-Type: image/jpeg\r\nContent-ID: <old@x>\r\nContent-Transfer-Encoding: base64\r\n\r\n/9j/4AAQ\r\n`
    const input = Buffer.from(head + multipart("multipart/related", "rel", [htmlPart, existing]))
    const { output } = await runStamper(input, embedded)
    const parts = await splitParts(output)
    expect(kinds(parts)).toEqual(["multipart/related", "text/html", "image/png", "image/gif", "image/jpeg"])
    const inputParts = await splitParts(input)
    expect(parts[4]!.headers.equals(inputParts[2]!.headers)).toBe(true)
    expect(parts[4]!.body.equals(inputParts[2]!.body)).toBe(true)
    expectInlineImages(parts.slice(0, 4), decodeText(parts[1]!, "html"), [logo, icon])
  })

  it("add nothing for hosted elements, or when the part is not stamped", async () => {
    const input = Buffer.from(head + multipart("multipart/alternative", "alt", [textPart, htmlPart]))
    const hosted = await runStamper(input, plan([imageElement([logo], "hosted")]))
    expect(kinds(await splitParts(hosted.output))).toEqual(["multipart/alternative", "text/plain", "text/html"])
    const signed = Buffer.from(
      head + multipart("multipart/alternative", "alt", [textPart, `Content-Type: text/html\r\n\r\n<p>x</p><div data-sig="r1">old</div>`])
    )
    const already = await runStamper(signed, plan([imageElement([logo])]))
    expect(already.output.toString("latin1")).not.toContain("image/png")
  })

  it("keep every other part of every corpus message byte-identical, and every stamped HTML part related to its images", async () => {
    let wrapped = 0
    for (const { name, bytes } of corpusMessages()) {
      const input = toCrlf(bytes)
      let run
      try {
        run = await runStamper(input, embedded)
      } catch {
        continue // the splitter refuses it (the relay answers it in another spec)
      }
      const before = await splitParts(input)
      const after = await splitParts(run.output)
      const stampedHtml = run.outcome.stamped.includes("html")
      const ours = (p: Part) => (p.node.contentType || "").startsWith("image/") && /@imprint>$/.test(p.node.headers.getFirst("Content-ID"))
      const added = after.filter(
        (p) => ours(p) || (p.node.contentType === "multipart/related" && p.node.headers.getFirst("Content-Type").includes("imprint_related"))
      )
      const kept = after.filter((p) => !added.includes(p))
      // same parts in the same order, with the stamped ones changed and nothing else
      expect(kept.length, name).toBe(before.length)
      for (const [i, part] of kept.entries()) {
        const original = before[i]!
        const stampedPart = run.outcome.parts.some((o) => o.result === "stamped" && o.part === (original.node.partNr || []).join("."))
        // a single-part HTML message: its root is the stamped part
        if (stampedPart || (i === 0 && stampedHtml && original.node.contentType === "text/html")) continue
        expect(part.body.equals(original.body), `${name} part ${i} body`).toBe(true)
        expect(part.headers.equals(original.headers), `${name} part ${i} headers`).toBe(true)
      }
      if (stampedHtml) {
        wrapped++
        expect(after.filter(ours).length, name).toBe(2)
        for (const image of after.filter(ours)) expect(image.node.parentNode !== false && image.node.parentNode.contentType, name).toBe("multipart/related")
      } else expect(after.filter(ours).length, name).toBe(0)
    }
    expect(wrapped).toBeGreaterThan(50)
  }, 120_000)
})
