import type { DataChunk, MimeNode, SplitterChunk } from "mailsplit"
import { randomBytes } from "node:crypto"
import type { ElementImage } from "../../domain/Signature.js"
import type { StampPlan } from "./StampPlan.js"

/**
 * Embedded delivery of signature images (issue 17): the images an element's
 * HTML shows as `cid:` references travel in the message as parts of a
 * multipart/related around the stamped text/html part, without buffering
 * anything but the images themselves:
 *
 * - the HTML part's parent is already multipart/related: the image parts are
 *   added as siblings right after it (the parent's boundary);
 * - otherwise (alternative, mixed, or the root): where the HTML part's
 *   headers would go, a multipart/related header, a new boundary and the
 *   part's own headers go; after its body, the image parts and the closing
 *   boundary. At the root, the message's own headers stay on top and only
 *   the Content-* headers move into the part.
 *
 * Every other part keeps its bytes: this only inserts. Image parts are
 * `Content-Disposition: inline` with a `Content-ID` and no file name, so
 * clients show them in place and do not list them as attachments.
 */

/** base64 line length (RFC 2045 allows 76) */
const LINE = 76
const CRLF = "\r\n"

const encoded = new WeakMap<Uint8Array, string>()

/** The image's base64 body in lines of 76, CRLF-terminated; computed once per stored image. */
const base64Body = (data: Uint8Array): string => {
  const known = encoded.get(data)
  if (known !== undefined) return known
  const b64 = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64")
  let out = ""
  for (let i = 0; i < b64.length; i += LINE) out += b64.slice(i, i + LINE) + CRLF
  encoded.set(data, out)
  return out
}

const imagePart = (boundary: string, image: ElementImage): string =>
  `--${boundary}${CRLF}` +
  `Content-Type: ${image.contentType}${CRLF}` +
  `Content-Transfer-Encoding: base64${CRLF}` +
  `Content-ID: <${image.contentId}>${CRLF}` +
  `Content-Disposition: inline${CRLF}${CRLF}` +
  base64Body(image.data)

const data = (text: string): DataChunk => ({ type: "data", value: Buffer.from(text, "latin1") })

/** The embedded images of a plan, each once (two elements may show the same image). */
export const embeddedImages = (plan: StampPlan): ReadonlyArray<ElementImage> => {
  const seen = new Map<string, ElementImage>()
  for (const element of plan.elements) {
    if (element.delivery !== "embedded") continue
    for (const image of element.images) if (!seen.has(image.contentId)) seen.set(image.contentId, image)
  }
  return [...seen.values()]
}

/** The boundary the splitter used for a multipart node (mailsplit keeps it parsed as a Buffer). */
const boundaryOf = (node: MimeNode): string | undefined => {
  const parsed = (node as MimeNode & { _boundary?: Buffer | false })._boundary
  return parsed ? parsed.toString("latin1") : undefined
}

/** Random, so it cannot occur in the message; the "=_" keeps it out of quoted-printable and base64 text. */
const newBoundary = (): string => `----=_imprint_related_${randomBytes(12).toString("hex")}`

/** What a stamped HTML part emits around itself (its hook in StampedPart). */
export interface PartFrame {
  /** before the part's headers are pushed (may change them) */
  open(push: (chunk: SplitterChunk) => void): void
  /** after the part's last body byte */
  close(push: (chunk: SplitterChunk) => void): void
}

/** The frame that embeds `images` around the HTML part `node`, or undefined when there is nothing to embed. */
export const relatedFrame = (node: MimeNode, images: ReadonlyArray<ElementImage>): PartFrame | undefined => {
  if (images.length === 0) return undefined
  const parent = node.parentNode
  const siblingBoundary = parent !== false && parent.contentType === "multipart/related" ? boundaryOf(parent) : undefined
  if (siblingBoundary !== undefined) {
    return {
      open: () => {},
      // the leading CRLF ends the HTML body's last line (the next delimiter's own CRLF follows the last image)
      close: (push) => push(data(CRLF + images.map((i) => imagePart(siblingBoundary, i)).join("")))
    }
  }
  const boundary = newBoundary()
  const wrapper = `Content-Type: multipart/related; type="text/html";${CRLF} boundary="${boundary}"${CRLF}`
  return {
    open: (push) => {
      if (node.parentNode !== false) return push(data(`${wrapper}${CRLF}--${boundary}${CRLF}`))
      // the root: the message's headers stay on top, its Content-* headers go into the part
      const lines = node.headers.getList()
      const top = lines.filter((l) => !l.key.startsWith("content-"))
      const hasVersion = top.some((l) => l.key === "mime-version")
      push(data(top.map((l) => l.line + CRLF).join("") + (hasVersion ? "" : `MIME-Version: 1.0${CRLF}`) + `${wrapper}${CRLF}--${boundary}${CRLF}`))
      for (const key of new Set(top.map((l) => l.key))) node.headers.remove(key)
    },
    close: (push) => push(data(CRLF + images.map((i) => imagePart(boundary, i)).join("") + `--${boundary}--${CRLF}`))
  }
}
