import fc from "fast-check"
import { afterEach, describe, expect, it, vi } from "vitest"
import { cutInto, runStampedCopy } from "./MimeHarness.js"

/**
 * A bound session may write DATA a few bytes at a time. The stamped copy's scanner holds a line
 * that has not ended yet; mailsplit, whose logic it ports, joined what it held with each new piece,
 * so one long line in small pieces copied everything held at every piece (a 256 KB line in 64-byte
 * pieces: ~537 MB copied for one message). These specs count the bytes copied, never the time.
 */

const HEAD = "From: a@example.com\r\nTo: b@example.com\r\nSubject: trickle\r\nMIME-Version: 1.0\r\n"
const ATTACHMENT = "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nQUFB"

/** messages with one long line (`long` bytes): in a stamped text part, in a stamped HTML part, in an attachment left as it is */
const withLongLine = (long: number): Array<[string, Buffer]> => [
  [
    "text part",
    Buffer.from(
      `${HEAD}Content-Type: multipart/mixed; boundary="BB"\r\n\r\n--BB\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n` +
        `Hello\r\n${"x".repeat(long)}\r\nBye\r\n--BB\r\n${ATTACHMENT}\r\n--BB--\r\n`
    )
  ],
  ["html part", Buffer.from(`${HEAD}Content-Type: text/html; charset=utf-8\r\n\r\n<html><body>${"<p>x</p>".repeat(Math.ceil(long / 8))}</body></html>\r\n`)],
  [
    "attachment",
    Buffer.from(
      `${HEAD}Content-Type: multipart/mixed; boundary="BB"\r\n\r\n--BB\r\nContent-Type: text/plain\r\n\r\nHello\r\n` +
        `--BB\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${"QUFB".repeat(Math.ceil(long / 4))}\r\n--BB--\r\n`
    )
  ]
]

/** `run`'s result and the bytes Buffer.concat and Buffer#copy copied while it ran */
const copiedBy = async <A>(run: () => Promise<A>): Promise<{ readonly result: A; readonly copied: number }> => {
  const concat = Buffer.concat
  const copy = Buffer.prototype.copy
  let copied = 0
  vi.spyOn(Buffer, "concat").mockImplementation((list: ReadonlyArray<Uint8Array>, length?: number) => {
    const joined = concat(list, length)
    copied += joined.length
    return joined
  })
  vi.spyOn(Buffer.prototype, "copy").mockImplementation(function (this: unknown, ...args: Array<unknown>) {
    const n = copy.apply(this as Buffer, args as Parameters<Buffer["copy"]>)
    copied += n
    return n
  })
  try {
    const result = await run()
    return { result, copied }
  } finally {
    vi.restoreAllMocks()
  }
}

afterEach(() => vi.restoreAllMocks())

describe("a stamped copy fed a long line in small pieces", () => {
  it("copies each byte a bounded number of times, however small the pieces (no quadratic work per message)", async () => {
    for (const [name, message] of withLongLine(256 * 1024)) {
      const whole = await runStampedCopy([message])
      const { result, copied } = await copiedBy(() => runStampedCopy(cutInto(message, [64])))
      expect(result.equals(whole), name).toBe(true)
      // measured ~4x: the harness joins the output once, a re-encoded text part is copied once by its
      // encoder, the held line about twice (HeldLine: into its buffer, and when the buffer doubles)
      expect(copied, name).toBeLessThanOrEqual(6 * message.length)
    }
  }, 60_000)

  it("gives the same bytes however a message with long lines is cut", async () => {
    const x = (n: number) => "x".repeat(n)
    const shape = fc.oneof(
      fc.integer({ min: 1, max: 20_000 }).map((n) => withLongLine(n)[0][1]),
      fc.integer({ min: 1, max: 20_000 }).map((n) => withLongLine(n)[1][1]),
      fc.integer({ min: 1, max: 20_000 }).map((n) => withLongLine(n)[2][1]),
      // long lines that start as a boundary does, right before one, or that end the message unterminated
      fc
        .tuple(fc.integer({ min: 0, max: 9_000 }), fc.integer({ min: 0, max: 9_000 }), fc.constantFrom("--BB", "--BB--", "--B", "\r\n--BB", "-- ", ""))
        .map(([a, b, start]) =>
          Buffer.from(
            `${HEAD}Content-Type: multipart/mixed; boundary="BB"\r\n\r\n--BB\r\nContent-Type: text/plain\r\n\r\n` +
              `${start}${x(a)}\r\n${x(b)}\r\n--BB\r\nContent-Type: text/html\r\n\r\n<p>${x(b)}</p>\r\n--BB--\r\n${x(a)}`
          )
        ),
      // a long header line in the root and in a part's header block
      fc
        .integer({ min: 1, max: 9_000 })
        .map((n) =>
          Buffer.from(
            `${HEAD}X-Long: ${x(n)}\r\nContent-Type: multipart/alternative; boundary="BB"\r\n\r\n--BB\r\nContent-Type: text/plain\r\nX-Long: ${x(n)}\r\n\r\nHi ${x(n)}\r\n--BB--\r\n`
          )
        )
    )
    const cuts = fc.oneof(
      fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 6 }),
      fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 6 })
    )
    await fc.assert(
      fc.asyncProperty(shape, cuts, async (message, sizes) => {
        expect((await runStampedCopy(cutInto(message, sizes))).equals(await runStampedCopy([message]))).toBe(true)
      }),
      { numRuns: 150 }
    )
  }, 120_000)
})
