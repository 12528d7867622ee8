import fc from "fast-check"
import { Readable } from "node:stream"
import { buffer } from "node:stream/consumers"
import { pipeline } from "node:stream/promises"
import { describe, expect, it } from "vitest"
import { LineGuard } from "../../../src/pipeline/headers/LineGuard.js"

/** Feeds `bytes` split at `cuts` through a guard; the output, or the error's tag. */
const run = async (bytes: Buffer, cuts: number[], max = 1 << 30): Promise<Buffer | string> => {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const chunks: Buffer[] = []
  let last = 0
  for (const p of [...points, bytes.length]) {
    chunks.push(bytes.subarray(last, p))
    last = p
  }
  const guard = new LineGuard(max)
  const out = buffer(guard)
  out.catch(() => undefined) // the pipeline reports the same error
  try {
    await pipeline(Readable.from(chunks), guard)
    return await out
  } catch (e) {
    const err = e as { _tag?: string; what?: string }
    return `${err._tag}:${err.what ?? ""}`
  }
}

const line = fc.stringMatching(/^[\x00 -~\u00e9]{0,40}$/)
const cuts = fc.array(fc.nat(), { maxLength: 12 })
/** a line that a NUL-stripping downstream would read as the end of data */
const isNulDot = (l: string) => l.includes("\x00") && l.replace(/\x00/g, "") === "."

describe("LineGuard", () => {
  it("passes clean CRLF text byte for byte, whatever the chunking", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 30 }), cuts, async (lines, at) => {
        fc.pre(!lines.some(isNulDot))
        const bytes = Buffer.from(lines.map((l) => l + "\r\n").join(""), "latin1")
        expect(await run(bytes, at)).toEqual(bytes)
      })
    )
  })

  it("refuses a bare LF or CR anywhere, whatever the chunking", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(line, { minLength: 1, maxLength: 10 }), fc.nat(), fc.constantFrom("\n", "\r"), cuts, async (lines, where, bare, at) => {
        fc.pre(!lines.some(isNulDot))
        const text = lines.map((l) => l + "\r\n").join("")
        const i = where % text.length
        // keep the injected byte bare: not part of a CRLF pair
        fc.pre(!(bare === "\n" && text[i - 1] === "\r") && !(bare === "\r" && text[i] === "\n"))
        const bytes = Buffer.from(text.slice(0, i) + bare + text.slice(i), "latin1")
        expect(await run(bytes, at)).toBe(`BareLineEnding:${bare === "\n" ? "LF" : "CR"}`)
      })
    )
  })

  it("refuses a line of NULs and one dot, whatever the chunking", async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(3), fc.nat(3), cuts, async (before, after, at) => {
        fc.pre(before + after > 0)
        const bytes = Buffer.from(`a\r\n${"\0".repeat(before)}.${"\0".repeat(after)}\r\nMAIL FROM:<x@y>\r\n`, "latin1")
        expect(await run(bytes, at)).toBe("BareLineEnding:NUL")
      })
    )
  })

  it("passes other NULs (malformed mail is relayed, not lost)", async () => {
    const bytes = Buffer.from("a\x00b\r\n\x00\x00\r\n..\x00\r\n\x00.x\r\n", "latin1")
    expect(await run(bytes, [1, 4, 7])).toEqual(bytes)
  })

  it("refuses a message over the limit", async () => {
    expect(await run(Buffer.from("x".repeat(100) + "\r\n"), [10], 50)).toBe("MessageTooBig:")
  })
})
