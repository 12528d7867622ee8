import type { DirectoryPhoto } from "../domain/Directory.js"
import { hostedImagePath, imageContentId, type ImageDeliveryMode, type ImageDeliverySettings, type ImageMeta } from "../domain/Images.js"
import { escapeAttributeValue } from "./ValueEscaping.js"
import { ImageMeta as ImageMetaClass } from "../domain/Images.js"

/**
 * Images named by templates: `<img src="image:logo">` refers to the tenant's
 * image library by id. The compiler keeps such a source as an ImageSource
 * node; rendering turns it into the URL for the chosen delivery (a hosted
 * https URL, a `cid:` reference to a part embedded in the message, or a
 * `data:` URL for previews) and writes the image's width and height.
 */

export const IMAGE_SCHEME = "image:"

/** The image id of a literal `image:` source, or undefined when the source is something else. */
export const imageIdOfSource = (src: string): string | undefined => {
  const trimmed = src.replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, "")
  if (trimmed.slice(0, IMAGE_SCHEME.length).toLowerCase() !== IMAGE_SCHEME) return undefined
  return trimmed.slice(IMAGE_SCHEME.length)
}

/** The image ids a template's stored HTML uses (defined beside ImageMeta, for the image store's "in use" check too). */
export { imageIdsOf } from "../domain/Images.js"

/** The sizes written into the tag: the template's own, else the image's; one given scales the other. */
export const imageSize = (
  image: { readonly width: number; readonly height: number },
  given: { readonly width?: string | undefined; readonly height?: string | undefined }
): { readonly width: string; readonly height: string } => {
  const w = given.width !== undefined && /^\d+$/.test(given.width) ? Number(given.width) : undefined
  const h = given.height !== undefined && /^\d+$/.test(given.height) ? Number(given.height) : undefined
  if (w !== undefined && h !== undefined) return { width: String(w), height: String(h) }
  if (w !== undefined) return { width: String(w), height: String(Math.max(1, Math.round((w * image.height) / image.width))) }
  if (h !== undefined) return { width: String(Math.max(1, Math.round((h * image.width) / image.height))), height: String(h) }
  // a percentage or other non-pixel size the template gave is kept as written
  return { width: given.width ?? String(image.width), height: given.height ?? String(image.height) }
}

/** An image as rendered into one element: what the src says, and what must travel with the message. */
export interface RenderedImage {
  readonly meta: ImageMeta
  /** exactly what was written into the src attribute */
  readonly src: string
  readonly contentId: string
}

/** What rendering needs to resolve `image:` sources. */
export interface ImageContext {
  readonly tenantId: string
  readonly images: ReadonlyMap<string, ImageMeta>
  readonly delivery: ImageDeliveryMode
  readonly publicBaseUrl: string | undefined
  /** the sender's directory photo, as an image (id "photo"); absent: the user has none */
  readonly photo?: ImageMeta | undefined
}

/** Hosted needs a public base URL; without one the images are embedded, so they still show. */
export const effectiveDelivery = (requested: ImageDeliveryMode, settings: ImageDeliverySettings): ImageDeliveryMode =>
  requested === "hosted" && settings.publicBaseUrl === undefined ? "embedded" : requested

/** The src for an image under a delivery mode. */
export const imageSource = (context: ImageContext, meta: ImageMeta): RenderedImage => {
  const contentId = imageContentId(meta)
  const src =
    context.delivery === "hosted" && context.publicBaseUrl !== undefined
      ? `${context.publicBaseUrl}${hostedImagePath(context.tenantId, meta)}`
      : `cid:${contentId}`
  return { meta, src, contentId }
}

/**
 * An element's HTML with each of its images as a `data:` URL (the admin
 * preview and render answers: they show the images with no hosting and no
 * message around them).
 */
export const withDataUrls = (
  html: string,
  images: ReadonlyArray<{ readonly src: string; readonly contentType: string; readonly data: Uint8Array }>
): string => {
  let out = html
  for (const image of images) {
    const data = `data:${image.contentType};base64,${Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength).toString("base64")}`
    out = out.replaceAll(`src="${escapeAttributeValue(image.src)}"`, `src="${data}"`)
  }
  return out
}

const photoMetas = new WeakMap<DirectoryPhoto, ImageMeta>()

/** A directory photo as the image rendering resolves (always a JPEG: PhotoNormaliser made it one); memoised per photo. */
export const photoImageMeta = (photo: DirectoryPhoto | undefined): ImageMeta | undefined => {
  if (photo === undefined) return undefined
  let meta = photoMetas.get(photo)
  if (meta === undefined) {
    meta = new ImageMetaClass(
      { id: "photo", type: "jpeg", sha256: photo.sha256, width: photo.width, height: photo.height, bytes: photo.bytes, updatedAt: 0 },
      true
    )
    photoMetas.set(photo, meta)
  }
  return meta
}
