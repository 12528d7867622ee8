/**
 * SMTP transparency (RFC 5321 §4.5.2) for the DATA stream, chunk by chunk.
 *
 * A "." at the start of a line is doubled, so that no line of the message can be
 * the lone "." that ends DATA; the receiver removes the extra dot again. The
 * state carries the last byte across chunk boundaries, because a chunk may end in
 * "\r", in "\r\n" or in the middle of a line.
 *
 * Defence in depth against SMTP smuggling: the input is CRLF-only (the inbound
 * side refuses bare CR and LF), but a dot after a bare CR or LF is doubled too.
 * A downstream that is lenient about line ends can then never see an early end
 * of data, whatever slipped through.
 */

const DOT = 0x2e
const CR = 0x0d
const LF = 0x0a

const END_AFTER_CRLF = Buffer.from(".\r\n", "latin1")
const END_WITH_CRLF = Buffer.from("\r\n.\r\n", "latin1")

export interface DotStuffer {
  /** Last byte passed through; LF before the first byte (the message starts a line). */
  last: number
  /** The bytes so far end with CRLF (or there are none). */
  endsWithCrlf: boolean
}

export const makeDotStuffer = (): DotStuffer => ({ last: LF, endsWithCrlf: true })

/**
 * Returns `chunk` stuffed. Zero-copy when the chunk has no dot at a line start,
 * which is the common case (base64 bodies have no dots at all).
 */
export const stuffChunk = (state: DotStuffer, chunk: Buffer): Buffer => {
  const length = chunk.length
  if (length === 0) return chunk
  let positions: Array<number> | undefined
  for (let p = chunk.indexOf(DOT); p !== -1; p = chunk.indexOf(DOT, p + 1)) {
    const before = p === 0 ? state.last : chunk[p - 1]
    if (before === LF || before === CR) (positions ??= []).push(p)
  }
  state.endsWithCrlf = length >= 2 ? chunk[length - 2] === CR && chunk[length - 1] === LF : state.last === CR && chunk[0] === LF
  state.last = chunk[length - 1]
  if (positions === undefined) return chunk
  const out = Buffer.allocUnsafe(length + positions.length)
  let from = 0
  let to = 0
  for (const p of positions) {
    to += chunk.copy(out, to, from, p)
    out[to++] = DOT
    from = p
  }
  chunk.copy(out, to, from, length)
  return out
}

/**
 * The bytes that end DATA: ".\r\n" after content that ended with CRLF (or none),
 * else "\r\n.\r\n" — the added CRLF completes the last line, as RFC 5321 requires
 * a message to end with one.
 */
export const endOfData = (state: DotStuffer): Buffer => (state.endsWithCrlf ? END_AFTER_CRLF : END_WITH_CRLF)
