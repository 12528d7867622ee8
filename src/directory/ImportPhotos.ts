import { Effect, Option } from "effect"
import { createHash } from "node:crypto"
import { DirectoryUser } from "../domain/Directory.js"
import type { TenantId } from "../domain/Tenant.js"
import { MAX_PHOTO_INPUT_BYTES, normalisePhoto } from "../images/PhotoNormaliser.js"
import type { DirectoryRepo } from "../store/DirectoryRepo.js"
import type { PhotoRepo } from "../store/PhotoRepo.js"
import type { ParsedRows, RejectedRow } from "./UserRows.js"

/**
 * The `photo` column of a CSV or JSON import (issue 17 item 3): base64 of a
 * PNG, JPEG or GIF, or a `data:image/…;base64,` URL of one. Each is decoded,
 * normalised (PhotoNormaliser) and stored before the users are written; a
 * photo that cannot be read rejects its row, like any other bad value, with
 * the reason. A photo whose bytes the cached entry already came from is not
 * re-encoded. Photos by `https:` URL are not fetched.
 */

/** base64 of the largest photo read, plus room for a data: prefix and line breaks */
const MAX_PHOTO_TEXT = Math.ceil((MAX_PHOTO_INPUT_BYTES * 4) / 3) + 1024
const DATA_URL = /^data:([^;,]*)((?:;[^;,]*)*),/i
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

/** The photo's bytes, or why the text is not a photo. */
export const decodePhotoText = (text: string): Uint8Array | string => {
  if (text.length > MAX_PHOTO_TEXT) return `the photo is over ${MAX_PHOTO_INPUT_BYTES} bytes`
  let body = text.trim()
  const data = DATA_URL.exec(body)
  if (data !== null) {
    if (!data[2]!.toLowerCase().split(";").includes("base64")) return "a data: URL photo must be base64: data:image/jpeg;base64,…"
    body = body.slice(data[0].length)
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(body)) {
    return "photos by URL are not fetched; give the image itself as base64 or a data:image/…;base64, URL"
  }
  body = body.replace(/\s+/g, "")
  if (body === "" || !BASE64.test(body) || body.length % 4 === 1) return "the photo is not base64 (nor a data:image/…;base64, URL)"
  return Buffer.from(body, "base64")
}

const tagOf = (bytes: Uint8Array): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`

/** The parsed rows with each user's photo stored and referenced; rows whose photo is refused move to `rejected`. */
export const attachPhotos = Effect.fn("ImportPhotos.attach")(function* (
  tenantId: TenantId,
  parsed: ParsedRows,
  photos: PhotoRepo,
  directory: Pick<DirectoryRepo, "get">
) {
  if (parsed.photos === undefined || parsed.photos.size === 0) return parsed
  const users: Array<DirectoryUser> = []
  const rejected: Array<RejectedRow> = [...parsed.rejected]
  for (const user of parsed.users) {
    const given = parsed.photos.get(user.mail.toLowerCase())
    if (given === undefined) {
      users.push(user)
      continue
    }
    const reject = (reason: string) => rejected.push({ row: given.row, mail: user.mail, reason: `photo: ${reason}` })
    const bytes = decodePhotoText(given.text)
    if (typeof bytes === "string") {
      reject(bytes)
      continue
    }
    const tag = tagOf(bytes)
    const cached = Option.getOrUndefined(yield* directory.get(tenantId, user.mail))?.photo
    if (cached !== undefined && cached.source === tag) {
      users.push(new DirectoryUser({ ...user, photo: cached }, true))
      continue
    }
    const saved = yield* normalisePhoto(bytes).pipe(
      Effect.flatMap((photo) => photos.save(tenantId, photo, tag)),
      Effect.map(Option.some),
      Effect.catchTag("PhotoRefused", (e) => Effect.sync(() => reject(e.reason)).pipe(Effect.as(Option.none())))
    )
    if (Option.isSome(saved)) users.push(new DirectoryUser({ ...user, photo: saved.value }, true))
  }
  return { users, rejected: rejected.sort((a, b) => a.row - b.row), photos: parsed.photos } satisfies ParsedRows
})
