import { Context, Schema } from "effect"

/**
 * A tenant's image library (issue 17): the stored form of an image, how
 * images reach the recipient (hosted or embedded), and the errors the admin
 * API and the CLI answer. Shared by store, signature, pipeline and admin.
 */

/** The only formats mail clients render everywhere; SVG is refused (not rendered by most clients, and it can carry script). */
export const ImageType = Schema.Literal("png", "jpeg", "gif")
export type ImageType = typeof ImageType.Type

export const IMAGE_CONTENT_TYPES: Readonly<Record<ImageType, string>> = { png: "image/png", jpeg: "image/jpeg", gif: "image/gif" }
/** file extension in hosted paths */
export const IMAGE_EXTENSIONS: Readonly<Record<ImageType, string>> = { png: "png", jpeg: "jpg", gif: "gif" }

/** An image id: what templates name in `<img src="image:ID">`. */
export const ImageId = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9._-]{1,64}$/, {
    message: () => "an image id is 1 to 64 of A-Z a-z 0-9 . _ -"
  })
)

export const Sha256Hex = Schema.String.pipe(Schema.pattern(/^[0-9a-f]{64}$/))

/** One image of the library: the bytes live apart, under their SHA-256 (content-addressed). */
export class ImageMeta extends Schema.Class<ImageMeta>("ImageMeta")({
  id: ImageId,
  /** the type sniffed from the bytes, never the name or the upload's Content-Type */
  type: ImageType,
  sha256: Sha256Hex,
  width: Schema.Int.pipe(Schema.positive()),
  height: Schema.Int.pipe(Schema.positive()),
  bytes: Schema.Int.pipe(Schema.positive()),
  /** epoch milliseconds of the last upload or replace */
  updatedAt: Schema.Number
}) {}

/** How a template's images reach the recipient. */
export const ImageDeliveryMode = Schema.Literal("hosted", "embedded")
export type ImageDeliveryMode = typeof ImageDeliveryMode.Type

export interface ImageDeliverySettings {
  /** where the image listener is reached from the internet, e.g. https://img.example.com (no trailing slash); absent: no hosting */
  readonly publicBaseUrl: string | undefined
  /** the mode of templates and rules that name none */
  readonly defaultDelivery: ImageDeliveryMode
}

/**
 * The server's image delivery settings (config `images.*`). A reference with
 * a default, so actors built without it (tests, CLI one-shots) embed.
 */
export class ImageDelivery extends Context.Reference<ImageDelivery>()("imprint/ImageDelivery", {
  defaultValue: (): ImageDeliverySettings => ({ publicBaseUrl: undefined, defaultDelivery: "embedded" })
}) {}

/** The path an image is served at: content-addressed, so it never changes meaning and caches forever. */
export const hostedImagePath = (tenantId: string, image: { readonly sha256: string; readonly type: ImageType }): string =>
  `/i/${tenantId}/${image.sha256}.${IMAGE_EXTENSIONS[image.type]}`

/** The Content-ID of an embedded image: content-addressed, so one image is one part even when used twice. */
export const imageContentId = (image: { readonly sha256: string; readonly type: ImageType }): string =>
  `img-${image.sha256.slice(0, 32)}.${IMAGE_EXTENSIONS[image.type]}@imprint`

// ---- errors (admin API and CLI) ------------------------------------------------------

export class ImageNotFound extends Schema.TaggedError<ImageNotFound>()("ImageNotFound", {
  imageId: Schema.String,
  message: Schema.String
}) {
  static of(imageId: string) {
    return new ImageNotFound({ imageId, message: `no image "${imageId}" in this tenant` })
  }
}

export class ImageAlreadyExists extends Schema.TaggedError<ImageAlreadyExists>()("ImageAlreadyExists", {
  imageId: Schema.String,
  message: Schema.String
}) {}

/** The bytes are not a PNG, JPEG or GIF this server accepts (SVG, WebP, truncated, no dimensions). */
export class ImageInvalid extends Schema.TaggedError<ImageInvalid>()("ImageInvalid", {
  message: Schema.String
}) {}

/** Over the per-image or per-tenant limit; `limit` names which. */
export class ImageTooLarge extends Schema.TaggedError<ImageTooLarge>()("ImageTooLarge", {
  limit: Schema.String,
  message: Schema.String
}) {}

/** Templates still show the image: it cannot be deleted. */
export class ImageInUse extends Schema.TaggedError<ImageInUse>()("ImageInUse", {
  imageId: Schema.String,
  templateIds: Schema.Array(Schema.String),
  message: Schema.String
}) {}

/** The real type and pixel size of an image, read from its bytes (images/ImageSniffer). */
export interface SniffedImage {
  readonly type: ImageType
  readonly width: number
  readonly height: number
}

// stored template HTML is normalised by the sanitizer: attributes double-quoted
const IMAGE_SOURCES = /<img\b[^>]*?\ssrc\s*=\s*"\s*image:([^"\s]*)\s*"/gi

/**
 * The library image ids a template's stored HTML uses (`<img src="image:ID">`),
 * in order, without repeats: for "is this image in use" and the save-time check.
 */
export const imageIdsOf = (html: string): ReadonlyArray<string> => {
  const ids = new Set<string>()
  for (const m of html.matchAll(IMAGE_SOURCES)) ids.add(m[1]!)
  return [...ids]
}
