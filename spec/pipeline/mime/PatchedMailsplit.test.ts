import fc from "fast-check"
import { Joiner, Splitter } from "mailsplit"
import { describe, expect, it } from "vitest"
import { SplitterGuard } from "../../../src/pipeline/mime/SplitterGuard.js"

/**
 * patches/apply.mjs "mailsplit-sync-lines": the Splitter goes on with the next
 * line in the same turn when a line was processed synchronously, instead of one
 * setImmediate per line (a 1 MB base64 attachment was ~13,000 event-loop turns).
 */
describe("patched mailsplit Splitter", () => {
  it("splits a chunk of many body lines within the turn it was written in, bytes unchanged", async () => {
    const lines = Array.from({ length: 2_000 }, (_, i) => `line ${i} ${"QUJD".repeat(18)}\r\n`).join("")
    const message = Buffer.from(`Content-Type: text/plain\r\n\r\n${lines}`)
    const splitter = new Splitter()
    const bodyBytes: Array<Buffer> = []
    splitter.on("data", (part: { type: string; value?: Buffer }) => {
      if (part.type === "body" && part.value) bodyBytes.push(part.value)
    })
    let calledBack = false
    splitter.write(message, () => (calledBack = true))
    // one setImmediate: unpatched, the Splitter has handled about one line by now
    await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setImmediate(resolve))
    expect(calledBack).toBe(true)
    splitter.end()
    await new Promise((resolve) => splitter.once("end", resolve))
    expect(Buffer.concat(bodyBytes).toString("latin1")).toBe(lines)
  })
})

/**
 * patches/apply.mjs "mailsplit-body-runs": line ends are found with indexOf, and
 * a body line that cannot start a boundary extends the current body run without
 * a processLine call (a 1 MB base64 attachment was ~13,000 slices and callbacks).
 */
describe("patched mailsplit Splitter, body runs", () => {
  type Part = { type: string; value?: Buffer; node?: unknown }

  const split = async (chunks: ReadonlyArray<Buffer>, onSplitter?: (s: Splitter) => void) => {
    const splitter = new Splitter()
    onSplitter?.(splitter)
    const bodies = new Map<unknown, Array<Buffer>>()
    const joined: Array<Buffer> = []
    const joiner = new Joiner()
    joiner.on("data", (b: Buffer) => joined.push(b))
    splitter.on("data", (part: Part) => {
      if (part.type === "node" && !bodies.has(part)) bodies.set(part, [])
      if (part.type === "body" && part.value) {
        const list = bodies.get(part.node) ?? []
        list.push(part.value)
        bodies.set(part.node, list)
      }
      joiner.write(part)
    })
    // as in the relay: mailsplit loses bytes when a chunk ends on the CR of a CRLF (SplitterGuard's module)
    const guard = new SplitterGuard()
    guard.pipe(splitter)
    for (const chunk of chunks) guard.write(chunk)
    guard.end()
    await new Promise((resolve) => splitter.once("end", resolve))
    joiner.end()
    await new Promise((resolve) => joiner.once("end", resolve))
    return { bodies: [...bodies.values()].map((b) => Buffer.concat(b).toString("latin1")), joined: Buffer.concat(joined).toString("latin1") }
  }

  it("hands a run of plain body lines to processLine as one, not line by line", async () => {
    const lines = Array.from({ length: 2_000 }, (_, i) => `${"QUJD".repeat(19)}${i % 10}\r\n`).join("")
    let calls = 0
    const { bodies } = await split([Buffer.from(`Content-Type: text/plain\r\n\r\n${lines}`)], (s) => {
      // processLine is mailsplit's internal per-line step (not in its typings)
      const internal = s as unknown as { processLine: (...args: Array<unknown>) => unknown }
      const original = internal.processLine.bind(s)
      internal.processLine = (...args) => {
        calls++
        return original(...args)
      }
    })
    expect(bodies).toEqual([lines])
    // a header line, the blank line, the first body line, the final call; unpatched: one per line
    expect(calls).toBeLessThan(10)
  })

  it("finds every boundary and keeps every byte whatever the lines start with and wherever chunks end", async () => {
    const line = fc.oneof(
      fc.constantFrom("", "-", "--", "--bx", "--b-", "--b--x", "---b", "- -b", ".", "\t-", " --b"),
      // a generated line may spell the delimiter itself ("--b", "--b--"): that is a boundary, not body
      fc.stringMatching(/^[A-Za-z0-9+/= -]{0,40}$/).filter((l) => l !== "--b" && l !== "--b--")
    )
    const part = fc.array(line, { minLength: 0, maxLength: 12 })
    await fc.assert(
      fc.asyncProperty(
        fc.array(part, { minLength: 1, maxLength: 4 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 40 }),
        async (parts, cuts) => {
          const body = (p: ReadonlyArray<string>) => p.map((l) => `${l}\r\n`).join("")
          const message =
            "Content-Type: multipart/mixed; boundary=b\r\n\r\npreamble\r\n" +
            parts.map((p) => `--b\r\nContent-Type: text/plain\r\n\r\n${body(p)}`).join("") +
            "--b--\r\nepilogue\r\n"
          const bytes = Buffer.from(message, "latin1")
          const chunks: Array<Buffer> = []
          let at = 0
          for (let k = 0; at < bytes.length; k++) {
            const size = cuts[k % cuts.length]
            chunks.push(bytes.subarray(at, at + size))
            at += size
          }
          const { bodies, joined } = await split(chunks)
          expect(joined).toBe(message)
          // a child part's body ends before the line break that precedes the next boundary; where a
          // chunk ends decides whether mailsplit keeps that break in the body (unpatched as well)
          const [, ...children] = bodies
          expect(children.length).toBe(parts.length)
          children.forEach((got, i) => {
            const expected = body(parts[i]).replace(/\r\n$/, "")
            expect([expected, `${expected}\r\n`]).toContain(got)
          })
        }
      ),
      { numRuns: 300 }
    )
  })
})

/**
 * patches/apply.mjs "mailsplit-empty-line-body" and "mailsplit-header-only-close": what a part's
 * body is, and which bytes go on, did not depend on the message alone but on where a chunk ended.
 */
describe("patched mailsplit Splitter, wherever chunks end", () => {
  type Part = { type: string; value?: Buffer; node?: unknown; getHeaders?: () => Buffer }

  /** every node's body (in node order) and the bytes joined as the Joiner joins them */
  const split = async (chunks: ReadonlyArray<Buffer>) => {
    const splitter = new Splitter()
    const bodies = new Map<unknown, string>()
    const joined: Array<Buffer> = []
    splitter.on("data", (part: Part) => {
      if (part.type === "node") {
        bodies.set(part, "")
        joined.push(part.getHeaders!())
      } else if (part.value) {
        if (part.type === "body") bodies.set(part.node, bodies.get(part.node) + part.value.toString("latin1"))
        joined.push(part.value)
      }
    })
    const guard = new SplitterGuard()
    guard.pipe(splitter)
    for (const chunk of chunks) guard.write(chunk)
    guard.end()
    await new Promise((resolve) => splitter.once("end", resolve))
    return { bodies: [...bodies.values()], joined: Buffer.concat(joined).toString("latin1") }
  }

  const cutAtEveryPosition = async (message: string) => {
    const bytes = Buffer.from(message, "latin1")
    const whole = await split([bytes])
    for (let at = 1; at < bytes.length; at++) expect(await split([bytes.subarray(0, at), bytes.subarray(at)])).toEqual(whole)
    return whole
  }

  it("hands on a body of one empty line before a next part's boundary as that line, in one chunk or cut", async () => {
    const message =
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\r\n--b\r\nContent-Type: application/pdf\r\n\r\nJVBE\r\n--b--\r\n"
    const whole = await cutAtEveryPosition(message)
    expect(whole.bodies).toEqual(["", "\r\n", "JVBE"])
    expect(whole.joined).toBe(message)
  })

  it("hands on the header lines of a part ended by its parent's closing boundary once, in one chunk or cut", async () => {
    const message = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: text/plain\r\n--b--\r\n"
    const whole = await cutAtEveryPosition(message)
    expect(whole.joined).toBe(message)
  })
})
