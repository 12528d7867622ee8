import { Context, Data, type Effect } from "effect"

/**
 * Directory photos before they are stored: every photo is normalised into
 * one fixed form first (images/PhotoNormaliser: a square baseline JPEG, no
 * metadata), and the photo store (store/PhotoRepo) keeps what it is given.
 * The directory sync names this interface; the composition root provides
 * images/ implementation, so sync/ does not import images/.
 */

/** The input is not a photo this server takes; `reason` says why, for logs and import errors. */
export class PhotoRefused extends Data.TaggedError("PhotoRefused")<{ readonly reason: string }> {}

/** A photo in the stored form. */
export interface NormalisedPhoto {
  readonly bytes: Buffer
  readonly sha256: string
  readonly width: number
  readonly height: number
}

export interface PhotoNormaliserApi {
  readonly normalise: (input: Uint8Array) => Effect.Effect<NormalisedPhoto, PhotoRefused>
}

export class PhotoNormaliser extends Context.Tag("imprint/PhotoNormaliser")<PhotoNormaliser, PhotoNormaliserApi>() {}
