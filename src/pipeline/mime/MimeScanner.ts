/*
 * The state machine below is ported from mailsplit's lib/message-splitter.js (5.4.6),
 * used under its MIT licence (mailsplit is dual-licensed MIT OR EUPL-1.1+):
 *
 * Copyright (c) 2011-2019, 2024 Andris Reinman and Zone Media OÜ
 *
 * Permission is hereby granted, free of charge, to any person obtaining a copy
 * of this software and associated documentation files (the "Software"), to deal
 * in the Software without restriction, including without limitation the rights
 * to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
 * copies of the Software, and to permit persons to whom the Software is
 * furnished to do so, subject to the following conditions:
 *
 * The above copyright notice and this permission notice shall be included in all
 * copies or substantial portions of the Software.
 *
 * THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 * IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 * FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 * AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 * LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 * OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
 * SOFTWARE.
 */
import type { BodyChunk, DataChunk, MimeNode, SplitterChunk } from "mailsplit"
import MimeNodeClass from "mailsplit/lib/mime-node.js"

/**
 * The stamped copy's MIME scanner: mailsplit's Splitter (5.4.6 with Imprint's patches
 * `mailsplit-sync-lines`, `mailsplit-body-runs`, `mailsplit-header-only-part`,
 * `mailsplit-empty-line-body`, `mailsplit-header-only-close`, see patches/README.md) as a
 * plain synchronous object instead of an object-mode stream.
 *
 * Same state machine, same events, same bytes: the boundary check, the header block
 * (HEAD) and body (BODY) states, the tree of open multiparts, the embedded-message rule,
 * where a child part's body ends (before the line break that precedes the next
 * boundary), its limits (MAX_PART_HEADER_BYTES, MAX_SPLIT_NODES: `maxHeadSize`,
 * `maxChildNodes`) and its errors (EMAXLEN). Nodes are mailsplit's MimeNode, so the
 * Stamper, StampedPart and PartChooser take them as they are; body and data chunks are
 * slices of the written chunk (a line is only copied when it spans two chunks, and then once
 * however many chunks it spans: HeldLine).
 * `spec/pipeline/mime/MimeScanner.test.ts` compares its events with the Splitter's over
 * the corpus and random chunkings, and checks that they do not depend on the chunking (what a
 * part's body is, which bytes go on).
 *
 * One addition (`onStrayDelimiter`): a line that readers take as a delimiter and the splitter
 * does not is reported, in order with the events (the body run before it goes on first, so a run
 * may end there; the bytes are the same).
 *
 * What goes: the stream (a Transform with its buffers and object-mode pushes per event),
 * the `setImmediate` per written chunk, and the callback per line. Events go to `emit`
 * while `write` runs. As with the Splitter, put the SplitterGuard's rule (ChunkGuard)
 * in front: a chunk must not end between CR and LF.
 */

/** what mailsplit's MimeNode has beyond its typings, used by the Splitter's state machine */
interface Node extends MimeNode {
  _boundary: Buffer | false
  _parentBoundary: Buffer | false
  _headerlen: number
  headers: MimeNode["headers"]
  addHeaderChunk(line: Buffer): void
  parseHeaders(): void
}

interface Config {
  readonly maxHeadSize?: number
  readonly maxChildNodes?: number
  readonly ignoreEmbedded?: boolean
  readonly defaultInlineEmbedded?: boolean
  /**
   * Called, in order with the events, before a line that mail readers take as a delimiter and this
   * scanner (as mailsplit) does not: see `strayDelimiter`. `node` is the node the line goes to.
   */
  readonly onStrayDelimiter?: (node: MimeNode) => void
}

const MAX_HEAD_SIZE = 1024 * 1024
const MAX_CHILD_NODES = 1000

const HEAD = 1
const BODY = 2

type Group = { type: "none" } | ((DataChunk | BodyChunk) & { node: Node })
type LineData = MimeNode | ((DataChunk | BodyChunk) & { node: Node })

const EMPTY = Buffer.alloc(0)

const emaxlen = (message: string): Error => Object.assign(new Error(message), { code: "EMAXLEN" })

export class MimeScanner {
  private readonly maxHeadSize: number
  private readonly maxChildNodes: number
  private readonly tree: Array<Node> = []
  private nodeCounter = 0
  private node!: Node
  private state = HEAD
  /** the start of a line that the previous chunks did not finish (see HeldLine) */
  private readonly line = new HeldLine()
  private failed = false
  /** the node of the line just processed, when that line is a stray delimiter (`strayDelimiter`) */
  private stray: Node | undefined

  constructor(
    private readonly emit: (chunk: SplitterChunk) => void,
    private readonly config: Config = {}
  ) {
    this.maxHeadSize = config.maxHeadSize || MAX_HEAD_SIZE
    this.maxChildNodes = config.maxChildNodes || MAX_CHILD_NODES
    this.newNode(false)
    this.tree.push(this.node)
  }

  /** scans one chunk; events go to `emit` before it returns. Throws EMAXLEN errors (then scan no further). */
  write(chunk: Buffer): void {
    try {
      this.scan(chunk)
    } catch (e) {
      this.failed = true
      throw e
    }
  }

  /** the end of the message: the last, unterminated line and the last node */
  end(): void {
    if (this.failed) return
    const data = this.processLine(false, true)
    this.reportStray()
    if (data !== undefined && (data.type === "node" || (data.value && data.value.length))) this.emit(data)
  }

  /** mailsplit's `_transform` (patched), one pass over the chunk, no turn in between */
  private scan(chunk: Buffer): void {
    const emit = this.emit
    let pos = 0
    let i = 0
    let group: Group = { type: "none" }
    let groupstart = this.line.length > 0 ? -this.line.length : 0
    let groupend = 0

    const checkTrailingLinebreak = (data: LineData): void => {
      if (data.type === "body" && data.node.parentNode && data.value && data.value.length) {
        if (data.value[data.value.length - 1] === 0x0a) {
          groupstart--
          groupend--
          pos--
          if (data.value.length > 1 && data.value[data.value.length - 2] === 0x0d) {
            groupstart--
            groupend--
            pos--
            // store only <CR> as <LF> should be on the positive side
            if (groupstart < 0 && this.line.length === 0) this.line.add(Buffer.from([0x0d]))
            data.value = data.value.subarray(0, data.value.length - 2)
          } else {
            data.value = data.value.subarray(0, data.value.length - 1)
          }
        } else if (data.value[data.value.length - 1] === 0x0d) {
          groupstart--
          groupend--
          pos--
          data.value = data.value.subarray(0, data.value.length - 1)
        }
      }
    }

    for (const len = chunk.length; i < len; i++) {
      i = chunk.indexOf(0x0a, i)
      if (i === -1) {
        i = len
        break
      }
      const start = Math.max(pos, 0)
      pos = ++i
      // a body line that cannot start a boundary only extends the body run (patch mailsplit-body-runs)
      if (
        group.type === "body" &&
        group.node === this.node &&
        this.state === BODY &&
        this.line.length === 0 &&
        chunk[start] !== 0x2d &&
        chunk[start] !== 0x0d &&
        chunk[start] !== 0x0a
      ) {
        groupend = i
        i--
        continue
      }

      const result = this.processLine(chunk.subarray(start, i), false)
      i-- // the loop's i++ brings it back to the line after the one just processed
      if (this.stray !== undefined) {
        // the lines before it go on first, so the report comes at the same byte however the message was cut
        if (group.type !== "none") {
          if (groupstart !== groupend) {
            group.value = chunk.subarray(groupstart, groupend)
            emit(group)
          }
          group = { type: "none" }
          groupstart = groupend
        }
        this.reportStray()
      }
      if (result === undefined) {
        // a header line: the next data run starts after it (patch mailsplit-header-only-close)
        if (group.type === "none") groupend = i + 1
        continue
      }
      const data = result
      const flush = this.flushed
      const at = i + 1

      if (flush) {
        if (group.type !== "none") {
          if (group.type === "body" && groupend >= groupstart && group.node.parentNode) {
            // do not include the last line ending for body
            if (chunk[groupend - 1] === 0x0a) {
              groupend--
              if (groupend >= groupstart && chunk[groupend - 1] === 0x0d) groupend--
            }
          }
          if (groupstart !== groupend) {
            group.value = chunk.subarray(groupstart, groupend)
            if (groupend < at) (data as DataChunk).value = chunk.subarray(groupend, at)
          }
          emit(group)
          group = { type: "none" }
          groupstart = groupend = at
        }
        emit(data)
        groupend = at
        continue
      }

      if (data.type === group.type) {
        // shift slice end position forward
        groupend = at
      } else {
        if (group.type === "body" && groupend >= groupstart && group.node.parentNode) {
          // do not include the last line ending for body
          if (chunk[groupend - 1] === 0x0a) {
            groupend--
            if (groupend >= groupstart && chunk[groupend - 1] === 0x0d) groupend--
          }
        }
        if (group.type !== "none") {
          // a previous data/body chunk to hand on
          if (groupstart !== groupend) {
            group.value = chunk.subarray(groupstart, groupend)
            if (group.value && group.value.length) {
              emit(group)
              group = { type: "none" }
            }
          }
        }
        if (data.type === "node") {
          emit(data)
          groupstart = at
          groupend = at
        } else if (groupstart < 0) {
          groupstart = at
          groupend = at
          checkTrailingLinebreak(data)
          if (data.value && data.value.length) emit(data)
        } else {
          // start a new body/data chunk
          group = data
          groupstart = groupend
          groupend = at
        }
      }
    }

    // skip the last line break for body
    if (pos >= groupstart + 1 && group.type === "body" && group.node.parentNode) {
      const end = pos
      if (chunk[pos - 1] === 0x0a) {
        pos--
        if (pos >= groupstart && chunk[pos - 1] === 0x0d) pos--
      }
      // the run was one empty line, now held at the start of `line` (patch mailsplit-empty-line-body)
      if (pos === groupstart && pos < end) this.heldBreak = { node: group.node, length: end - pos }
    }
    if (group.type !== "none" && pos > groupstart) {
      // a leftover data/body chunk to hand on
      group.value = chunk.subarray(groupstart, pos)
      if (group.value && group.value.length) emit(group)
    }
    if (pos < chunk.length) this.line.add(chunk.subarray(pos))
  }

  /** whether the last processLine's data ends a group (mailsplit's `flush` argument) */
  private flushed = false

  /**
   * A body run that was one empty line when its chunk ended: its line break waits at the start of
   * `line` (as every run's last line break does), with its part. See `processLine`.
   */
  private heldBreak: { readonly node: Node; readonly length: number } | undefined

  /** mailsplit's `processLine`: the data for one line, or undefined for a header line still being collected */
  private processLine(input: Buffer | false, final: boolean): LineData | undefined {
    this.flushed = false
    let line = this.line.take(input || EMPTY)

    if (this.nodeCounter > this.maxChildNodes) throw emaxlen("Max allowed child nodes exceeded")

    const held = this.heldBreak
    this.heldBreak = undefined

    // the boundary is checked outside the HEAD/BODY scope as it may appear anywhere
    const boundary = this.checkBoundary(line)
    if (boundary) {
      // a part whose body is one empty line before a next part's boundary: in one chunk that line
      // is the part's body and the boundary line goes on without it; the same when a chunk ended
      // between them (patch mailsplit-empty-line-body)
      if (held !== undefined && !final && (boundary === 1 || boundary === 3)) {
        this.emit({ node: held.node, type: "body", value: line.subarray(0, held.length) } as BodyChunk & { node: Node })
        line = line.subarray(held.length)
      }
      switch (boundary) {
        case 1:
          // next child
          this.newNode(this.node)
          this.flushed = true
          break
        case 2:
          // end of the children, keep the current node
          break
        case 3: {
          // next sibling (patch mailsplit-header-only-part: a header-only part is handed on)
          if (this.node && this.node._headerlen && !this.node.headers) {
            this.node.parseHeaders()
            this.emit(this.node)
          }
          let parentNode = this.node.parentNode as Node | false
          // the immediate parent is an inline message block: one more step up
          if (parentNode && parentNode.contentType === "message/rfc822") parentNode = parentNode.parentNode as Node | false
          this.newNode(parentNode)
          this.flushed = true
          break
        }
        case 4:
          // a boundary closing a node with only a header
          if (this.node && this.node._headerlen && !this.node.headers) {
            this.node.parseHeaders()
            this.emit(this.node)
          }
          // move up
          if (this.tree.length) this.node = this.tree.pop()!
          this.state = BODY
          break
      }
      return { node: this.node, type: "data", value: line } as DataChunk & { node: Node }
    }

    if (this.state === HEAD) {
      this.node.addHeaderChunk(line)
      if (this.node._headerlen > this.maxHeadSize) throw emaxlen("Max header size for a MIME node exceeded")
      if (final || (line.length === 1 && line[0] === 0x0a) || (line.length === 2 && line[0] === 0x0d && line[1] === 0x0a)) {
        const currentNode = this.node
        currentNode.parseHeaders()
        // an attached message: its content is split as a message of its own
        if (
          currentNode.contentType === "message/rfc822" &&
          !this.config.ignoreEmbedded &&
          (!currentNode.encoding || ["7bit", "8bit", "binary"].includes(currentNode.encoding)) &&
          (this.config.defaultInlineEmbedded ? currentNode.disposition !== "attachment" : currentNode.disposition === "inline")
        ) {
          currentNode.messageNode = true
          this.newNode(currentNode)
          if (currentNode.parentNode) this.node._parentBoundary = (currentNode.parentNode as Node)._boundary
        } else {
          if (currentNode.contentType === "message/rfc822") currentNode.messageNode = false
          this.state = BODY
          if (currentNode.multipart && currentNode._boundary) this.tree.push(currentNode)
        }
        return currentNode
      }
      return undefined
    }
    return { node: this.node, type: this.node.multipart ? "data" : "body", value: line } as (DataChunk | BodyChunk) & { node: Node }
  }

  private reportStray(): void {
    const node = this.stray
    this.stray = undefined
    if (node !== undefined) this.config.onStrayDelimiter?.(node)
  }

  /**
   * RFC 2046 5.1.1 as mail readers apply it: a delimiter line is "--" and the boundary of any
   * enclosing multipart (a reader ends an unclosed inner multipart at an outer delimiter), then
   * "--" for the close, then optional transport padding (spaces, tabs). The splitter takes only its
   * current multipart's boundary or its parent's, unpadded; a line it let pass that a reader takes as
   * a delimiter means its parts are no longer the reader's from there on.
   */
  private strayDelimiter(line: Buffer, startpos: number): boolean {
    for (let p: Node | false = this.node; p; p = p.parentNode as Node | false) {
      if (p._boundary && readerDelimiter(line, startpos, p._boundary)) return true
      if (p._parentBoundary && readerDelimiter(line, startpos, p._parentBoundary)) return true
    }
    return false
  }

  private compareBoundary(line: Buffer, startpos: number, boundary: Buffer): false | 1 | 2 {
    // --{boundary}\r\n or --{boundary}--\r\n
    if (line.length < boundary.length + 3 + startpos || line.length > boundary.length + 6 + startpos) return false
    for (let i = 0; i < boundary.length; i++) {
      if (line[i + 2 + startpos] !== boundary[i]) return false
    }
    let pos = 0
    for (let i = boundary.length + 2 + startpos; i < line.length; i++) {
      const c = line[i]
      // 1: next node
      if (pos === 0 && (c === 0x0d || c === 0x0a)) return 1
      if (pos === 0 && c !== 0x2d) return false
      if (pos === 1 && c !== 0x2d) return false
      if (pos === 2 && c !== 0x0d && c !== 0x0a) return false
      if (pos === 3 && c !== 0x0a) return false
      pos++
    }
    // 2: multipart end
    return 2
  }

  private checkBoundary(line: Buffer): false | 1 | 2 | 3 | 4 {
    let startpos = 0
    if (line.length >= 1 && (line[0] === 0x0d || line[0] === 0x0a)) {
      startpos++
      // (sic: mailsplit's test, kept so the scanner splits exactly as it does)
      if (line.length >= 2 && (line[0] === 0x0d || line[1] === 0x0a)) startpos++
    }
    // definitely not a boundary
    if (line.length < 4 || line[startpos] !== 0x2d || line[startpos + 1] !== 0x2d) return false
    let boundary: false | 1 | 2
    if (this.node._boundary && (boundary = this.compareBoundary(line, startpos, this.node._boundary))) return boundary
    if (this.node._parentBoundary && (boundary = this.compareBoundary(line, startpos, this.node._parentBoundary))) {
      // 3: next sibling, 4: parent end
      return (boundary + 2) as 3 | 4
    }
    if (this.config.onStrayDelimiter !== undefined && this.strayDelimiter(line, startpos)) this.stray = this.node
    return false
  }

  private newNode(parent: Node | false): void {
    this.node = new MimeNodeClass(parent || false, this.config) as Node
    this.state = HEAD
    this.nodeCounter++
  }
}

/** "--" boundary ["--"] [spaces and tabs] line break (or the message's end), from `startpos` */
const readerDelimiter = (line: Buffer, startpos: number, boundary: Buffer): boolean => {
  let at = startpos + 2
  if (line.length < at + boundary.length) return false
  for (let i = 0; i < boundary.length; i++) if (line[at + i] !== boundary[i]) return false
  at += boundary.length
  if (line[at] === 0x2d && line[at + 1] === 0x2d) at += 2
  while (line[at] === 0x20 || line[at] === 0x09) at++
  if (line[at] === 0x0d) at++
  if (line[at] === 0x0a) at++
  return at === line.length
}

/** a held line that has taken this many pieces is copied into a buffer of its own that grows by doubling */
const LOOSE_PIECES = 8

/**
 * The start of a line that the chunks so far did not finish. mailsplit joined it with each new
 * chunk (Buffer.concat), so a line arriving in many small pieces copied everything held at every
 * piece: CPU grew with the square of the line's length (up to MAX_STAMPED_LINE_BYTES, 1 MiB), and a
 * session writing DATA a few bytes at a time could keep a core busy. Here the line is joined once,
 * when it ends: its first pieces are kept as they came (the usual case, a line cut by one chunk's
 * end, is one join of two slices, as before); past LOOSE_PIECES they go into a buffer that doubles
 * when full, so each byte is copied a bounded number of times and a line of a million 1-byte pieces
 * holds one buffer, not a million slices of the reads they came from.
 */
class HeldLine {
  /** the pieces as they came, while there are at most LOOSE_PIECES */
  private readonly pieces: Array<Buffer> = []
  /** past LOOSE_PIECES: the bytes so far at the start of a buffer with room for more */
  private store: Buffer | undefined
  /** bytes held */
  length = 0

  add(piece: Buffer): void {
    const at = this.length
    this.length += piece.length
    if (this.store === undefined) {
      if (this.pieces.length < LOOSE_PIECES) {
        this.pieces.push(piece)
        return
      }
      this.pieces.push(piece)
      this.store = Buffer.concat(this.pieces, 2 * this.length)
      this.pieces.length = 0
      return
    }
    if (this.length > this.store.length) {
      const grown = Buffer.allocUnsafe(2 * this.length)
      this.store.copy(grown, 0, 0, at)
      this.store = grown
    }
    piece.copy(this.store, at)
  }

  /** the held bytes and `rest` (the line's end) as one Buffer; nothing is held after */
  take(rest: Buffer): Buffer {
    const store = this.store
    const length = this.length
    this.store = undefined
    this.length = 0
    if (store !== undefined) {
      if (rest.length === 0) return store.subarray(0, length)
      if (length + rest.length <= store.length) {
        rest.copy(store, length)
        return store.subarray(0, length + rest.length)
      }
      return Buffer.concat([store.subarray(0, length), rest])
    }
    const pieces = this.pieces
    if (pieces.length === 0) return rest
    let line: Buffer
    if (rest.length === 0) line = pieces.length === 1 ? pieces[0] : Buffer.concat(pieces, length)
    else {
      pieces.push(rest)
      line = Buffer.concat(pieces, length + rest.length)
    }
    pieces.length = 0
    return line
  }
}
