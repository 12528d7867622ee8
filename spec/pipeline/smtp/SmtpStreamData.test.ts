import fc from "fast-check"
import { createRequire } from "node:module"
import type { PassThrough, Writable } from "node:stream"
import { describe, expect, it } from "vitest"

/**
 * smtp-server's DATA reader (SMTPStream, patched by patches/apply.mjs `smtp-stream-no-copy`):
 * what it hands on must not depend on where the socket's reads ended (dot-unstuffing, the
 * terminating dot, what was pipelined after it), and a read whose last bytes cannot be part
 * of an escape or the terminator goes on as a slice of the read, not a copy of it.
 */

interface DataStream extends PassThrough {
  byteLength: number
}
interface SmtpStream extends Writable {
  oncommand: (command: Buffer, next?: () => void) => void
  startDataMode: (maxBytes?: number) => DataStream
  continue: () => void
  dataBytes: number
}
type SmtpStreamClass = new () => SmtpStream

// both builds the package ships are patched alike; the relay imports the ESM one
const esmPath: string = "smtp-server/lib/smtp-stream.js"
const flavours: ReadonlyArray<[string, () => Promise<SmtpStreamClass>]> = [
  ["esm", async () => ((await import(esmPath)) as { SMTPStream: SmtpStreamClass }).SMTPStream],
  ["cjs", async () => (createRequire(import.meta.url)(esmPath) as { SMTPStream: SmtpStreamClass }).SMTPStream]
]

interface Fed {
  /** the data stream's chunks */
  readonly chunks: ReadonlyArray<Buffer>
  readonly data: string
  readonly byteLength: number
  /** the commands read after the terminating dot */
  readonly commands: ReadonlyArray<string>
}

/** Starts DATA on a fresh parser, writes `pieces` as separate reads, and collects what it handed on. */
const feed = (SMTPStream: SmtpStreamClass, pieces: ReadonlyArray<Buffer>): Promise<Fed> =>
  new Promise((resolve, reject) => {
    const parser = new SMTPStream()
    const commands: Array<string> = []
    parser.oncommand = (command, next) => {
      commands.push(command.toString("latin1"))
      next?.()
    }
    const chunks: Array<Buffer> = []
    const data = parser.startDataMode()
    data.on("data", (c: Buffer) => chunks.push(c))
    data.on("end", () => parser.continue())
    parser.on("error", reject)
    parser.on("finish", () => resolve({ chunks, data: Buffer.concat(chunks).toString("latin1"), byteLength: data.byteLength, commands: [...commands] }))
    for (const p of pieces) parser.write(p)
    parser.end()
  })

const cutAt = (input: Buffer, cuts: ReadonlyArray<number>): Array<Buffer> => {
  const out: Array<Buffer> = []
  let from = 0
  for (const c of [...cuts].sort((a, b) => a - b)) {
    if (c > from && c < input.length) {
      out.push(input.subarray(from, c))
      from = c
    }
  }
  out.push(input.subarray(from))
  return out
}

/**
 * smtp-server's reading of RFC 5321 §4.5.2 on CRLF-only input: up to the line ".", the first dot
 * of a line that starts with two removed (a single leading dot before other text, which a sender
 * never writes, stays); then every line after the end is a command
 */
const unstuff = (payload: string): { data: string; commands: ReadonlyArray<string> } => {
  const lines = payload.split("\r\n")
  const end = lines.indexOf(".")
  const body = lines.slice(0, end).map((l) => (l.startsWith("..") ? l.slice(1) : l))
  return { data: body.map((l) => l + "\r\n").join(""), commands: lines.slice(end + 1, -1) }
}

/** dot-heavy lines: escapes, lines of dots, dots in the middle, empty lines */
const line = fc.constantFrom("", ".", "..", "...", ".a", "..a", "a", "a.", "a.b", "ab.cd", "a..", " .", "\t.")
const message = fc.array(line, { minLength: 0, maxLength: 12 }).map((lines) => lines.map((l) => l + "\r\n").join(""))
const payloadOf = (body: string): Buffer => Buffer.from(`${body}.\r\nQUIT\r\n`, "latin1")

describe.each(flavours)("smtp-server's DATA reader (%s)", (_name, load) => {
  it("reads a dot-stuffed message the same at every single cut", async () => {
    const SMTPStream = await load()
    const bodies = ["", ".\r\n", "..\r\n", "a\r\n.\r\n", "..a\r\n...\r\nb\r\n", "line one\r\n..\r\n.x\r\n\r\n..\r\n", "abcd\r\n.efgh\r\nijkl..\r\n..mnop\r\n"]
    for (const body of bodies) {
      const input = payloadOf(body)
      const expected = unstuff(input.toString("latin1"))
      for (let cut = 0; cut <= input.length; cut++) {
        const fed = await feed(SMTPStream, cutAt(input, [cut]))
        expect({ body, cut, data: fed.data, commands: fed.commands, bytes: fed.byteLength }).toEqual({
          body,
          cut,
          data: expected.data,
          commands: expected.commands,
          bytes: Buffer.byteLength(expected.data, "latin1")
        })
      }
    }
  })

  /** the input cut at every pair of positions reads as `expected` */
  const atEveryPairOfCuts = async (SMTPStream: Awaited<ReturnType<typeof load>>, input: Buffer, expected: { data: unknown; commands: unknown }) => {
    for (let a = 1; a < input.length; a++) {
      for (let b = a; b < input.length; b++) {
        const fed = await feed(SMTPStream, cutAt(input, [a, b]))
        expect({ a, b, data: fed.data, commands: fed.commands }).toEqual({ a, b, data: expected.data, commands: expected.commands })
      }
    }
  }

  it("reads a dot-stuffed message the same at every pair of cuts", async () => {
    const SMTPStream = await load()
    const input = payloadOf("ab\r\n..\r\n.cd\r\nefgh\r\n...\r\n")
    await atEveryPairOfCuts(SMTPStream, input, unstuff(input.toString("latin1")))
  })

  it("reads bare line feeds the same at every pair of cuts as in one read", async () => {
    const SMTPStream = await load()
    const input = Buffer.from("abcd\n..ef\n.\r\nghij\n..\r\n.\r\nQUIT\r\n", "latin1")
    await atEveryPairOfCuts(SMTPStream, input, await feed(SMTPStream, [input]))
  })

  it("reads random dot-heavy messages the same however they are cut into reads", async () => {
    const SMTPStream = await load()
    await fc.assert(
      fc.asyncProperty(message, fc.array(fc.nat(), { maxLength: 8 }), async (body, cutSeeds) => {
        const input = payloadOf(body)
        const cuts = cutSeeds.map((s) => s % (input.length + 1))
        const fed = await feed(SMTPStream, cutAt(input, cuts))
        const expected = unstuff(input.toString("latin1"))
        expect(fed.data).toBe(expected.data)
        expect(fed.byteLength).toBe(Buffer.byteLength(expected.data, "latin1"))
        expect(fed.commands).toEqual(expected.commands)
      }),
      { numRuns: 300 }
    )
  })

  it("reads bare line feeds the same however the input is cut", async () => {
    // smtp-server reads a dot after a bare LF as a line's first character; the relay refuses bare
    // LF later (LineGuard), but what the reader hands on must still not depend on the cuts
    const SMTPStream = await load()
    const bare = fc.constantFrom("\n", "\r", ".", "..", "a", "\r\n", "\n.", "\n..", "\r\n.")
    await fc.assert(
      fc.asyncProperty(fc.array(bare, { maxLength: 16 }), fc.array(fc.nat(), { maxLength: 8 }), async (parts, cutSeeds) => {
        const input = Buffer.from(`x${parts.join("")}\r\n.\r\nQUIT\r\n`, "latin1")
        const whole = await feed(SMTPStream, [input])
        const cut = await feed(
          SMTPStream,
          cutAt(
            input,
            cutSeeds.map((s) => s % (input.length + 1))
          )
        )
        expect({ data: cut.data, commands: cut.commands }).toEqual({ data: whole.data, commands: whole.commands })
      }),
      { numRuns: 300 }
    )
  })

  it("hands on a read whose last bytes cannot start an escape or the end as a slice of it, not a copy", async () => {
    const SMTPStream = await load()
    // two reads of base64-like lines, each ending inside a line: nothing to hold back
    const lines = (n: number): string => "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\r\n".repeat(n)
    const first = Buffer.from(lines(400) + "QUJD", "latin1")
    const second = Buffer.from("REVG\r\n" + lines(400) + "QUJD", "latin1")
    const fed = await feed(SMTPStream, [first, second, Buffer.from("\r\n.\r\n", "latin1")])
    expect(fed.data).toBe(first.toString("latin1") + second.toString("latin1") + "\r\n")
    const shared = (read: Buffer) => fed.chunks.filter((c) => c.buffer === read.buffer).reduce((n, c) => n + c.length, 0)
    expect(shared(first)).toBe(first.length)
    expect(shared(second)).toBe(second.length)
  })
})
