import { Effect, Either } from "effect"
import { ImageInvalid } from "../domain/Images.js"
import type { TenantId } from "../domain/Tenant.js"
import { imageTooLarge, type ImageRepo, MAX_IMAGE_BYTES } from "../store/ImageRepo.js"
import { sniffImage } from "./ImageSniffer.js"

/**
 * Saving an image into a tenant's library, checked before ImageRepo stores it:
 * every path that writes an image (the admin API, `imprint image`, the demo's
 * provisioning) comes through here. The type and pixel size are read from the
 * bytes (ImageSniffer: PNG, JPEG or GIF, sides capped), never from a name or a
 * Content-Type. The checks run in the order the repository answered before:
 * unknown tenant, then too large, then not an image.
 */
export const saveImage = Effect.fn("ImageLibrary.save")(function* (
  repo: ImageRepo,
  id: TenantId,
  imageId: string,
  bytes: Uint8Array,
  mode: "create" | "replace" | "put"
) {
  yield* repo.requireTenant(id)
  if (bytes.length > MAX_IMAGE_BYTES) return yield* imageTooLarge(bytes.length)
  const sniffed = sniffImage(bytes)
  if (Either.isLeft(sniffed)) return yield* new ImageInvalid({ message: sniffed.left })
  return yield* repo.save(id, imageId, bytes, sniffed.right, mode)
})
