/**
 * How talking to the downstream MTA can fail. Replies the downstream gives to
 * MAIL, RCPT and DATA are not errors (they are mirrored upstream as values);
 * these are the cases where there is no usable reply at all.
 */
import { Data } from "effect"
import type { SmtpReply } from "./SmtpReply.js"

/** Connection refused, reset, or closed while a reply was awaited. Temporary (4.4.1). */
export class DownstreamUnavailable extends Data.TaggedError("DownstreamUnavailable")<{
  readonly host: string
  readonly port: number
  readonly cause: unknown
}> {}

/** No answer in time. Temporary (4.4.2); the connection is dropped since its state is unknown. */
export class DownstreamTimeout extends Data.TaggedError("DownstreamTimeout")<{
  readonly phase: "connect" | "greeting" | "command" | "data"
}> {}

/**
 * TLS could not be established: STARTTLS not offered or refused while required,
 * or the handshake failed (e.g. an untrusted certificate with rejectUnauthorized).
 */
export class DownstreamTlsError extends Data.TaggedError("DownstreamTlsError")<{
  readonly reason: string
  readonly cause?: unknown
}> {}

/** The downstream said something unusable: garbage, a refused greeting, EHLO or AUTH failure. */
export class DownstreamProtocolError extends Data.TaggedError("DownstreamProtocolError")<{
  readonly reply?: SmtpReply
  readonly detail: string
}> {}

/**
 * The message source failed (or ended prematurely) during DATA. The downstream
 * transaction was aborted before its terminating dot; the fault is upstream.
 */
export class DataSourceError extends Data.TaggedError("DataSourceError")<{
  readonly cause: unknown
}> {}

export type DownstreamError = DownstreamUnavailable | DownstreamTimeout | DownstreamTlsError | DownstreamProtocolError
