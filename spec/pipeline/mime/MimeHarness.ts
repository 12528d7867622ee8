/**
 * Test support for the stamper specs: runs bytes through Splitter → Stamper →
 * Joiner in-process, and re-reads messages part by part with mailsplit and
 * independent transfer decoders (libqp, libbase64) plus iconv-lite.
 */
import { Joiner, type MimeNode, Splitter, type SplitterChunk } from "mailsplit"
import { createRequire } from "node:module"
import { Readable, Writable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { SignatureElement } from "../../../src/domain/Signature.js"
import { makeCharsetDecoder, resolveCharset, sniffHtmlCharset } from "../../../src/pipeline/mime/Charset.js"
import { SplitterGuard } from "../../../src/pipeline/mime/SplitterGuard.js"
import { Stamper } from "../../../src/pipeline/mime/Stamper.js"
import { StampedCopy } from "../../../src/pipeline/StampedCopy.js"
import { MAX_PART_HEADER_BYTES, MAX_SPLIT_NODES } from "../../../src/pipeline/Transaction.js"
import type { StampOutcome, StampPlan } from "../../../src/pipeline/mime/StampPlan.js"

const require = createRequire(import.meta.url)
const libqp = require("libqp") as { decode: (s: string) => Buffer }
const libbase64 = require("libbase64") as { decode: (s: string) => Buffer }

export const SIG_MARKER = "imprint-sig-7f3a"
export const SIG_TEXT_LINE = "Imprint Signature Line 7f3a"

export const element = (position: "above-reply" | "bottom" = "above-reply", tag = ""): SignatureElement =>
  new SignatureElement({
    ruleId: "r1",
    templateId: "t1",
    html: `<div id="${SIG_MARKER}${tag}">Jane Doe — Ünïcode ✓ ${SIG_TEXT_LINE}${tag}</div>`,
    text: `Jane Doe — Ünïcode ✓\n${SIG_TEXT_LINE}${tag}`,
    marker: `${SIG_MARKER}${tag}`,
    position
  })

export const defaultPlan: StampPlan = { elements: [element()], skipIfPresent: [] }

export interface RunResult {
  readonly output: Buffer
  readonly outcome: StampOutcome
  readonly highWater: number
}

/** feeds `input` in chunks of `chunkSize` bytes through SplitterGuard → Splitter → Stamper → Joiner */
export const runStamper = async (
  input: Buffer | (() => AsyncGenerator<Buffer>),
  plan: StampPlan = defaultPlan,
  options: { chunkSize?: number; sink?: (b: Buffer) => void } = {}
): Promise<RunResult> => {
  const chunkSize = options.chunkSize ?? 16 * 1024
  const source =
    typeof input === "function"
      ? Readable.from(input())
      : Readable.from(
          (function* () {
            for (let i = 0; i < input.length; i += chunkSize) yield input.subarray(i, i + chunkSize)
          })()
        )
  const stamper = new Stamper(plan)
  const out: Array<Buffer> = []
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      if (options.sink !== undefined) options.sink(chunk)
      else out.push(chunk)
      cb()
    }
  })
  await pipeline(source, new SplitterGuard(), new Splitter(), stamper, new Joiner(), sink)
  return { output: Buffer.concat(out), outcome: stamper.outcome(), highWater: stamper.highWater }
}

/** a root header policy for `runStampedCopy` (a fixed clock, so the prefix is the same on every run) */
export const copyPolicy = {
  tenant: "t1",
  receivedLine: "from upstream by imprint; Mon, 7 Dec 2026 00:00:00 +0000",
  stampKey: Buffer.alloc(32, 7),
  nowSeconds: 1_796_601_600,
  stampMaxAgeSeconds: 86_400
}

/** the relay's stamped copy (pipeline/StampedCopy.ts: ChunkGuard → MimeScanner → root edit → Stamper → join) fed `chunks` as written */
export const runStampedCopy = async (chunks: ReadonlyArray<Buffer>, plan: StampPlan = defaultPlan): Promise<Buffer> => {
  const out: Array<Buffer> = []
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      out.push(chunk)
      cb()
    }
  })
  const copy = new StampedCopy(new Stamper(plan), copyPolicy, undefined, { maxHeadSize: MAX_PART_HEADER_BYTES, maxChildNodes: MAX_SPLIT_NODES })
  await pipeline(Readable.from(chunks, { objectMode: false }), copy, sink)
  return Buffer.concat(out)
}

/** `bytes` cut into pieces of `sizes[0]`, `sizes[1]`, … (repeating) */
export const cutInto = (bytes: Buffer, sizes: ReadonlyArray<number>): Array<Buffer> => {
  const chunks: Array<Buffer> = []
  for (let at = 0, k = 0; at < bytes.length; k++) {
    const size = sizes[k % sizes.length]
    chunks.push(bytes.subarray(at, at + size))
    at += size
  }
  return chunks
}

/** Splitter → Joiner alone: what the relay would send without a stamper */
export const passThrough = async (input: Buffer): Promise<Buffer> => {
  const out: Array<Buffer> = []
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      out.push(chunk)
      cb()
    }
  })
  await pipeline(Readable.from([input]), new Splitter(), new Joiner(), sink)
  return Buffer.concat(out)
}

export interface Part {
  readonly node: MimeNode
  readonly headers: Buffer
  readonly body: Buffer
}

/** every node of a message with its header bytes and its raw body bytes, in order */
export const splitParts = async (message: Buffer): Promise<Array<Part>> => {
  const parts: Array<{ node: MimeNode; headers: Buffer; chunks: Array<Buffer> }> = []
  const sink = new Writable({
    objectMode: true,
    write(chunk: SplitterChunk, _e, cb) {
      if (!Buffer.isBuffer(chunk) && chunk.type === "node") {
        parts.push({ node: chunk, headers: Buffer.from(chunk.getHeaders()), chunks: [] })
      } else if (!Buffer.isBuffer(chunk) && chunk.type === "body") {
        parts[parts.length - 1].chunks.push(chunk.value)
      }
      cb()
    }
  })
  await pipeline(Readable.from([message]), new Splitter(), sink)
  return parts.map((p) => ({ node: p.node, headers: p.headers, body: Buffer.concat(p.chunks) }))
}

/** transfer-decoded bytes of a part, with independent decoders */
export const transferDecode = (part: Part): Buffer => {
  const e = (part.node.encoding || "").toLowerCase()
  if (e === "base64") return libbase64.decode(part.body.toString("latin1"))
  if (e === "quoted-printable") return libqp.decode(part.body.toString("latin1"))
  return part.body
}

/** the text of a part as the stamper reads it (transfer + charset) */
export const decodeText = (part: Part, kind: "html" | "text"): string => {
  const bytes = transferDecode(part)
  const label = part.node.charset === false && kind === "html" ? (sniffHtmlCharset(bytes) ?? "") : part.node.charset
  const choice = resolveCharset(label)
  const decoder = makeCharsetDecoder(choice.decodable ? choice.name : "ascii-fallback", kind)
  return decoder.write(bytes) + decoder.end()
}

/** LF → CRLF (corpus files with Unix line endings; the relay normalises before the stamper) */
export const toCrlf = (b: Buffer): Buffer => Buffer.from(b.toString("latin1").replace(/\r?\n/g, "\r\n"), "latin1")

export const countOf = (haystack: string, needle: string): number => haystack.split(needle).length - 1

/** longest line (octets, without CRLF) */
export const longestLine = (b: Buffer): number => {
  let max = 0
  let start = 0
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 10) {
      const len = i - start - (i > 0 && b[i - 1] === 13 ? 1 : 0)
      if (len > max) max = len
      start = i + 1
    }
  }
  return Math.max(max, b.length - start)
}
