/**
 * Signature images end to end (issue 17): the demo tenant with its image
 * library on a real relay, a reply with an attachment to send through it,
 * and a reading of the relayed message's MIME tree (mailsplit, as the
 * stamper specs read it): which parts are images, which would a client list
 * as attachments, and the HTML with its cid: images as data: URLs, which is
 * what a mail client shows.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as https from "node:https"
import * as os from "node:os"
import * as path from "node:path"
import { makeSelfSigned } from "./Certs.js"
import { freePort } from "./FreePort.js"
import { provisionDemoImages } from "../../src/demo/DemoImages.js"
import { DEMO_TENANT_ID, demoTenantFile } from "../../src/demo/DemoTenant.js"
import type { TenantId } from "../../src/domain/Tenant.js"
import { ImageRepo } from "../../src/store/ImageRepo.js"
import { decodeText, type Part, splitParts, transferDecode } from "../pipeline/mime/MimeHarness.js"
import type { RunningImprint } from "./Imprint.js"

/** The demo tenant, sending to the sink on `port`. */
export const demoTenant = (port: number) => ({ ...demoTenantFile(), downstream: { host: "127.0.0.1", port, tls: "none" } })

/** Stores the demo images in the running relay's library (as `imprint demo` does after importing the tenant). */
export const storeDemoImages = (imprint: RunningImprint): Promise<void> =>
  imprint.use(
    Effect.gen(function* () {
      yield* provisionDemoImages(yield* ImageRepo, DEMO_TENANT_ID as TenantId)
    }).pipe(Effect.provide(ImageRepo.DefaultWithoutDependencies))
  )

export const ATTACHMENT = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) & 255))

/** A reply from the demo sender with text, HTML and a binary attachment. */
export const replyWithAttachment = (id: string, to = "client@customer.example"): string => {
  const b64 = ATTACHMENT.toString("base64").replace(/.{76}/g, "$&\r\n")
  return [
    "From: Alice Martin <alice@demo.example>",
    `To: ${to}`,
    "Subject: Re: the plan",
    `Message-ID: <${id}@demo.example>`,
    "MIME-Version: 1.0",
    'Content-Type: multipart/mixed; boundary="mix"',
    "",
    "--mix",
    'Content-Type: multipart/alternative; boundary="alt"',
    "",
    "--alt",
    "Content-Type: text/plain; charset=utf-8",
    "",
    "Here it is.",
    "",
    "On Mon, 1 Dec 2026, Client <client@customer.example> wrote:",
    "> Send the plan?",
    "--alt",
    "Content-Type: text/html; charset=utf-8",
    "",
    '<html><body><div>Here it is.</div><div class="gmail_quote">On Mon, 1 Dec 2026, Client wrote:<blockquote>Send the plan?</blockquote></div></body></html>',
    "--alt--",
    "--mix",
    'Content-Type: application/octet-stream; name="plan.bin"',
    'Content-Disposition: attachment; filename="plan.bin"',
    "Content-Transfer-Encoding: base64",
    "",
    b64,
    "--mix--",
    ""
  ].join("\r\n")
}

export interface MimeFacts {
  readonly parts: ReadonlyArray<Part>
  readonly html: string
  /** image parts, by Content-ID (without brackets) */
  readonly images: ReadonlyMap<string, Part>
  /**
   * Parts a client lists as attachments: a disposition "attachment", a file
   * name, or a non-text part that is not an image the HTML references by
   * cid: inside a multipart/related.
   */
  readonly attachments: ReadonlyArray<Part>
  /** the HTML as a client shows it: cid: sources replaced by the parts' bytes as data: URLs */
  readonly renderedHtml: string
}

const cidOf = (p: Part) => p.node.headers.getFirst("Content-ID").replace(/^<|>$/g, "")

export const mimeFacts = async (message: Buffer): Promise<MimeFacts> => {
  const parts = await splitParts(message)
  const htmlPart = parts.find((p) => p.node.contentType === "text/html")
  const html = htmlPart === undefined ? "" : decodeText(htmlPart, "html")
  const images = new Map<string, Part>()
  for (const p of parts) if ((p.node.contentType || "").startsWith("image/")) images.set(cidOf(p), p)
  const referenced = (p: Part) => cidOf(p) !== "" && html.includes(`cid:${cidOf(p)}`)
  const attachments = parts.filter((p) => {
    if (p.node.multipart) return false
    if (p.node.disposition === "attachment" || p.node.filename) return true
    const type = p.node.contentType || "text/plain"
    if (type === "text/plain" || type === "text/html") return false
    const inRelated = p.node.parentNode !== false && p.node.parentNode.contentType === "multipart/related"
    return !(type.startsWith("image/") && inRelated && referenced(p) && p.node.disposition === "inline")
  })
  let renderedHtml = html
  for (const [cid, p] of images) {
    renderedHtml = renderedHtml.replaceAll(`cid:${cid}`, `data:${p.node.contentType};base64,${transferDecode(p).toString("base64")}`)
  }
  return { parts, html, images, attachments, renderedHtml }
}

/**
 * Config for a relay whose images are hosted: the image listener on a free
 * loopback port over HTTPS (the test certificate), publicBaseUrl pointing at
 * it, hosted as the default delivery. `ca` is what a client must trust.
 */
export const hostedImagesConfig = async (): Promise<{ config: Record<string, unknown>; baseUrl: string; ca: string }> => {
  const cert = await makeSelfSigned("127.0.0.1")
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imprint-images-tls-"))
  fs.writeFileSync(path.join(dir, "key.pem"), cert.key)
  fs.writeFileSync(path.join(dir, "cert.pem"), cert.cert)
  const port = await freePort()
  const baseUrl = `https://127.0.0.1:${port}`
  return {
    baseUrl,
    ca: cert.cert,
    config: {
      images: {
        listen: { host: "127.0.0.1", port },
        publicBaseUrl: baseUrl,
        defaultDelivery: "hosted",
        tlsKeyFile: path.join(dir, "key.pem"),
        tlsCertFile: path.join(dir, "cert.pem")
      }
    }
  }
}

/** GET over HTTPS trusting `ca`. */
export const fetchImage = (url: string, ca: string) =>
  new Promise<{ status: number; type: string | undefined; body: Buffer }>((resolve, reject) => {
    https
      .get(url, { ca, agent: false }, (r) => {
        const chunks: Array<Buffer> = []
        r.on("data", (c: Buffer) => chunks.push(c))
        r.on("end", () => resolve({ status: r.statusCode ?? 0, type: r.headers["content-type"], body: Buffer.concat(chunks) }))
      })
      .on("error", reject)
  })
