import fc from "fast-check"
import { Readable } from "node:stream"
import { buffer } from "node:stream/consumers"
import { pipeline } from "node:stream/promises"
import { afterEach, describe, expect, it, vi } from "vitest"
import { HEADER_PEEK_LIMIT, HeaderEndFinder, HeaderPeek, headerEnd, type PeekedHeaders } from "../../../src/pipeline/headers/HeaderPeek.js"

/** Feeds `chunks` through a released HeaderPeek: what it let through, and the headers it read (their raw block, or null when it read none). */
const run = async (chunks: ReadonlyArray<Buffer>): Promise<{ out: Buffer; head: string | null }> => {
  let root: PeekedHeaders | "unset" = "unset"
  const peek = new HeaderPeek((r) => {
    root = r
  })
  peek.release()
  const out = buffer(peek)
  await pipeline(Readable.from(chunks), peek)
  const seen = root as PeekedHeaders | "unset"
  if (seen === "unset") throw new Error("onHeaders was not called")
  return { out: await out, head: seen === undefined ? null : seen.headers.build().toString("latin1") }
}

/** `bytes` cut at `cuts` */
const cut = (bytes: Buffer, cuts: ReadonlyArray<number>): Array<Buffer> => {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const chunks: Array<Buffer> = []
  let last = 0
  for (const p of [...points, bytes.length]) {
    chunks.push(bytes.subarray(last, p))
    last = p
  }
  return chunks
}

/** a header block `size` bytes long (CRLF lines of 72 bytes), not yet ended */
const longHead = (size: number): Buffer => {
  const line = `X-Filler: ${"a".repeat(60)}\r\n`
  return Buffer.from(line.repeat(Math.ceil(size / line.length)).slice(0, size - (size % line.length)), "latin1")
}

describe("HeaderPeek", () => {
  afterEach(() => vi.restoreAllMocks())

  it("reads the same root header block and lets the same bytes through, however the message is cut", async () => {
    const field = fc.constantFrom("Subject: hi", "From: a@example.com", "X-A: 1", " folded", "\tfolded", "")
    const body = fc.constantFrom("", "text\r\n", "\r\n\r\nmore\r\n", "--b\r\n\r\n")
    await fc.assert(
      fc.asyncProperty(fc.array(field, { maxLength: 6 }), body, fc.boolean(), fc.array(fc.nat(), { maxLength: 10 }), async (fields, rest, ended, at) => {
        const bytes = Buffer.from(fields.map((f) => f + "\r\n").join("") + (ended ? "\r\n" : "") + rest, "latin1")
        const whole = await run([bytes])
        const pieces = await run(cut(bytes, at))
        expect(pieces.out).toEqual(bytes)
        expect(pieces.head).toEqual(whole.head)
      }),
      { numRuns: 300 }
    )
  })

  it("HeaderEndFinder answers what headerEnd answers for the whole message, at the piece where the end arrives, however it is cut", () => {
    const piece = fc.constantFrom("\r", "\n", "\r\n", "a", "Subject: x", " ", "\r\n\r\n")
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 14 }), fc.array(fc.nat(), { maxLength: 10 }), (pieces, at) => {
        const bytes = Buffer.from(pieces.join(""), "latin1")
        const finder = new HeaderEndFinder()
        let seen = 0
        let found = -1
        for (const chunk of cut(bytes, at)) {
          seen += chunk.length
          const end = finder.push(chunk)
          // headerEnd over what has arrived so far: the finder answers at the same piece, the same offset
          const expected = found === -1 ? headerEnd(bytes.subarray(0, seen)) : -1
          if (found === -1) expect(end).toBe(expected)
          if (end !== -1 && found === -1) found = end
        }
        expect(found).toBe(headerEnd(bytes))
      }),
      { numRuns: 2000 }
    )
  })

  it("finds a header end that spans chunks, and a message with no header fields, byte by byte", async () => {
    const bytes = Buffer.from("Subject: x\r\n\r\nbody\r\n", "latin1")
    const bytewise = await run([...bytes].map((b) => Buffer.from([b])))
    expect(bytewise.out).toEqual(bytes)
    expect(bytewise.head).toEqual((await run([bytes])).head)
    expect(bytewise.head).toContain("Subject: x")
    const bare = Buffer.from("\r\nbody\r\n", "latin1")
    const bareBytewise = await run([...bare].map((b) => Buffer.from([b])))
    expect(bareBytewise.out).toEqual(bare)
    expect(bareBytewise.head).toEqual((await run([bare])).head)
  })

  it("copies each held byte a bounded number of times when the header block trickles in (no quadratic work per message)", async () => {
    // 16 KB of header in 1-byte writes: joining everything held at every write copies ~134 MB
    const head = Buffer.concat([longHead(16 * 1024), Buffer.from("\r\nbody\r\n")])
    const concat = Buffer.concat
    let copied = 0
    vi.spyOn(Buffer, "concat").mockImplementation((list: ReadonlyArray<Uint8Array>, length?: number) => {
      const joined = concat(list, length)
      copied += joined.length
      return joined
    })
    const result = await run([...head].map((b) => Buffer.from([b])))
    expect(result.out).toEqual(head)
    expect(copied).toBeLessThanOrEqual(4 * head.length)
  })

  it("decides on a block over the limit without reading it, however it trickles in", async () => {
    const over = longHead(HEADER_PEEK_LIMIT + 200)
    const chunks = cut(
      over,
      Array.from({ length: 300 }, (_, i) => i * 877)
    )
    const result = await run(chunks)
    expect(result.head).toBeNull()
    expect(result.out).toEqual(over)
  })
})
