/**
 * Issue 17's done-means: a stamped message, relayed by a real Imprint with the
 * demo tenant's image library, rendered in headless Chromium (Debian's
 * package, driven by playwright-core): every image loads (naturalWidth > 0),
 * none is an attachment in the parsed MIME tree, and the embedded variant
 * keeps every other part byte-identical. Embedded images are shown as a mail
 * client shows them (cid: resolved against the message's related parts);
 * hosted ones load from Imprint's image listener over HTTPS on loopback.
 * Skipped with a message when /usr/bin/chromium is missing; .ci/run installs it.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type BrowserContext, chromium } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { stripImprintHeaders } from "../support/Corpus.js"
import { demoTenant, hostedImagesConfig, mimeFacts, replyWithAttachment, storeDemoImages } from "../support/ImageMail.js"
import { relayToSink } from "../support/Imprint.js"
import { RawSmtp } from "../support/RawSmtp.js"
import { splitParts } from "../pipeline/mime/MimeHarness.js"

const CHROMIUM = "/usr/bin/chromium"
const available = fs.existsSync(CHROMIUM)
if (!available) console.warn(`SignatureImagesChromium: ${CHROMIUM} is missing (apt-get install chromium); skipped`)

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

let browser: BrowserContext | undefined
let profile: string | undefined

const launch = async () => {
  profile = fs.mkdtempSync(path.join(os.tmpdir(), "imprint-chromium-"))
  // a persistent context is how playwright takes a fresh --user-data-dir
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    ignoreHTTPSErrors: true,
    chromiumSandbox: false
  })
}

/** The images of `html` once the page has loaded: what each src is and its natural width. */
const renderImages = async (html: string) => {
  const page = await browser!.newPage()
  try {
    // nothing leaves the machine: data: URLs and loopback only
    await page.route("**/*", (route) => {
      const url = route.request().url()
      return url.startsWith("data:") || url.startsWith("https://127.0.0.1:") ? route.continue() : route.abort()
    })
    await page.setContent(html, { waitUntil: "load" })
    // a string, evaluated in the page: the specs compile without the DOM library
    return await page.evaluate<ReadonlyArray<{ src: string; naturalWidth: number; alt: string }>>(
      `Array.from(document.images).map((i) => ({ src: i.getAttribute("src") ?? "", naturalWidth: i.naturalWidth, alt: i.alt }))`
    )
  } finally {
    await page.close()
  }
}

const send = async (relay: ReturnType<typeof relayToSink>, message: string) => {
  const before = relay.sink.messages.length
  const c = await RawSmtp.connect(relay.imprint.port)
  expect((await c.send("alice@demo.example", ["client@customer.example"], message)).code).toBe(250)
  c.end()
  const [got] = (await relay.sink.waitFor(before + 1)).slice(before)
  return stripImprintHeaders(got!.raw)
}

describe.skipIf(!available)("signature images in headless Chromium", async () => {
  beforeAll(launch)
  afterAll(async () => {
    await browser?.close()
    if (profile !== undefined) fs.rmSync(profile, { recursive: true, force: true })
  })

  describe("embedded", () => {
    const relay = relayToSink({ tenants: (port) => [demoTenant(port)] })

    it("every image loads from the message's own parts; none is an attachment; the other parts keep their bytes", async () => {
      await storeDemoImages(relay.imprint)
      const input = replyWithAttachment("chromium-embedded")
      const facts = await mimeFacts(await send(relay, input))
      expect(facts.attachments.map((p) => p.node.filename)).toEqual(["plan.bin"])

      const shown = await renderImages(facts.renderedHtml)
      expect(shown.length).toBeGreaterThanOrEqual(4)
      for (const image of shown) expect(image.naturalWidth, image.alt).toBeGreaterThan(0)
      // the check can fail: the same HTML with its cid: references unresolved shows nothing
      const unresolved = await renderImages(facts.html)
      expect(unresolved.every((i) => i.naturalWidth === 0)).toBe(true)

      const before = await splitParts(Buffer.from(input))
      const kept = facts.parts.filter((p) => !(p.node.contentType || "").startsWith("image/") && p.node.contentType !== "multipart/related")
      expect(kept.map((p) => p.node.contentType)).toEqual(before.map((p) => p.node.contentType))
      for (const [i, part] of kept.entries()) {
        if (i === 0 || part.node.contentType === "text/plain" || part.node.contentType === "text/html") continue
        expect(part.headers.equals(before[i]!.headers) && part.body.equals(before[i]!.body), `part ${i}`).toBe(true)
      }
    })
  })

  describe("hosted", async () => {
    const hosted = await hostedImagesConfig()
    const relay = relayToSink({ tenants: (port) => [demoTenant(port)], config: hosted.config })

    it("every image loads from Imprint's image listener; the message carries no image part", async () => {
      await storeDemoImages(relay.imprint)
      const facts = await mimeFacts(await send(relay, replyWithAttachment("chromium-hosted")))
      expect(facts.images.size).toBe(0)
      expect(facts.attachments.map((p) => p.node.filename)).toEqual(["plan.bin"])
      const shown = await renderImages(facts.html)
      expect(shown.length).toBeGreaterThanOrEqual(4)
      for (const image of shown) {
        expect(image.src.startsWith(`${hosted.baseUrl}/i/demo/`), image.src).toBe(true)
        expect(image.naturalWidth, image.alt).toBeGreaterThan(0)
      }
    })
  })
})
