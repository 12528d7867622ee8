import { Data, Match } from "effect"
import {
  DataSourceError,
  DownstreamProtocolError,
  DownstreamTimeout,
  DownstreamTlsError,
  type DownstreamError,
  DownstreamUnavailable
} from "./downstream/DownstreamError.js"
import type { SmtpReply as DownstreamReply } from "./downstream/SmtpReply.js"
import { BareLineEnding, type HeadersError, MailLoop, MessageTooBig } from "./headers/HeadersError.js"
import {
  DataTooSlow,
  type InboundError,
  NoDownstream,
  NotBound,
  SenderNotAllowed,
  SharedNullSender,
  ShuttingDown,
  TenantNotProven,
  TenantProofDeferred,
  TooManyConnections
} from "./inbound/InboundError.js"

export { DataSourceError, DownstreamProtocolError, DownstreamTimeout, DownstreamTlsError, DownstreamUnavailable }
export type { DownstreamError, HeadersError, InboundError }
export { BareLineEnding, MailLoop, MessageTooBig }
export { DataTooSlow, NoDownstream, NotBound, SenderNotAllowed, SharedNullSender, ShuttingDown, TenantNotProven, TenantProofDeferred, TooManyConnections }

/**
 * Every way a relay transaction can fail, each with its SMTP class, composed
 * above the stretches of the wire: each stage owns its errors
 * (inbound/InboundError, headers/HeadersError, downstream/DownstreamError) and
 * never imports this file; the transaction's own failures are below. They
 * become SMTP replies in exactly one place: `toReply`.
 */

export type SmtpReply = Pick<DownstreamReply, "code" | "enhanced" | "text">

/** A reply of the downstream that is not 2xx, passed back upstream as it came. */
export class DownstreamRefused extends Data.TaggedError("DownstreamRefused")<{ reply: SmtpReply; phase: "mail" | "rcpt" | "data" }> {}
export class UpstreamGone extends Data.TaggedError("UpstreamGone")<{ detail: string }> {}
export class PipelineFailed extends Data.TaggedError("PipelineFailed")<{ detail: string }> {}
/** Stamping broke off mid-stream (invariant 5): 451 now, and the retry passes unstamped. */
export class StampingFailed extends Data.TaggedError("StampingFailed")<{ detail: string }> {}

export type RelayError = InboundError | HeadersError | DownstreamError | DataSourceError | DownstreamRefused | UpstreamGone | PipelineFailed | StampingFailed

const reply = (code: number, enhanced: string, text: string): SmtpReply => ({ code, enhanced, text })

export const toReply = (e: RelayError): SmtpReply =>
  Match.valueTags(e, {
    DownstreamRefused: ({ reply: r }) => ({
      code: r.code,
      enhanced: r.enhanced ?? `${Math.floor(r.code / 100)}.0.0`,
      text: r.text
    }),
    DownstreamUnavailable: () => reply(451, "4.4.1", "downstream unavailable, try again later"),
    DownstreamTimeout: ({ phase }) => reply(451, "4.4.2", `downstream timed out (${phase}), try again later`),
    DownstreamTlsError: () => reply(451, "4.7.5", "downstream TLS could not be established, try again later"),
    DownstreamProtocolError: () => reply(451, "4.4.0", "downstream protocol error, try again later"),
    DataSourceError: () => reply(451, "4.4.2", "message stream broke off, try again"),
    NoDownstream: () => reply(451, "4.3.5", "no downstream configured for this tenant, try again later"),
    NotBound: () => reply(530, "5.7.0", "authentication required: this connection is not bound to a tenant"),
    SenderNotAllowed: () => reply(550, "5.7.1", "sender address is not in a domain of this tenant"),
    BareLineEnding: ({ what }) => reply(554, "5.6.11", `bare ${what} in message data refused (RFC 5321 2.3.8)`),
    MessageTooBig: ({ limit }) => reply(552, "5.3.4", `message exceeds the size limit of ${limit} bytes`),
    MailLoop: ({ received }) => reply(554, "5.4.6", `mail loop: ${received} Received headers`),
    UpstreamGone: () => reply(451, "4.4.2", "connection lost during the transaction"),
    PipelineFailed: () => reply(451, "4.3.0", "message could not be processed, try again later"),
    StampingFailed: () => reply(451, "4.3.0", "signature could not be added; the retry will be relayed without it"),
    ShuttingDown: () => reply(421, "4.3.2", "shutting down, try again later"),
    SharedNullSender: () => reply(550, "5.7.1", "this connection is shared by several tenants: the null sender cannot select one"),
    TenantNotProven: ({ detail }) => reply(550, "5.7.1", `not proven to come from this tenant's Microsoft 365 organisation: ${detail}`),
    TenantProofDeferred: ({ detail }) => reply(451, "4.7.5", `DKIM key lookup failed (${detail}), try again later`),
    TooManyConnections: ({ reason }) =>
      reply(
        421,
        "4.7.0",
        reason === "clients"
          ? "too many connections, try again later"
          : reason === "unbound-share"
            ? "too many unauthenticated connections, try again later"
            : reason === "address-connections"
              ? "too many connections from your address, try again later"
              : "too many new connections from your address, try again later"
      ),
    DataTooSlow: ({ reason, limitMs, minRate }) =>
      reply(
        421,
        "4.4.2",
        reason === "deadline"
          ? `message data not received within ${Math.round(limitMs / 1000)} s, closing connection`
          : `message data arriving slower than ${minRate} bytes/s, closing connection`
      )
  })

/** A reply that ends the upstream session (421): sent by Inbound itself, since smtp-server replies to DATA only after the dot. */
export const closesSession = (e: Error & { responseCode?: number }): e is Error & { responseCode: number; enhancedStatusCode?: string } =>
  e.responseCode === 421

/** The Error shape smtp-server turns into a reply (patched to honour enhancedStatusCode, see patches/). */
export const toSmtpServerError = (e: RelayError): Error & { responseCode: number; enhancedStatusCode?: string } => {
  const r = toReply(e)
  return Object.assign(new Error(r.text), { responseCode: r.code, enhancedStatusCode: r.enhanced })
}
