import fc from "fast-check"
import { type MimeNode, Splitter, type SplitterChunk } from "mailsplit"
import { Readable, Writable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { describe, expect, it } from "vitest"
import { MimeScanner } from "../../../src/pipeline/mime/MimeScanner.js"
import { ChunkGuard, MAX_STAMPED_LINE_BYTES, SplitterGuard } from "../../../src/pipeline/mime/SplitterGuard.js"
import { corpusMessages, toCrlf } from "../../support/Corpus.js"
import { cutInto } from "./MimeHarness.js"

/**
 * The stamped copy's scanner (src/pipeline/mime/MimeScanner.ts) is mailsplit's patched
 * Splitter without its stream: for any message and any chunking it must hand on the
 * same events (node, data, body), with the same bytes, cut at the same places, as
 * SplitterGuard → Splitter does. Every byte a stamped copy leaves untouched, and every
 * part the Stamper chooses, depends on that.
 */

type Config = { maxHeadSize?: number; maxChildNodes?: number }

/** an event as text: the node's order of appearance, its header bytes; or a chunk's type, node and bytes */
const describeEvents = (events: ReadonlyArray<SplitterChunk>): Array<string> => {
  const order = new Map<MimeNode, number>()
  const id = (n: MimeNode | undefined) => (n === undefined ? "-" : (order.get(n) ?? `?${n.contentType}`))
  return events.map((e) => {
    if (Buffer.isBuffer(e)) return `buffer ${e.toString("latin1")}`
    if (e.type === "node") {
      order.set(e, order.size)
      const parent = e.parentNode === false ? "root" : id(e.parentNode)
      return `node ${order.get(e)} of ${parent} ${e.contentType} ${JSON.stringify(e.partNr)} ${e.messageNode ?? ""} ${e.getHeaders().toString("latin1")}`
    }
    return `${e.type} ${id((e as { node?: MimeNode }).node)} ${e.value.toString("latin1")}`
  })
}

const bySplitter = async (chunks: ReadonlyArray<Buffer>, config: Config = {}): Promise<Array<SplitterChunk>> => {
  const events: Array<SplitterChunk> = []
  const sink = new Writable({
    objectMode: true,
    write(e: SplitterChunk, _enc, cb) {
      events.push(e)
      cb()
    }
  })
  await pipeline(Readable.from(chunks, { objectMode: false }), new SplitterGuard(), new Splitter(config), sink)
  return events
}

const byScanner = (chunks: ReadonlyArray<Buffer>, config: Config = {}): Array<SplitterChunk> => {
  const events: Array<SplitterChunk> = []
  const guard = new ChunkGuard()
  const scanner = new MimeScanner((e) => void events.push(e), config)
  for (const chunk of chunks) {
    const guarded = guard.pass(chunk)
    if (guarded !== undefined) scanner.write(guarded)
  }
  const rest = guard.end()
  if (rest !== undefined) scanner.write(rest)
  scanner.end()
  return events
}

/** joined as the Joiner does */
const join = (events: ReadonlyArray<SplitterChunk>): Buffer =>
  Buffer.concat(events.map((e) => (Buffer.isBuffer(e) ? e : e.type === "node" ? e.getHeaders() : e.value)))

const same = async (bytes: Buffer, sizes: ReadonlyArray<number>, config?: Config): Promise<Array<SplitterChunk>> => {
  const chunks = cutInto(bytes, sizes)
  const scanned = byScanner(chunks, config)
  expect(describeEvents(scanned)).toEqual(describeEvents(await bySplitter(chunks, config)))
  return scanned
}

/**
 * The events with what the Stamper may not depend on taken out: where a run of body bytes or of
 * data bytes was cut into events (consecutive ones are joined), and which node a data run names
 * (the node of its first line; data is joined through untouched).
 */
const merged = (events: ReadonlyArray<SplitterChunk>): Array<string> => {
  const order = new Map<MimeNode, number>()
  const out: Array<{ key: string; value: string }> = []
  for (const e of events) {
    if (Buffer.isBuffer(e)) out.push({ key: "buffer", value: e.toString("latin1") })
    else if (e.type === "node") {
      order.set(e, order.size)
      out.push({ key: `node ${order.size - 1}`, value: e.getHeaders().toString("latin1") })
    } else {
      const key = e.type === "body" ? `body of ${order.get((e as { node: MimeNode }).node) ?? "?"}` : e.type
      const last = out[out.length - 1]
      if (last !== undefined && last.key === key) last.value += e.value.toString("latin1")
      else out.push({ key, value: e.value.toString("latin1") })
    }
  }
  return out.map(({ key, value }) => `${key} ${JSON.stringify(value)}`)
}

describe("MimeScanner", () => {
  it("hands on mailsplit's events for every corpus message, in whole and in chunks that end anywhere", async () => {
    const messages = corpusMessages()
    expect(messages.length).toBeGreaterThan(100)
    for (const { bytes } of messages) {
      const crlf = toCrlf(bytes)
      for (const sizes of [[crlf.length + 1], [4093], [1021, 7], [127]]) {
        // joined, the scanner's events are the message (mailsplit's own exceptions aside: a part
        // left open by a message that ends without its closing boundary, which the corpus has not)
        expect(join(await same(crlf, sizes)).equals(crlf)).toBe(true)
      }
      // as the files are too (LF only, bare CRs)
      await same(bytes, [509])
    }
  }, 120_000)

  it("hands on mailsplit's events for nested, embedded and odd structures under random chunkings", async () => {
    const line = fc.oneof(
      fc.constantFrom("", "-", "--", "--a", "--a--", "--b", "--b--", "--bx", "--b-", "--b--x", "---b", "\r--b", " --b", ".", "\t-", "--a  "),
      fc.stringMatching(/^[A-Za-z0-9+/= -]{0,40}$/)
    )
    const body = fc.array(line, { minLength: 0, maxLength: 6 }).map((ls) => ls.map((l) => `${l}\r\n`).join(""))
    const leaf = fc.tuple(fc.constantFrom("text/plain", "text/html", "application/pdf"), body).map(([t, b]) => `Content-Type: ${t}\r\n\r\n${b}`)
    const embedded = body.map(
      (b) => `Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\nSubject: inner\r\nContent-Type: text/plain\r\n\r\n${b}`
    )
    const headerOnly = fc.constant("Content-Type: text/plain\r\n")
    const inner = fc
      .array(fc.oneof(leaf, embedded, headerOnly), { minLength: 0, maxLength: 3 })
      .map((parts) => `Content-Type: multipart/alternative; boundary=a\r\n\r\n${parts.map((p) => `--a\r\n${p}`).join("")}--a--\r\n`)
    const message = fc
      .tuple(fc.array(fc.oneof(leaf, inner, embedded, headerOnly), { minLength: 0, maxLength: 4 }), body, body, fc.boolean())
      .map(
        ([parts, preamble, epilogue, closed]) =>
          `Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n${preamble}` +
          parts.map((p) => `--b\r\n${p}`).join("") +
          (closed ? `--b--\r\n${epilogue}` : "")
      )
    await fc.assert(
      fc.asyncProperty(message, fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }), async (m, sizes) => {
        await same(Buffer.from(m, "latin1"), sizes)
      }),
      { numRuns: 400 }
    )
  })

  it("hands on mailsplit's events for long lines (body, boundary-like, header) that come in many pieces", async () => {
    // the scanner holds an unfinished line in pieces and joins it once (HeldLine); mailsplit joined it at every piece
    const long = fc
      .tuple(fc.constantFrom("", "--b", "--b--", "--a", "-", "\r", " "), fc.integer({ min: 0, max: 5000 }), fc.constantFrom("x", "-", "="))
      .map(([start, n, c]) => start + c.repeat(n))
    const body = fc.array(fc.oneof(long, fc.constantFrom("", "--b", "--b--", "--a--", "hi")), { maxLength: 4 }).map((ls) => ls.map((l) => `${l}\r\n`).join(""))
    const part = fc.oneof(
      fc.tuple(fc.constantFrom("text/plain", "text/html", "application/pdf"), body).map(([t, b]) => `Content-Type: ${t}\r\n\r\n${b}`),
      fc.tuple(fc.integer({ min: 1, max: 5000 }), body).map(([n, b]) => `Content-Type: text/plain\r\nX-Long: ${"y".repeat(n)}\r\n\r\n${b}`),
      body.map((b) => `Content-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\nContent-Type: text/plain\r\n\r\n${b}--a--\r\n`)
    )
    const message = fc
      .tuple(fc.array(part, { maxLength: 3 }), body, fc.boolean(), long)
      .map(
        ([parts, preamble, closed, tail]) =>
          `Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n${preamble}${parts.map((p) => `--b\r\n${p}`).join("")}${closed ? "--b--\r\n" : ""}${tail}`
      )
    const sizes = fc.oneof(
      fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 6 }),
      fc.array(fc.integer({ min: 1, max: 2000 }), { minLength: 1, maxLength: 6 })
    )
    await fc.assert(
      fc.asyncProperty(message, sizes, async (m, cuts) => {
        await same(Buffer.from(m, "latin1"), cuts)
      }),
      { numRuns: 200 }
    )
  }, 120_000)

  it("hands on the same bodies and bytes wherever chunks end", () => {
    // a part's body of one empty line before a next part's boundary (patch mailsplit-empty-line-body),
    // a part of header lines only before its parent's closing boundary (mailsplit-header-only-close)
    const shapes = [
      "Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\r\n--b\r\nContent-Type: application/pdf\r\n\r\nJVBE\r\n--b--\r\n",
      "Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: text/plain\r\n--b--\r\n"
    ]
    for (const shape of shapes) {
      const bytes = Buffer.from(shape, "latin1")
      const whole = merged(byScanner([bytes]))
      expect(join(byScanner([bytes])).equals(bytes)).toBe(true)
      for (let at = 1; at < bytes.length; at++) expect(merged(byScanner([bytes.subarray(0, at), bytes.subarray(at)]))).toEqual(whole)
    }

    const line = fc.oneof(fc.constantFrom("", "-", "--b", "--b--", "--a", "--a--", " --b"), fc.stringMatching(/^[A-Za-z0-9 -]{0,12}$/))
    const body = fc.array(line, { maxLength: 4 }).map((ls) => ls.map((l) => `${l}\r\n`).join(""))
    const part = fc.oneof(
      fc.tuple(fc.constantFrom("text/plain", "text/html", "application/pdf"), body).map(([t, b]) => `Content-Type: ${t}\r\n\r\n${b}`),
      body.map((b) => `Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\nSubject: inner\r\n\r\n${b}`),
      fc.constant("Content-Type: text/plain\r\n"),
      fc
        .array(fc.tuple(fc.constantFrom("text/plain", "text/html"), body), { maxLength: 3 })
        .map((ps) => `Content-Type: multipart/alternative; boundary=a\r\n\r\n${ps.map(([t, b]) => `--a\r\nContent-Type: ${t}\r\n\r\n${b}`).join("")}--a--\r\n`)
    )
    const message = fc
      .tuple(fc.array(part, { maxLength: 4 }), body, fc.boolean())
      .map(
        ([parts, preamble, closed]) =>
          `Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n${preamble}${parts.map((p) => `--b\r\n${p}`).join("")}${closed ? "--b--\r\n" : ""}`
      )
    fc.assert(
      fc.property(message, fc.array(fc.integer({ min: 1, max: 32 }), { minLength: 1, maxLength: 12 }), (m, sizes) => {
        const bytes = Buffer.from(m, "latin1")
        expect(merged(byScanner(cutInto(bytes, sizes)))).toEqual(merged(byScanner([bytes])))
      }),
      { numRuns: 2000 }
    )
  })

  it("fails as mailsplit does past its limits on parts and on one part's header block", async () => {
    const parts = Array.from({ length: 12 }, () => "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n").join("")
    const many = Buffer.from(`Content-Type: multipart/mixed; boundary=b\r\n\r\n${parts}--b--\r\n`)
    await expect(bySplitter([many], { maxChildNodes: 5 })).rejects.toMatchObject({ code: "EMAXLEN" })
    expect(() => byScanner([many], { maxChildNodes: 5 })).toThrow(expect.objectContaining({ code: "EMAXLEN" }))
    await same(many, [100], { maxChildNodes: 13 })

    const header = Buffer.from(`Subject: ${"x".repeat(300)}\r\nContent-Type: text/plain\r\n\r\nbody\r\n`)
    await expect(bySplitter([header], { maxHeadSize: 200 })).rejects.toMatchObject({ code: "EMAXLEN" })
    expect(() => byScanner([header], { maxHeadSize: 200 })).toThrow(expect.objectContaining({ code: "EMAXLEN" }))
  })

  it("refuses a line longer than MAX_STAMPED_LINE_BYTES before the scanner sees it, as the SplitterGuard does", () => {
    const guard = new ChunkGuard()
    expect(guard.pass(Buffer.from("Content-Type: text/plain\r\n\r\n"))).toBeDefined()
    const piece = Buffer.alloc(MAX_STAMPED_LINE_BYTES / 4, 0x61)
    for (let i = 0; i < 4; i++) guard.pass(piece)
    expect(() => guard.pass(Buffer.from("a"))).toThrow(/longer than/)
  })
})
