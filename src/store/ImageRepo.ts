import { Clock, Effect, Either, Option, Schema } from "effect"
import { createHash } from "node:crypto"
import { TenantNotFound } from "../domain/Errors.js"
import { ImageAlreadyExists, ImageInUse, ImageMeta, ImageNotFound, ImageTooLarge, imageIdsOf, type SniffedImage } from "../domain/Images.js"
import type { TenantId } from "../domain/Tenant.js"
import * as Keys from "./Keys.js"
import { Db } from "./Keys.js"
import { Store, Write, type WriteOp } from "./Store.js"
import { TenantRepo } from "./TenantRepo.js"

/**
 * A tenant's image library in LMDB: one ImageMeta per id (`images`), the bytes
 * once per SHA-256 (`image-blobs`), both under `tenant/<id>/`, so a change
 * reloads the tenant's actor (templates then render the new size and
 * address) and deleting the tenant deletes its images. Writes run under
 * TenantRepo's lock, so a template save cannot slip a reference to an image
 * past its deletion. The repository stores what it is given: the bytes'
 * type and size are read by images/ImageLibrary (ImageSniffer) before save.
 */

/** The largest image (bytes as uploaded). */
export const MAX_IMAGE_BYTES = 1024 * 1024
/** The most a tenant's images may take together (distinct bytes: two ids with the same bytes count once). */
export const MAX_TENANT_IMAGE_BYTES = 50 * 1024 * 1024

const MB = 1024 * 1024

const Blob = Schema.Uint8ArrayFromSelf

export interface SavedImage {
  readonly image: ImageMeta
  /** what this save replaced; absent for a new id */
  readonly previous: ImageMeta | undefined
}

export const sha256Of = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex")

export const imageTooLarge = (bytes: number) =>
  new ImageTooLarge({
    limit: `${MAX_IMAGE_BYTES / MB} MB per image`,
    message: `the image is ${bytes} bytes; an image may have at most ${MAX_IMAGE_BYTES} bytes (${MAX_IMAGE_BYTES / MB} MB): scale it down or save it with more compression`
  })

export const tenantImagesFull = (used: number, adding: number) =>
  new ImageTooLarge({
    limit: `${MAX_TENANT_IMAGE_BYTES / MB} MB per tenant`,
    message: `the tenant's images take ${used} bytes; ${adding} more would pass the ${MAX_TENANT_IMAGE_BYTES / MB} MB per tenant: delete images no template uses first`
  })

const make = Effect.gen(function* () {
  const store = yield* Store
  const tenants = yield* TenantRepo

  const requireTenant = (id: TenantId) =>
    Effect.flatMap(
      tenants.getTenant(id),
      Option.match({
        onNone: () => Effect.fail(new TenantNotFound({ tenantId: id })),
        onSome: () => Effect.void
      })
    )

  /** The library in id order. */
  const list = Effect.fn("ImageRepo.list")(function* (id: TenantId) {
    return (yield* store.list(Db.images, ImageMeta, Keys.imagePrefix(id))).map((e) => e.value)
  })

  const find = (id: TenantId, imageId: string) => store.get(Db.images, ImageMeta, Keys.imageKey(id, imageId))

  const get = Effect.fn("ImageRepo.get")(function* (id: TenantId, imageId: string) {
    return yield* Option.match(yield* find(id, imageId), { onNone: () => Effect.fail(ImageNotFound.of(imageId)), onSome: Effect.succeed })
  })

  /**
   * The stored bytes of one SHA-256 of the tenant (hosted delivery, actors);
   * synchronous, for the hot path. A directory photo (PhotoRepo) is found
   * too, so hosted photos are served at the same content-addressed paths.
   */
  const blobSync = (id: TenantId, sha256: string) =>
    Either.flatMap(store.getSync(Db.imageBlobs, Blob, Keys.imageBlobKey(id, sha256)), (found) =>
      Option.isSome(found) ? Either.right(found) : store.getSync(Db.photoBlobs, Blob, Keys.photoBlobKey(id, sha256))
    )

  const content = Effect.fn("ImageRepo.content")(function* (id: TenantId, imageId: string) {
    const image = yield* get(id, imageId)
    const bytes = yield* blobSync(id, image.sha256)
    if (Option.isNone(bytes)) return yield* Effect.dieMessage(`image ${id}/${imageId}: its bytes ${image.sha256} are missing`)
    return { image, bytes: bytes.value }
  })

  /** Bytes the tenant's distinct images take; `except` leaves one id out (the image a replace overwrites). */
  const usage = Effect.fn("ImageRepo.usage")(function* (id: TenantId, except?: string) {
    const sizes = new Map<string, number>()
    for (const image of yield* list(id)) if (image.id !== except) sizes.set(image.sha256, image.bytes)
    let total = 0
    for (const n of sizes.values()) total += n
    return { total, shas: new Set(sizes.keys()) }
  })

  /** Refuses before the body is read: the declared length alone passes a limit. */
  const checkDeclared = Effect.fn("ImageRepo.checkDeclared")(function* (id: TenantId, imageId: string, declared: number) {
    yield* requireTenant(id)
    if (declared > MAX_IMAGE_BYTES) return yield* imageTooLarge(declared)
    const { total } = yield* usage(id, imageId)
    if (total + declared > MAX_TENANT_IMAGE_BYTES) return yield* tenantImagesFull(total, declared)
  })

  /** A blob no other record names goes with the record that named it. */
  const dropBlobUnlessShared = (id: TenantId, sha256: string, remaining: ReadonlyArray<ImageMeta>): ReadonlyArray<WriteOp> =>
    remaining.some((i) => i.sha256 === sha256) ? [] : [Write.remove(Db.imageBlobs, Keys.imageBlobKey(id, sha256))]

  /**
   * Stores the bytes under the id: "create" refuses an existing id, "replace"
   * a missing one, "put" does either (the demo's provisioning). `sniffed` is
   * what images/ImageLibrary read from the bytes (type and size); both limits
   * are checked on the real length.
   */
  const save = Effect.fn("ImageRepo.save")(
    function* (id: TenantId, imageId: string, bytes: Uint8Array, sniffed: SniffedImage, mode: "create" | "replace" | "put") {
      yield* requireTenant(id)
      if (bytes.length > MAX_IMAGE_BYTES) return yield* imageTooLarge(bytes.length)
      const previous = Option.getOrUndefined(yield* find(id, imageId))
      if (mode === "create" && previous !== undefined) {
        return yield* new ImageAlreadyExists({
          imageId,
          message: `image "${imageId}" already exists; replace it with PUT /tenants/${id}/images/${imageId}`
        })
      }
      if (mode === "replace" && previous === undefined) return yield* ImageNotFound.of(imageId)
      const sha256 = sha256Of(bytes)
      const { total, shas } = yield* usage(id, imageId)
      if (!shas.has(sha256) && total + bytes.length > MAX_TENANT_IMAGE_BYTES) return yield* tenantImagesFull(total, bytes.length)
      const image = new ImageMeta({
        id: imageId,
        type: sniffed.type,
        sha256,
        width: sniffed.width,
        height: sniffed.height,
        bytes: bytes.length,
        updatedAt: yield* Clock.currentTimeMillis
      })
      const others = (yield* list(id)).filter((i) => i.id !== imageId)
      yield* store.batch([
        Write.put(Db.imageBlobs, Blob, Keys.imageBlobKey(id, sha256), bytes),
        Write.put(Db.images, ImageMeta, Keys.imageKey(id, imageId), image),
        ...(previous !== undefined && previous.sha256 !== sha256 ? dropBlobUnlessShared(id, previous.sha256, others) : [])
      ])
      return { image, previous } satisfies SavedImage
    },
    (effect) => tenants.exclusive(effect)
  )

  /** The templates whose HTML shows the image. */
  const usedBy = Effect.fn("ImageRepo.usedBy")(function* (id: TenantId, imageId: string) {
    return (yield* tenants.templates(id)).filter((t) => imageIdsOf(t.html).includes(imageId)).map((t) => t.id)
  })

  const remove = Effect.fn("ImageRepo.remove")(
    function* (id: TenantId, imageId: string) {
      yield* requireTenant(id)
      const image = yield* get(id, imageId)
      const templates = yield* usedBy(id, imageId)
      if (templates.length > 0) {
        return yield* new ImageInUse({
          imageId,
          templateIds: templates,
          message: `image "${imageId}" is shown by template${templates.length > 1 ? "s" : ""} ${templates.map((t) => `"${t}"`).join(", ")}; change them first`
        })
      }
      const others = (yield* list(id)).filter((i) => i.id !== imageId)
      yield* store.batch([Write.remove(Db.images, Keys.imageKey(id, imageId)), ...dropBlobUnlessShared(id, image.sha256, others)])
      return image
    },
    (effect) => tenants.exclusive(effect)
  )

  return { list, get, find, content, blobSync, usage, checkDeclared, save, remove, usedBy, requireTenant } as const
})

export class ImageRepo extends Effect.Service<ImageRepo>()("imprint/ImageRepo", {
  effect: make,
  dependencies: [TenantRepo.Default, Store.Default]
}) {}
