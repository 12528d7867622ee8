import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect, Option } from "effect"
import { hostedImagePath, IMAGE_CONTENT_TYPES, ImageInvalid, type ImageMeta, type ImageTooLarge } from "../../domain/Images.js"
import type { TenantId } from "../../domain/Tenant.js"
import { saveImage } from "../../images/ImageLibrary.js"
import { ImageRepo, imageTooLarge, MAX_IMAGE_BYTES, MAX_TENANT_IMAGE_BYTES, type SavedImage } from "../../store/ImageRepo.js"
import { Api } from "../Api.js"
import { recordAudit } from "../audit/Audit.js"
import { ImageSaved, ImageUsage, ImageView } from "./Api.js"
import { CONTENT_ROLES, READ_ROLES } from "../../domain/Role.js"
import { authorize, catchStore } from "../http/ContentAccess.js"

/**
 * Image library handlers. An upload is refused on its Content-Length before a
 * byte is read (per image, and per tenant against what is stored), read with
 * the per-image cap for chunked bodies, then sniffed (ImageLibrary) and stored by ImageRepo.
 * Changes are audited (`image.create|replace|delete`, SHA-256 prefixes
 * before and after). The tenant's actor reloads from the change feed.
 */

export const imageView = (tenantId: TenantId, i: ImageMeta) =>
  new ImageView({
    id: i.id,
    type: i.type,
    contentType: IMAGE_CONTENT_TYPES[i.type],
    width: i.width,
    height: i.height,
    bytes: i.bytes,
    sha256: i.sha256,
    updatedAt: new Date(i.updatedAt).toISOString(),
    hostedPath: hostedImagePath(tenantId, i),
    templateSource: `image:${i.id}`
  })

const short = (sha: string) => sha.slice(0, 12)

/** The body, capped at MAX_IMAGE_BYTES. */
const readImage = (request: HttpServerRequest.HttpServerRequest) =>
  request.arrayBuffer.pipe(
    HttpIncomingMessage.withMaxBodySize(Option.some(MAX_IMAGE_BYTES)),
    Effect.map((b) => new Uint8Array(b)),
    Effect.catchAll((e): Effect.Effect<never, ImageTooLarge | ImageInvalid> =>
      String(e.cause).includes("maxBytes")
        ? Effect.fail(imageTooLarge(MAX_IMAGE_BYTES + 1))
        : Effect.fail(new ImageInvalid({ message: `the body could not be read: ${e.message}` }))
    )
  )

export const ImagesLive = HttpApiBuilder.group(Api, "images", (handlers) =>
  Effect.gen(function* () {
    const images = yield* ImageRepo

    const readable = (raw: string) => Effect.tap(authorize(raw, READ_ROLES), (id) => images.requireTenant(id))

    const upload = (rawTenant: string, imageId: string, request: HttpServerRequest.HttpServerRequest, mode: "create" | "replace") =>
      Effect.gen(function* () {
        const id = yield* authorize(rawTenant, CONTENT_ROLES)
        const declared = request.headers["content-length"]
        // before a byte is read: a declared length over a limit is answered at once
        if (declared !== undefined && /^\d+$/.test(declared)) yield* images.checkDeclared(id, imageId, Number(declared))
        else yield* images.requireTenant(id)
        const bytes = yield* readImage(request)
        const saved: SavedImage = yield* saveImage(images, id, imageId, bytes, mode)
        yield* recordAudit(id, mode === "create" ? "image.create" : "image.replace", `image/${imageId}`, {
          before: saved.previous === undefined ? undefined : short(saved.previous.sha256),
          after: short(saved.image.sha256),
          detail: `${saved.image.type} ${saved.image.width}x${saved.image.height}, ${saved.image.bytes} bytes`
        })
        return new ImageSaved({
          image: imageView(id, saved.image),
          ...(saved.previous !== undefined ? { previousSha256: saved.previous.sha256 } : {})
        })
      }).pipe(catchStore)

    return (
      handlers
        .handle("list", ({ path }) =>
          Effect.gen(function* () {
            const id = yield* readable(path.tenantId)
            const list = yield* images.list(id)
            const { total } = yield* images.usage(id)
            return new ImageUsage({
              images: list.map((i) => imageView(id, i)),
              totalBytes: total,
              limits: { imageBytes: MAX_IMAGE_BYTES, tenantBytes: MAX_TENANT_IMAGE_BYTES }
            })
          }).pipe(catchStore)
        )
        .handle("get", ({ path }) =>
          Effect.gen(function* () {
            const id = yield* readable(path.tenantId)
            return imageView(id, yield* images.get(id, path.imageId))
          }).pipe(catchStore)
        )
        .handle("content", ({ path }) =>
          Effect.gen(function* () {
            const id = yield* readable(path.tenantId)
            const { image, bytes } = yield* images.content(id, path.imageId)
            return HttpServerResponse.uint8Array(bytes, {
              contentType: IMAGE_CONTENT_TYPES[image.type],
              headers: { "x-content-type-options": "nosniff", "cache-control": "private, no-cache", etag: `"${image.sha256}"` }
            })
          }).pipe(catchStore)
        )
        .handleRaw("create", ({ path, request }) => upload(path.tenantId, path.imageId, request, "create"))
        // a replace never creates, so "already exists" cannot happen there
        .handleRaw("replace", ({ path, request }) =>
          upload(path.tenantId, path.imageId, request, "replace").pipe(Effect.catchTag("ImageAlreadyExists", Effect.die))
        )
        .handle("delete", ({ path }) =>
          Effect.gen(function* () {
            const id = yield* authorize(path.tenantId, CONTENT_ROLES)
            const removed = yield* images.remove(id, path.imageId)
            yield* recordAudit(id, "image.delete", `image/${removed.id}`, { before: short(removed.sha256) })
          }).pipe(catchStore)
        )
    )
  })
)
