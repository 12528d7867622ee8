/**
 * Issue 17 through the real relay: the demo tenant with its image library,
 * a reply with an attachment, relayed to a real sink. Embedded: the images
 * travel as inline related parts the HTML references, and every other part
 * arrives byte for byte. Hosted: the HTML points at the image listener, which
 * serves the same bytes, and the message carries no image part.
 */
import { describe, expect, it } from "vitest"
import { demoImages } from "../../src/demo/DemoImages.js"
import { stripImprintHeaders } from "../support/Corpus.js"
import { ATTACHMENT, demoTenant, fetchImage, hostedImagesConfig, mimeFacts, replyWithAttachment, storeDemoImages } from "../support/ImageMail.js"
import { relayToSink } from "../support/Imprint.js"
import { RawSmtp } from "../support/RawSmtp.js"
import { splitParts, transferDecode } from "../pipeline/mime/MimeHarness.js"

const demoBytes = new Map(demoImages().map((i) => [i.id, i.bytes]))

const send = async (relay: ReturnType<typeof relayToSink>, message: string) => {
  const before = relay.sink.messages.length
  const c = await RawSmtp.connect(relay.imprint.port)
  expect((await c.send("alice@demo.example", ["client@customer.example"], message)).code).toBe(250)
  c.end()
  const [got] = (await relay.sink.waitFor(before + 1)).slice(before)
  return stripImprintHeaders(got!.raw)
}

describe("signature images, embedded (the default)", () => {
  const relay = relayToSink({ tenants: (port) => [demoTenant(port)] })

  it("arrive as inline related parts of the stamped HTML, each referenced, none an attachment; other parts keep their bytes", async () => {
    await storeDemoImages(relay.imprint)
    const input = replyWithAttachment("embedded-1")
    const output = await send(relay, input)
    const facts = await mimeFacts(output)
    // logo, three icons (and the banner while its date window is open)
    expect(facts.images.size).toBeGreaterThanOrEqual(4)
    for (const [cid, part] of facts.images) {
      expect(facts.html).toContain(`src="cid:${cid}"`)
      expect([...demoBytes.values()].some((b) => b.equals(transferDecode(part)))).toBe(true)
    }
    expect(facts.html).toMatch(/<img src="cid:[^"]+" width="88" height="88" alt="Demo Company"/)
    expect(facts.attachments.map((p) => p.node.filename)).toEqual(["plan.bin"])

    // every part but the two stamped text parts and the added ones is byte-identical
    const before = await splitParts(Buffer.from(input))
    const after = facts.parts.filter((p) => !(p.node.contentType || "").startsWith("image/") && p.node.contentType !== "multipart/related")
    expect(after.map((p) => p.node.contentType)).toEqual(before.map((p) => p.node.contentType))
    for (const [i, part] of after.entries()) {
      if (part.node.contentType === "text/plain" || part.node.contentType === "text/html") continue
      // the root gains only the relay's X-Imprint-Rule header
      const headers = i === 0 ? Buffer.from(part.headers.toString("latin1").replace(/^X-Imprint-Rule: [^\r\n]*\r\n/m, ""), "latin1") : part.headers
      expect(headers.equals(before[i]!.headers), `part ${i} headers`).toBe(true)
      expect(part.body.equals(before[i]!.body), `part ${i} body`).toBe(true)
    }
    expect(transferDecode(after.find((p) => p.node.filename === "plan.bin")!).equals(ATTACHMENT)).toBe(true)
  })
})

describe("signature images, hosted", async () => {
  const hosted = await hostedImagesConfig()
  const relay = relayToSink({ tenants: (port) => [demoTenant(port)], config: hosted.config })

  it("point at the image listener, which serves the stored bytes; the message carries no image part", async () => {
    await storeDemoImages(relay.imprint)
    const output = await send(relay, replyWithAttachment("hosted-1"))
    const facts = await mimeFacts(output)
    expect(facts.images.size).toBe(0)
    const sources = [...facts.html.matchAll(/<img src="([^"]+)"/g)].map((m) => m[1]!)
    expect(sources.length).toBeGreaterThanOrEqual(4)
    for (const src of sources) {
      expect(src.startsWith(`${hosted.baseUrl}/i/demo/`)).toBe(true)
      const answer = await fetchImage(src, hosted.ca)
      expect(answer.status).toBe(200)
      expect(answer.type).toBe("image/png")
      expect([...demoBytes.values()].some((b) => b.equals(answer.body))).toBe(true)
    }
    expect(facts.attachments.map((p) => p.node.filename)).toEqual(["plan.bin"])
  })
})
