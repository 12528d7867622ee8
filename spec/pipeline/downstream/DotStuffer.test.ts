import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { endOfData, makeDotStuffer, stuffChunk } from "../../../src/pipeline/downstream/DotStuffer.js"

/** Stuffs `body` cut at `cuts` and returns everything sent after DATA. */
const wire = (body: Buffer, cuts: ReadonlyArray<number>): Buffer => {
  const state = makeDotStuffer()
  const points = [...new Set(cuts.map((c) => (body.length === 0 ? 0 : c % (body.length + 1))))].sort((a, b) => a - b)
  const out: Array<Buffer> = []
  let from = 0
  for (const p of [...points, body.length]) {
    out.push(stuffChunk(state, body.subarray(from, p)))
    from = p
  }
  out.push(endOfData(state))
  return Buffer.concat(out)
}

/** What a receiver does (RFC 5321 §4.5.2): read lines to the lone ".", drop one leading dot per line. */
const receive = (sent: Buffer): { message: string; rest: string } => {
  const text = sent.toString("latin1")
  const lines: Array<string> = []
  let at = 0
  for (;;) {
    const end = text.indexOf("\r\n", at)
    if (end === -1) throw new Error("no end of data")
    const line = text.slice(at, end)
    at = end + 2
    if (line === ".") break
    lines.push(line.startsWith(".") ? line.slice(1) : line)
  }
  return { message: lines.map((l) => `${l}\r\n`).join(""), rest: text.slice(at) }
}

const crlfText = fc
  .array(fc.string({ unit: fc.constantFrom(".", "a", " ", "\t"), maxLength: 10 }), { maxLength: 12 })
  .chain((lines) => fc.boolean().map((crlf) => lines.join("\r\n") + (crlf && lines.length > 0 ? "\r\n" : "")))

describe("DotStuffer", () => {
  it("the receiver gets the message back, whatever the chunking", () => {
    fc.assert(
      fc.property(crlfText, fc.array(fc.nat(), { maxLength: 10 }), (text, cuts) => {
        const { message, rest } = receive(wire(Buffer.from(text, "latin1"), cuts))
        const expected = text === "" || text.endsWith("\r\n") ? text : `${text}\r\n`
        expect(message).toBe(expected)
        // The terminating dot is the last thing sent: nothing of the message comes after it
        expect(rest).toBe("")
      }),
      { numRuns: 500 }
    )
  })

  it("returns a chunk without dots at line starts as is", () => {
    const state = makeDotStuffer()
    const chunk = Buffer.from("Subject: x\r\n\r\nno.dot here\r\n")
    expect(stuffChunk(state, chunk)).toBe(chunk)
  })

  it("doubles a dot split from its line start by a chunk boundary", () => {
    const state = makeDotStuffer()
    const parts = ["a\r", "\n", ".b\r\n", ".", "\r\n"].map((p) => stuffChunk(state, Buffer.from(p)).toString())
    expect(parts.join("")).toBe("a\r\n..b\r\n..\r\n")
    expect(endOfData(state).toString()).toBe(".\r\n")
  })

  it("completes an unterminated last line, and an empty message is just the dot", () => {
    const state = makeDotStuffer()
    stuffChunk(state, Buffer.from("text"))
    expect(endOfData(state).toString()).toBe("\r\n.\r\n")
    expect(endOfData(makeDotStuffer()).toString()).toBe(".\r\n")
  })

  it("doubles a dot after a bare CR or LF, so a lenient downstream never sees an early end", () => {
    const state = makeDotStuffer()
    expect(stuffChunk(state, Buffer.from("a\n.\nb\r.\r")).toString()).toBe("a\n..\nb\r..\r")
  })
})
