import type { MimeNode, SplitterChunk } from "mailsplit"
import { Transform, type TransformCallback } from "node:stream"
import { alternativeOf, bodyKind, classifyNested, classifyRoot, isCrypto } from "./PartChooser.js"
import { embeddedImages, relatedFrame } from "./RelatedImages.js"
import { StampedPart } from "./StampedPart.js"
import { LateSkipError, type PartOutcome, type SkipReason, type StampOutcome, type StampPlan } from "./StampPlan.js"

/**
 * The most the stamper holds for one message at any moment (invariant 3):
 * raw bytes kept while undecided, plus a body reader's look-back window
 * (decoded characters) while they are replayed or while a part streams live,
 * plus, at the commit of a small chosen part, the text its dry run emitted
 * (StampedPart's RECORD_BYTES bounds that part's raw bytes and text together).
 * `highWater` is measured against it.
 */
export const STAMP_WINDOW_BYTES = 64 * 1024
/**
 * While undecided, the message start is held (raw bytes only) up to this much
 * before committing. Room is left in the window for a reader's look-back
 * while the held bytes are replayed.
 */
export const HOLD_BYTES = 36 * 1024
/** body chunks are fed through in slices of at most this many bytes, so one big chunk cannot blow the window */
export const SLICE_BYTES = 4 * 1024

/**
 * A message with more MIME parts than this, or parts nested deeper, is not
 * stamped (reason "too-complex"). Found while the start of the message is still
 * held, the message passes unstamped on its first try, byte for byte; found
 * after a stamped part has left, it is only recorded (lateSkip) and the message
 * goes on as it is. Real mail has a few dozen parts and a nesting depth below
 * ten (each forwarded message adds two or three levels).
 */
export const MAX_STAMPED_PARTS = 500
export const MAX_STAMPED_DEPTH = 32

type Mode = "holding" | "live" | "passing"

/**
 * Object-mode transform between mailsplit's Splitter and Joiner that stamps
 * one downstream copy with a ready `StampPlan`.
 *
 * The start of a message (and of each chosen body part) is held as raw bytes,
 * bounded by `HOLD_BYTES`, before anything is released: within that window a
 * reason to pass the message unstamped that appears after the body (a
 * calendar or TNEF part after the HTML body, inline PGP, an existing
 * signature) still leaves every part byte-identical. A reason found after a
 * part already left stamped is reported as `lateSkip`; when that reason is
 * signed or encrypted content (a nested multipart/signed after a long body,
 * inline PGP armour deep in the text), the stamper fails instead
 * (`LateSkipError`): the relay answers 451 and remembers the message, so its
 * retry passes unstamped — a broken signature is never delivered.
 *
 * The body is the message's first text part, plus the other form of it when
 * both sit under the same multipart/alternative; any later text part (an
 * inline note after the body in multipart/mixed) is not the body.
 */
export class Stamper extends Transform {
  private mode: Mode = "holding"
  private queue: Array<SplitterChunk | StampedPart> = []
  private queueBytes = 0
  private current: StampedPart | undefined
  private readonly parts: Array<StampedPart> = []
  private seen = { html: false, text: false }
  private skipped: SkipReason | undefined
  private lateSkip: SkipReason | undefined
  private highWater_ = 0
  private readonly holdBytes: number
  private nodes = 0
  /** a stray delimiter was met (`strayDelimiter`): the splitter's parts are not the reader's, no part is chosen from here on */
  private diverged = false
  private readonly depths = new WeakMap<MimeNode, number>()
  /** where released chunks go: the stream side, unless `drive` redirected them */
  private out: (chunk: SplitterChunk) => void = (chunk) => void this.push(chunk)

  constructor(
    private readonly plan: StampPlan,
    options?: { readonly holdBytes?: number }
  ) {
    super({ objectMode: true })
    this.holdBytes = options?.holdBytes ?? HOLD_BYTES
  }

  /** the most this stamper has held at once (raw + decoded), for the streaming spec */
  get highWater(): number {
    return this.highWater_
  }

  readonly outcome = (): StampOutcome => {
    const parts: Array<PartOutcome> = this.parts.map((p) => p.outcome())
    const stamped = this.parts.filter((p) => p.stamped).map((p) => p.kind)
    const partReason = parts.find((p) => p.result !== "stamped")?.result
    const skipped: SkipReason | undefined =
      stamped.length > 0
        ? undefined
        : (this.skipped ??
          (partReason === "already-signed" || partReason === "pgp-inline" || partReason === "undecodable" || partReason === "malformed"
            ? partReason
            : "no-body"))
    return {
      stamped,
      parts,
      ...(skipped !== undefined ? { skipped } : {}),
      ...(this.lateSkip !== undefined ? { lateSkip: this.lateSkip } : {})
    }
  }

  /**
   * Drives this stamper without its stream side (pipeline/StampedCopy.ts, the relay's stamped
   * copy): `feed` each chunk, then `finish`; what it releases goes to `out`, synchronously.
   * Both throw what the Transform would have reported as its error.
   */
  drive(out: (chunk: SplitterChunk) => void): this {
    this.out = out
    return this
  }

  feed(chunk: SplitterChunk): void {
    this.accept(chunk)
  }

  finish(): void {
    this.endCurrent()
    if (this.mode === "holding") this.commit(false)
  }

  /**
   * The scanner met a line that mail readers take as a delimiter of an enclosing multipart and the
   * splitter did not (MimeScanner's `onStrayDelimiter`: transport padding, or an outer boundary
   * below an unclosed multipart); `node` is the node the line went to. Up to that line the
   * splitter's parts are the reader's, after it they are not (invariant 5: malformed structure):
   * no part is chosen from here on, so what follows leaves as it came; a chosen part holding the
   * line leaves raw, and one that already left re-encoded fails the copy (re-encoding the line
   * took a delimiter away from readers).
   */
  strayDelimiter(node: MimeNode): void {
    this.diverged = true
    const part = this.parts.find((p) => p.node === node)
    if (part !== undefined && part.markMalformed()) {
      this.lateSkip ??= "malformed"
      throw new LateSkipError("malformed")
    }
    // nothing chosen yet, nor to come: the message passes, with the reason
    if (this.parts.length === 0) this.skip("malformed")
  }

  override _transform(chunk: SplitterChunk, _enc: BufferEncoding, callback: TransformCallback): void {
    try {
      this.accept(chunk)
      callback()
    } catch (error) {
      callback(error as Error)
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.finish()
      callback()
    } catch (error) {
      callback(error as Error)
    }
  }

  private accept(chunk: SplitterChunk): void {
    if (this.mode === "passing") return void this.out(chunk)
    if (Buffer.isBuffer(chunk) || chunk.type !== "body" || chunk.node !== this.current?.node) this.endCurrent()
    if (!Buffer.isBuffer(chunk) && chunk.type === "node") return this.acceptNode(chunk)
    if (this.current !== undefined && !Buffer.isBuffer(chunk) && chunk.type === "body") {
      const part = this.current
      for (let i = 0; i < chunk.value.length;) {
        // while holding, a piece ends at the byte that takes the held start over its budget, so the
        // commit, and the dry run it makes over the held bytes, come at the same byte of the
        // message however it was cut into chunks
        const room = this.mode === "holding" ? this.holdBytes - this.heldNow() + 1 : SLICE_BYTES
        const n = Math.max(1, Math.min(SLICE_BYTES, room, chunk.value.length - i))
        const value = n === chunk.value.length ? chunk.value : chunk.value.subarray(i, i + n)
        part.write({ type: "body", value, node: chunk.node })
        this.measure()
        i += n
      }
      return
    }
    this.enqueue(chunk)
  }

  private acceptNode(node: MimeNode): void {
    const reason = this.tooComplex(node) ?? (node.root ? classifyRoot(node) : classifyNested(node))
    if (reason !== undefined) {
      this.skip(reason)
      return this.mode === "passing" ? void this.out(node) : this.enqueue(node)
    }
    const kind = bodyKind(node)
    if (kind === undefined || this.diverged || this.seen[kind] || this.plan.elements.length === 0 || !this.sameBody(node)) return this.enqueue(node)
    this.seen[kind] = true
    const part = new StampedPart(node, kind, this.plan, kind === "html" ? relatedFrame(node, embeddedImages(this.plan)) : undefined)
    this.parts.push(part)
    this.current = part
    this.mode = "holding"
    this.queue.push(part)
  }

  /** the first body part, or its alternative form */
  private sameBody(node: MimeNode): boolean {
    const first = this.parts[0]
    if (first === undefined) return true
    const alternative = alternativeOf(first.node)
    return alternative !== undefined && alternative === alternativeOf(node)
  }

  /** counts parts and nesting (mailsplit's parentNode chain) while stamping is still possible */
  private tooComplex(node: MimeNode): SkipReason | undefined {
    if (this.mode === "passing") return undefined
    const parent = node.parentNode
    const depth = parent === false || parent === undefined ? 0 : (this.depths.get(parent) ?? 0) + 1
    this.depths.set(node, depth)
    return ++this.nodes > MAX_STAMPED_PARTS || depth > MAX_STAMPED_DEPTH ? "too-complex" : undefined
  }

  private endCurrent(): void {
    const part = this.current
    if (part === undefined) return
    this.current = undefined
    part.end()
    this.measure()
  }

  private enqueue(chunk: SplitterChunk): void {
    if (this.mode === "live") return void this.out(chunk)
    this.queue.push(chunk)
    this.queueBytes += Buffer.isBuffer(chunk) ? chunk.length : chunk.type === "node" ? 0 : chunk.value.length
    this.measure()
  }

  /** what is held right now: the queue, the parts in it, and a live part's look-back window */
  private heldNow(): number {
    let held = this.queueBytes
    for (const item of this.queue) if (item instanceof StampedPart) held += item.held
    // a part streaming live after a commit still holds its own look-back window
    if (this.current !== undefined && !this.queue.includes(this.current)) held += this.current.held
    return held
  }

  /** records the window and commits once the held start of the message is over budget */
  private measure(): void {
    const held = this.heldNow()
    if (held > this.highWater_) this.highWater_ = held
    if (this.mode === "holding" && held > this.holdBytes) this.commit(false)
  }

  private skip(reason: SkipReason): void {
    if (this.mode === "passing") return
    // once a part has left transcoded, the message can no longer leave as it came
    if (this.mode === "live" || this.parts.some((p) => p.transcoding)) {
      this.lateSkip ??= reason
      if (isCrypto(reason)) throw new LateSkipError(reason)
      return
    }
    this.skipped = reason
    this.commit(true)
    this.mode = "passing"
  }

  /** releases everything held: chosen parts stamped (or raw when `raw`), everything else as it came */
  private commit(raw: boolean): void {
    const held = this.queueBytes + this.queuedParts().reduce((n, p) => n + p.held, 0)
    let passAll = raw
    // an inline-PGP body is only seen by reading it: the dry run at commit tells
    if (!raw && this.queuedParts().some((p) => p.probe() === "pgp-inline")) {
      if (this.parts.some((p) => p.transcoding)) {
        this.lateSkip ??= "pgp-inline"
        throw new LateSkipError("pgp-inline")
      } else {
        this.skipped = "pgp-inline"
        passAll = true
      }
    }
    const push = (c: SplitterChunk): void => void this.out(c)
    for (const item of this.queue) {
      if (item instanceof StampedPart) {
        const before = item.held
        item.commit(push, passAll)
        this.highWater_ = Math.max(this.highWater_, held - before + item.peak)
      } else push(item)
    }
    this.queue = []
    this.queueBytes = 0
    this.mode = passAll && !raw ? "passing" : "live"
  }

  private queuedParts(): Array<StampedPart> {
    return this.queue.filter((i): i is StampedPart => i instanceof StampedPart)
  }
}
