import type { SMTPServerSession } from "smtp-server"

/** Only characters that cannot break a header or a reply survive from client-given names. */
const safe = (s: string): string => s.replace(/[^A-Za-z0-9.\-:[\]_]/g, "").slice(0, 255) || "unknown"

const pad = (n: number) => String(n).padStart(2, "0")
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

/** RFC 5322 date-time in UTC ("Thu, 26 Nov 2026 23:40:00 +0000"). */
export const rfc5322Date = (d: Date): string =>
  `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
  `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`

/**
 * The Received trace header value (RFC 5321 4.4, protocol names from RFC 3848).
 * The client's address is recorded as an address literal: Imprint does no
 * reverse DNS lookups.
 */
export const receivedLine = (opts: { session: SMTPServerSession; serverName: string; recipients: ReadonlyArray<string>; now: Date }): string => {
  const { session } = opts
  // smtp-server computes "ESMTPSA" and friends from EHLO, TLS and AUTH
  const proto = safe(session.transmissionType || "ESMTP")
  const helo = safe(session.hostNameAppearsAs || "unknown")
  const forClause = opts.recipients.length === 1 && /^[^\s<>;]+$/.test(opts.recipients[0]) ? ` for <${opts.recipients[0]}>` : ""
  return `from ${helo} ([${safe(session.remoteAddress)}]) by ${safe(opts.serverName)} (Imprint) with ${proto} id ${safe(session.id)}${forClause}; ${rfc5322Date(opts.now)}`
}
