import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import { ImageAlreadyExists, ImageId, ImageInUse, ImageInvalid, ImageNotFound, ImageTooLarge, ImageType } from "../../domain/Images.js"
import { TenantNotFound } from "../../domain/Errors.js"
import { Forbidden, StoreFailure } from "../http/Errors.js"
import { AdminAuth } from "../http/Principal.js"

/**
 * A tenant's image library (issue 17): upload, replace, list, read, fetch the
 * bytes, delete. The body of an upload is the image itself (any Content-Type:
 * the type is sniffed from the bytes); PNG, JPEG and GIF only. Limits are
 * checked on Content-Length before the body is read (413), and again on the
 * bytes. Reads need a member role, writes owner/admin/editor (as templates).
 */

export const IMAGE_UPLOAD_CONTENT_TYPE = "application/octet-stream"

export class ImageView extends Schema.Class<ImageView>("ImageView")({
  id: Schema.String,
  type: ImageType,
  contentType: Schema.String,
  width: Schema.Int,
  height: Schema.Int,
  bytes: Schema.Int,
  /** SHA-256 of the bytes (hex): the content address */
  sha256: Schema.String,
  /** ISO 8601 */
  updatedAt: Schema.String,
  /** where the image listener serves it, relative to `images.publicBaseUrl` */
  hostedPath: Schema.String,
  /** what to write in a template */
  templateSource: Schema.String
}) {}

export class ImageSaved extends Schema.Class<ImageSaved>("ImageSaved")({
  image: ImageView,
  /** the SHA-256 this save replaced; absent for a new image */
  previousSha256: Schema.optional(Schema.String)
}) {}

export class ImageUsage extends Schema.Class<ImageUsage>("ImageUsage")({
  images: Schema.Array(ImageView),
  /** distinct bytes stored (two ids with the same bytes count once) */
  totalBytes: Schema.Int,
  limits: Schema.Struct({ imageBytes: Schema.Int, tenantBytes: Schema.Int })
}) {}

const tenantId = HttpApiSchema.param("tenantId", Schema.String)
const imageId = HttpApiSchema.param("imageId", ImageId)

const upload = HttpApiSchema.Uint8Array({ contentType: IMAGE_UPLOAD_CONTENT_TYPE })

export class ImagesGroup extends HttpApiGroup.make("images")
  .add(HttpApiEndpoint.get("list")`/tenants/${tenantId}/images`.addSuccess(ImageUsage))
  .add(HttpApiEndpoint.get("get")`/tenants/${tenantId}/images/${imageId}`.addSuccess(ImageView))
  .add(
    HttpApiEndpoint.get("content")`/tenants/${tenantId}/images/${imageId}/content`
      .addSuccess(HttpApiSchema.Uint8Array({ contentType: IMAGE_UPLOAD_CONTENT_TYPE }))
      .annotate(OpenApi.Description, "The stored bytes, with the sniffed Content-Type.")
  )
  .add(
    HttpApiEndpoint.post("create")`/tenants/${tenantId}/images/${imageId}`
      .setPayload(upload)
      .addSuccess(ImageSaved, { status: 201 })
      .addError(ImageAlreadyExists, { status: 409 })
  )
  .add(HttpApiEndpoint.put("replace")`/tenants/${tenantId}/images/${imageId}`.setPayload(upload).addSuccess(ImageSaved))
  .add(HttpApiEndpoint.del("delete")`/tenants/${tenantId}/images/${imageId}`.addSuccess(HttpApiSchema.NoContent).addError(ImageInUse, { status: 409 }))
  .addError(TenantNotFound, { status: 404 })
  .addError(ImageNotFound, { status: 404 })
  .addError(ImageInvalid, { status: 400 })
  .addError(ImageTooLarge, { status: 413 })
  .addError(StoreFailure)
  .addError(Forbidden)
  .middleware(AdminAuth)
  .annotate(OpenApi.Description, 'A tenant\'s image library: PNG, JPEG and GIF images that templates show with <img src="image:ID">.') {}
