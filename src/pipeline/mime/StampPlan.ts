import type { SignatureElement } from "../../domain/Signature.js"

/**
 * What the stamper puts into one downstream copy. The relay builds it from a
 * `Stamp` decision (one recipient group) before the first body byte moves.
 */
export interface StampPlan {
  readonly elements: ReadonlyArray<SignatureElement>
  /** texts whose presence anywhere in the part's thread text (quoted history too) means "already signed" */
  readonly skipIfPresent: ReadonlyArray<string>
  /** opt-in token typed by the user (e.g. "{{signature}}"), replaced in place by the above-reply elements */
  readonly placeholder?: string
}

/** Why a whole message passes unstamped (invariant 5: mail flow beats signatures). */
export type SkipReason =
  | "signed" // multipart/signed (S/MIME or PGP/MIME)
  | "encrypted" // multipart/encrypted
  | "pkcs7" // application/(x-)pkcs7-mime (S/MIME signed-data or enveloped-data)
  | "pgp-inline" // a text body starting with an inline PGP armour
  | "calendar" // text/calendar invitation or meeting response
  | "report" // multipart/report, message/delivery-status, message/disposition-notification
  | "partial" // message/partial
  | "tnef" // application/ms-tnef (winmail.dat) carries the real body
  | "undecodable" // the chosen body parts cannot be decoded safely (unknown charset or transfer encoding)
  | "already-signed" // the sender's signature or a skip-if-present text is already in the part's thread text
  | "malformed" // a chosen part holds a boundary line of its own multipart (with transport padding the splitter missed)
  | "no-body" // no text/html or text/plain part of the message's own
  | "too-complex" // more MIME parts or deeper nesting than the stamper takes on (Stamper's MAX_STAMPED_PARTS, MAX_STAMPED_DEPTH)

/** What happened to one body part the stamper chose. */
export type PartResult = "stamped" | "already-signed" | "pgp-inline" | "undecodable" | "malformed" | "transcoded-only"

export interface PartOutcome {
  readonly kind: "html" | "text"
  /** mailsplit's part number, e.g. "1.2" ("TEXT" for a single-part message) */
  readonly part: string
  readonly result: PartResult
  /** for undecodable parts: the charset or transfer encoding that could not be handled */
  readonly detail?: string
}

export interface StampOutcome {
  /** kinds of parts that received the signature */
  readonly stamped: ReadonlyArray<"html" | "text">
  /** set when nothing was stamped: the reason the message passed unstamped */
  readonly skipped?: SkipReason
  /**
   * A skip reason discovered only after a part had already left stamped
   * (e.g. a text/calendar part after a large HTML body): logged, not acted on.
   */
  readonly lateSkip?: SkipReason
  readonly parts: ReadonlyArray<PartOutcome>
}

/**
 * Signed or encrypted content (or a damaged structure) met after stamped bytes
 * of the message already left: the copy must not be delivered (the relay turns
 * this into 451 and remembers the message so that the retry passes unstamped).
 */
export class LateSkipError extends Error {
  constructor(readonly reason: SkipReason) {
    super(`${reason} content found after the stamped body had left: the message must pass unstamped`)
    this.name = "LateSkipError"
  }
}
