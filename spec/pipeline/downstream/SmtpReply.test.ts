import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { MAX_REPLY_LINE_BYTES, ReplyParseError, ReplyParser } from "../../../src/pipeline/downstream/SmtpReply.js"
import type { SmtpReply } from "../../../src/pipeline/downstream/SmtpReply.js"

const feed = (parser: ReplyParser, text: string, cuts: ReadonlyArray<number> = []): Array<SmtpReply> => {
  const bytes = Buffer.from(text, "utf8")
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const replies: Array<SmtpReply> = []
  let from = 0
  for (const p of [...points, bytes.length]) {
    replies.push(...parser.push(bytes.subarray(from, p)))
    from = p
  }
  return replies
}

const EHLO = "250-mx.test greets you\r\n250-SIZE 1000\r\n250-8BITMIME\r\n250 STARTTLS\r\n"
const REFUSAL = "550-5.1.1 no such user\r\n550 5.1.1 see https://err.test/\r\n"

const EXPECTED: ReadonlyArray<SmtpReply> = [
  {
    code: 250,
    text: "mx.test greets you\nSIZE 1000\n8BITMIME\nSTARTTLS",
    lines: ["mx.test greets you", "SIZE 1000", "8BITMIME", "STARTTLS"]
  },
  { code: 550, enhanced: "5.1.1", text: "no such user\nsee https://err.test/", lines: ["no such user", "see https://err.test/"] },
  { code: 221, text: "bye", lines: ["bye"] }
]

describe("ReplyParser", () => {
  it("chunking does not change the replies", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 12 }), (cuts) => {
        expect(feed(new ReplyParser(), EHLO + REFUSAL + "221 bye\r\n", cuts)).toEqual(EXPECTED)
      })
    )
  })

  it("keeps an unfinished reply pending and accepts a bare code", () => {
    const parser = new ReplyParser()
    expect(feed(parser, "250-first\r\n250")).toEqual([])
    expect(parser.pending).toBe(true)
    expect(feed(parser, "\r\n")).toEqual([{ code: 250, text: "first\n", lines: ["first", ""] }])
    expect(parser.pending).toBe(false)
  })

  it("takes an enhanced code only of the reply's class", () => {
    expect(feed(new ReplyParser(), "451 4.7.1 greylisted\r\n")[0].enhanced).toBe("4.7.1")
    expect(feed(new ReplyParser(), "250 5.0.0 odd\r\n")[0]).toEqual({ code: 250, text: "5.0.0 odd", lines: ["5.0.0 odd"] })
  })

  it("refuses garbage, a code change inside a reply, and overlong lines", () => {
    expect(() => feed(new ReplyParser(), "hello\r\n")).toThrow(ReplyParseError)
    expect(() => feed(new ReplyParser(), "250-a\r\n550 b\r\n")).toThrow(ReplyParseError)
    expect(() => feed(new ReplyParser(), "199 low\r\n")).toThrow(ReplyParseError)
    expect(() => feed(new ReplyParser(), `250 ${"x".repeat(MAX_REPLY_LINE_BYTES + 1)}`)).toThrow(ReplyParseError)
  })
})
