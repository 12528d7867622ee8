import { Effect, Either, Option, Schema } from "effect"
import { DirectoryPhoto, DirectoryUser } from "../domain/Directory.js"
import type { TenantId } from "../domain/Tenant.js"
import type { NormalisedPhoto } from "../domain/Photos.js"
import * as Keys from "./Keys.js"
import { Db } from "./Keys.js"
import { Store, Write } from "./Store.js"

/**
 * Directory photos in LMDB (issue 17 item 3): the normalised JPEG once per
 * SHA-256 under `tenant/<id>/photo-blob/`, named by the users' DirectoryPhoto;
 * the photo is normalised before it gets here (domain/Photos).
 * A blob is written before the entry naming it, so a relayed message never
 * meets an entry whose photo is missing; blobs no entry names any more are
 * swept after each sync pass and import. Writing a blob reloads no actor
 * (Store's change log skips this database): the mail path reads the bytes
 * when a signature shows the photo.
 */

const Blob = Schema.Uint8ArrayFromSelf

/** The photo store over the Store in context: a plain value, so the mail path, the sync and the admin API need no extra layer. */
export const makePhotoRepo = Effect.gen(function* () {
  const store = yield* Store

  /** The bytes of a stored photo; synchronous, for the mail path and the image listener. */
  const bytesSync = (id: TenantId, sha256: string): Uint8Array | undefined => {
    const read = store.getSync(Db.photoBlobs, Blob, Keys.photoBlobKey(id, sha256))
    return Either.isRight(read) ? Option.getOrUndefined(read.right) : undefined
  }

  /**
   * Stores a normalised photo (images/PhotoNormaliser made it) unless a blob
   * with those bytes is there already; `source` is what the directory said of
   * the photo (an etag, or the input's hash).
   */
  const save = Effect.fn("PhotoRepo.save")(function* (id: TenantId, photo: NormalisedPhoto, source: string) {
    if (bytesSync(id, photo.sha256) === undefined) {
      yield* store.batch([Write.put(Db.photoBlobs, Blob, Keys.photoBlobKey(id, photo.sha256), photo.bytes)])
    }
    return new DirectoryPhoto({ sha256: photo.sha256, width: photo.width, height: photo.height, bytes: photo.bytes.length, source })
  })

  /** Removes the tenant's photo blobs no directory entry names; answers how many went. */
  const sweep = Effect.fn("PhotoRepo.sweep")(function* (id: TenantId) {
    const blobPrefix = Keys.photoBlobPrefix(id)
    const blobs = yield* store.keys(Db.photoBlobs, blobPrefix)
    if (blobs.length === 0) return 0
    const named = new Set<string>()
    for (const { value } of yield* store.list(Db.users, DirectoryUser, Keys.userPrefix(id))) {
      if (value.photo !== undefined) named.add(value.photo.sha256)
    }
    const orphans = blobs.filter((key) => !named.has(key.slice(blobPrefix.length)))
    if (orphans.length > 0) yield* store.batch(orphans.map((key) => Write.remove(Db.photoBlobs, key)))
    return orphans.length
  })

  return { save, bytesSync, sweep } as const
})

export type PhotoRepo = Effect.Effect.Success<typeof makePhotoRepo>
