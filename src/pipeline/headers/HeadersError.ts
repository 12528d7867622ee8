/**
 * How the headers stretch of the wire refuses a message: LineGuard over the
 * whole DATA stream (smuggling, size) and the root header edit (loops). Each
 * carries what its SMTP reply needs; the reply itself is made in one place,
 * RelayError's toReply, above the stages.
 */
import { Data } from "effect"

/** Bare CR or LF (or NUL) in DATA: SMTP smuggling protection (invariant 8). */
export class BareLineEnding extends Data.TaggedError("BareLineEnding")<{ offset: number; what: "CR" | "LF" | "NUL" }> {}
export class MessageTooBig extends Data.TaggedError("MessageTooBig")<{ limit: number }> {}
export class MailLoop extends Data.TaggedError("MailLoop")<{ received: number }> {}

export type HeadersError = BareLineEnding | MessageTooBig | MailLoop
