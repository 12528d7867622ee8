import type { MimeNode } from "mailsplit"
// mailsplit's own header parser, so the decision reads the headers exactly as the Splitter will
import MimeNodeClass from "mailsplit/lib/mime-node.js"
import { Transform, type TransformCallback } from "node:stream"
import type { LineScreen } from "./LineGuard.js"

/** The most of a message held to read its root header block before deciding (named limit, invariant 3). */
export const HEADER_PEEK_LIMIT = 256 * 1024

const HEADER_END = Buffer.from("\r\n\r\n")
const CR = 0x0d
const LF = 0x0a

/** CRLFCRLF begins `k` bytes from the end of `tail` (its last bytes held) and ends in `chunk` */
const spansInto = (tail: ReadonlyArray<number>, k: number, chunk: Buffer): boolean => {
  if (chunk.length < HEADER_END.length - k) return false
  for (let i = 0; i < HEADER_END.length; i++) {
    const byte = i < k ? tail[tail.length - k + i] : chunk[i - k]
    if (byte !== HEADER_END[i]) return false
  }
  return true
}

/**
 * headerEnd's answer for a message that arrives in pieces, found by looking at each new piece and
 * the last 3 bytes before it only: a header block that trickles in costs its length, not its
 * length times its pieces (joining everything held at every piece to search it again cost
 * seconds of CPU per 256 KB block written a few bytes at a time).
 */
export class HeaderEndFinder {
  private seen = 0
  /** the last bytes seen (at most 3): a header end may span two pieces */
  private readonly tail: Array<number> = []

  /** the next piece: where the root header block ends (an offset in the whole message), or -1 while it has not */
  push(chunk: Buffer): number {
    const before = this.seen
    const tail = this.tail
    if (chunk.length === 0) return -1
    this.seen += chunk.length
    let end = -1
    // no header fields at all: the message's first two bytes are CRLF
    if (before === 0 ? chunk.length >= 2 && chunk[0] === CR && chunk[1] === LF : before === 1 && tail[0] === CR && chunk[0] === LF) end = 2
    // a CRLFCRLF that starts in the last bytes seen (the earliest first) and ends in this piece
    for (let k = tail.length; end === -1 && k >= 1; k--) if (spansInto(tail, k, chunk)) end = before - k + HEADER_END.length
    if (end === -1) {
      const within = chunk.indexOf(HEADER_END)
      if (within !== -1) end = before + within + HEADER_END.length
    }
    for (let i = Math.max(0, chunk.length - 3); i < chunk.length; i++) tail.push(chunk[i])
    if (tail.length > 3) tail.splice(0, tail.length - 3)
    return end
  }
}

/**
 * An edit of a message's first bytes as HeaderPeek lets them go (the whole root header block,
 * and what followed it in the same read; undefined for an empty message): RawHeaderEdit's.
 */
export type HeadEdit = (head: Buffer | undefined) => ReadonlyArray<Buffer>

/** The root header block, parsed; undefined when it did not end within HEADER_PEEK_LIMIT. */
export type PeekedHeaders = MimeNode | undefined

/**
 * Holds the start of a message until its root header block is complete, hands
 * the parsed headers to `onHeaders`, and releases the held bytes (and the rest)
 * only when `release` is called: the signature decision is taken from the
 * headers before any body byte moves, and the copies it asks for are set up
 * before the first byte reaches them (Transaction's `streaming` transition).
 */
export class HeaderPeek extends Transform {
  private held: Buffer[] = []
  private heldBytes = 0
  private readonly ending = new HeaderEndFinder()
  private decided = false
  private released = false
  /** the callback of the chunk that completed the headers, until `release` */
  private waiting: TransformCallback | undefined
  /** applied to the held bytes when they are let go (set before `release`) */
  private edit: HeadEdit | undefined

  /** what passed the screen from one written chunk (emptied as it is read) */
  private readonly screened: Buffer[] = []
  private readonly pass = (piece: Buffer) => {
    this.screened.push(piece)
  }

  constructor(
    private readonly onHeaders: (root: PeekedHeaders) => void,
    /**
     * LineGuard's checks, run here when this is the DATA stream's first stage (nothing
     * between the two: one stream fewer per message); undefined behind a LineGuard.
     */
    private readonly screen?: LineScreen
  ) {
    super()
  }

  /**
   * Makes this stage's output one unstamped copy's source as it stands: the held bytes (the
   * whole root header block, as one Buffer) go out through `edit` (RawHeaderEdit's), so the
   * one-copy case needs no Fanout and no copy stages. Called before `release`.
   */
  editHead(edit: HeadEdit): void {
    this.edit = edit
  }

  /** lets the held bytes go, now or as soon as the headers are read */
  release(): void {
    if (this.released) return
    this.released = true
    const done = this.waiting
    this.waiting = undefined
    // in a microtask, as the promise this replaced did: the caller finishes setting up the copies first
    if (done !== undefined) queueMicrotask(() => this.flushHeld(done))
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.screen === undefined) return this.peek(chunk, done)
    const refused = this.screen.take(chunk, this.pass)
    const pieces = this.screened
    if (refused !== undefined || pieces.length === 0) {
      pieces.length = 0
      return done(refused)
    }
    if (pieces.length === 1 || !this.decided) {
      // a CR held from the last chunk and this chunk's body, as one piece while the head is held
      const piece = pieces.length === 1 ? pieces[0] : Buffer.concat(pieces)
      pieces.length = 0
      return this.peek(piece, done)
    }
    for (const piece of pieces) this.push(piece)
    pieces.length = 0
    done()
  }

  private peek(chunk: Buffer, done: TransformCallback): void {
    if (this.decided) return done(null, chunk)
    const end = this.ending.push(chunk)
    this.held.push(chunk)
    this.heldBytes += chunk.length
    // a header block over the limit is not parsed, whether or not its end is in sight
    if (end !== -1 && end <= HEADER_PEEK_LIMIT) return this.decide(parse(this.joinHeld().subarray(0, end)), done)
    if (end !== -1 || this.heldBytes > HEADER_PEEK_LIMIT) {
      this.joinHeld()
      return this.decide(undefined, done)
    }
    done()
  }

  /** everything held, as the one Buffer the decision and `flushHeld` read */
  private joinHeld(): Buffer {
    const head = this.held.length === 1 ? this.held[0] : Buffer.concat(this.held, this.heldBytes)
    this.held = [head]
    return head
  }

  override _flush(done: TransformCallback): void {
    const refused = this.screen?.end()
    if (refused !== undefined) return done(refused)
    if (this.decided) return done()
    // a message that is all header (or empty)
    if (this.heldBytes === 0) return this.decide(undefined, done)
    const head = this.joinHeld()
    this.decide(head.length <= HEADER_PEEK_LIMIT ? parse(head) : undefined, done)
  }

  private decide(root: PeekedHeaders, done: TransformCallback): void {
    this.decided = true
    this.onHeaders(root)
    if (this.released) queueMicrotask(() => this.flushHeld(done))
    else this.waiting = done
  }

  private flushHeld(done: TransformCallback): void {
    // `held` is one Buffer (the head so far), or none for an empty message
    if (this.edit !== undefined) for (const b of this.edit(this.held[0])) this.push(b)
    else for (const b of this.held) this.push(b)
    this.held = []
    done()
  }
}

/** Where the root header block ends (after its blank line), or -1 while it has not ended. */
export const headerEnd = (head: Buffer): number => {
  if (head.length >= 2 && head[0] === 0x0d && head[1] === 0x0a) return 2 // no header fields at all
  const i = head.indexOf(HEADER_END)
  return i === -1 ? -1 : i + HEADER_END.length
}

const parse = (block: Buffer): MimeNode => {
  const node = new MimeNodeClass(false, {}) as unknown as MimeNode & { addHeaderChunk(b: Buffer): void; parseHeaders(): void }
  node.addHeaderChunk(block)
  node.parseHeaders()
  return node
}
