import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { bigMessageArb, cutsArb, messageArb } from "./MailGen.js"
import { cutInto, defaultPlan, element, runStampedCopy, runStamper, splitParts } from "./MimeHarness.js"
import type { StampPlan } from "../../../src/pipeline/mime/StampPlan.js"
import { leaves, readRfc, type RfcPart, shape } from "./RfcReader.js"
import { MimeScanner } from "../../../src/pipeline/mime/MimeScanner.js"

/**
 * Generated mail of the kinds CutIndependence.test.ts does not make (MailGen.ts: header folding
 * and RFC 2231 parameters, boundary edge cases, charsets, signed/encrypted structures, attached
 * messages, QP and base64 oddities), and the bugs it found, each as a plain example.
 */

const HEAD = "From: a@example.com\r\nTo: b@example.com\r\nSubject: generated\r\nMIME-Version: 1.0\r\n"

/** the copy, or the reason it was refused (a refusal must not depend on the cuts either) */
const stamp = (chunks: Array<Buffer>, plan: StampPlan = defaultPlan): Promise<Buffer> =>
  runStampedCopy(chunks, plan).catch((e: Error) => Buffer.from(`refused: ${e.message}`))

const PLANS: ReadonlyArray<StampPlan> = [
  defaultPlan,
  { ...defaultPlan, placeholder: "{{signature}}" },
  { elements: [element("bottom")], skipIfPresent: [] },
  { elements: [element("above-reply"), element("bottom", "b")], skipIfPresent: ["Ann"] }
]

/** the copy without the lines the relay puts in front (Received, the loop stamp): the generated root starts with From */
const withoutPrefix = (output: Buffer): Buffer => output.subarray(output.indexOf("From: "))

const isSealed = (part: RfcPart): boolean => part.type === "multipart/signed" || part.type === "multipart/encrypted"
const sealed = (part: RfcPart): boolean => isSealed(part) || part.children.some(sealed)

/** does the scanner meet a line that readers take as a delimiter and it does not (its parts then differ from the reader's) */
const strays = (message: Buffer): boolean => {
  let met = false
  const scanner = new MimeScanner(() => {}, { onStrayDelimiter: () => void (met = true) })
  scanner.write(message)
  scanner.end()
  return met
}

/** for each of the reader's leaves: does it sit inside signed or encrypted content */
const sealedLeaves = (part: RfcPart, inside = false): Array<boolean> =>
  part.children.length === 0 ? [inside] : part.children.flatMap((c) => sealedLeaves(c, inside || isSealed(part)))

describe("generated mail: header blocks, boundaries, charsets, structures, transfer encodings", () => {
  it("is stamped the same whatever the cuts (1-8 bytes, some up to 600), with any plan", async () => {
    await fc.assert(
      fc.asyncProperty(messageArb, cutsArb, fc.constantFrom(...PLANS), async (message, sizes, plan) => {
        expect((await stamp(cutInto(message, sizes), plan)).equals(await stamp([message], plan))).toBe(true)
      }),
      { numRuns: 800 }
    )
  }, 120_000)

  it("is stamped the same whatever the cuts when a body runs past the held start of the message", async () => {
    await fc.assert(
      fc.asyncProperty(bigMessageArb, cutsArb, async (message, sizes) => {
        expect((await stamp(cutInto(message, sizes))).equals(await stamp([message]))).toBe(true)
      }),
      { numRuns: 60 }
    )
  }, 120_000)

  it("reads, to a mail reader, as the same tree with every leaf but the text bodies byte-identical, and signed or encrypted mail untouched", async () => {
    await fc.assert(
      fc.asyncProperty(messageArb, async (message) => {
        const output = await runStampedCopy([message]).catch(() => undefined)
        // a refused copy is the relay's 451 and an unstamped retry: nothing to read
        if (output === undefined) return
        const before = readRfc(message)
        const after = readRfc(withoutPrefix(output))
        expect(shape(after)).toBe(shape(before))
        // signed or encrypted content in the message's own tree: the message passes as it came, unless
        // the splitter could not see that content (behind a stray delimiter: then only its parts are kept)
        if (sealed(before) && !strays(message)) expect(withoutPrefix(output).equals(message)).toBe(true)
        const a = leaves(before)
        const b = leaves(after)
        const insideSealed = sealedLeaves(before)
        let changed = 0
        for (let i = 0; i < a.length; i++) {
          if (a[i].part.headers.equals(b[i].part.headers) && a[i].part.body.equals(b[i].part.body)) continue
          changed++
          expect(a[i].part.type, `leaf ${a[i].path}`).toMatch(/^text\/(?:plain|html)$/)
          expect(insideSealed[i], `leaf ${a[i].path} inside signed or encrypted content`).toBe(false)
        }
        // the body, and its other form under the same multipart/alternative
        expect(changed).toBeLessThanOrEqual(2)
      }),
      { numRuns: 800 }
    )
  }, 120_000)
})

describe("generated mail: examples of what it found", () => {
  it("keeps the next boundary on a line of its own after a stamped base64 part whose body is empty", async () => {
    // the splitter hands such a part one empty line as its body and the boundary line without its
    // leading line break; the part left as base64 with no line break at its end, so "--BB" was glued
    // to the last base64 line and the attachment after it vanished into the text part
    const message = Buffer.from(
      `${HEAD}Content-Type: multipart/mixed; boundary="BB"\r\n\r\n--BB\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n` +
        `\r\n--BB\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nQUFBQQ==\r\n--BB--\r\n`,
      "latin1"
    )
    for (const output of [await runStampedCopy([message]), (await runStamper(message)).output]) {
      const parts = await splitParts(output)
      expect(parts.map((p) => p.node.contentType)).toEqual(["multipart/mixed", "text/plain", "application/octet-stream"])
      expect(parts[1].body.toString("latin1")).toMatch(/^[A-Za-z0-9+/=\r\n]+$/)
      expect(parts[2].body.toString("latin1")).toBe("QUFBQQ==")
    }
  })

  /** what a mail reader makes of the relay's copy: the same tree, and every leaf but the text bodies byte-identical */
  const expectReadAlike = async (message: Buffer): Promise<void> => {
    const output = await runStampedCopy([message])
    const before = readRfc(message)
    const after = readRfc(output.subarray(output.indexOf("From: ")))
    expect(shape(after)).toBe(shape(before))
    const a = leaves(before)
    const b = leaves(after)
    for (let i = 0; i < a.length; i++) {
      if (a[i].part.type === "text/plain" || a[i].part.type === "text/html") continue
      expect(b[i].part.body.toString("latin1"), a[i].path).toBe(a[i].part.body.toString("latin1"))
    }
  }

  it("leaves a part alone that holds the delimiter of a multipart above an unclosed one", async () => {
    // mailsplit looks for its current multipart's boundary and its parent's only: with the inner
    // multipart left unclosed, the outer "--BB" and the attachment after it became the text part's
    // body, and the re-encoded text part carried the attachment away (QUFBQQ== as QUFBQQ=3D=3D)
    await expectReadAlike(
      Buffer.from(
        `${HEAD}Content-Type: multipart/mixed; boundary="BB"\r\n\r\n--BB\r\nContent-Type: multipart/alternative; boundary="CC"\r\n\r\n` +
          `--CC\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n` +
          `--BB\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nQUFBQQ==\r\n--BB--\r\n`,
        "latin1"
      )
    )
  })

  it("fails the copy when that delimiter comes after the part already left re-encoded (fail-safe, invariant 5)", async () => {
    // past the held start of the message the text part commits and leaves quoted-printable before
    // the outer "--BB" arrives: re-encoding that line would take a delimiter away from readers, so
    // the copy must fail (451, and the retry passes unstamped) rather than be delivered
    const long = "A long body line that fills the held window before the outer delimiter.\r\n".repeat(1200)
    const message = Buffer.from(
      `${HEAD}Content-Type: multipart/mixed; boundary="BB"\r\n\r\n--BB\r\nContent-Type: multipart/alternative; boundary="CC"\r\n\r\n` +
        `--CC\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${long}` +
        `--BB\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nQUFBQQ==\r\n--BB--\r\n`,
      "latin1"
    )
    await expect(runStampedCopy([message])).rejects.toThrow(/malformed/)
    await expect(runStampedCopy(cutInto(message, [4096]))).rejects.toThrow(/malformed/)
  })

  it("leaves a part alone that holds a padded delimiter of a multipart whose boundary came in RFC 2231 pieces", async () => {
    // transport padding (RFC 2046 5.1.1) is a delimiter to readers, not to mailsplit; the check for it
    // read the boundary from "boundary=" only, so with "boundary*0=" the padded close line became
    // "--CC-- =09" in the re-encoded text, and readers lost the close and the part after it
    await expectReadAlike(
      Buffer.from(
        `${HEAD}Content-Type: multipart/mixed; boundary="BB"\r\n\r\n--BB\r\nContent-Type: multipart/mixed; boundary*0="C"; boundary*1="C"\r\n\r\n` +
          `--CC\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n--CC-- \t\r\n` +
          `--BB\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nQUFBQQ==\r\n--BB--\r\n`,
        "latin1"
      )
    )
  })

  it("keeps a character outside the BMP whole in UTF-16 text, wherever the part was cut", async () => {
    // a UTF-16 decoder hands on the high half of a surrogate pair when a write ends between the
    // halves (the scanner hands on whole lines: here, a soft line break between them); below the
    // insertion point the splicer let it go on alone when it emitted all it held, and the encoder
    // wrote each lone half as U+FFFD
    const text = Buffer.concat([
      Buffer.from([0xfe, 0xff]),
      Buffer.from("Hello 😀\r\n\r\nOn Mon, 1 Jan 2024, Bob wrote:\r\n> 😀 there 😀😀\r\n", "utf16le").swap16()
    ])
    for (const [charset, body] of [
      ["utf-16be", text.subarray(2)],
      ["utf-16", text]
    ] as const) {
      // quoted-printable with a soft line break after every UTF-16 unit, so the halves of a pair sit on two lines
      const qp = [...body]
        .map((b) => `=${b.toString(16).toUpperCase().padStart(2, "0")}`)
        .join("")
        .replace(/(?:=..){2}(?!$)/g, "$&=\r\n")
      const message = Buffer.from(
        `${HEAD}Content-Type: text/plain; charset=${charset}\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${qp}\r\n`,
        "latin1"
      )
      const whole = await runStampedCopy([message])
      expect(whole.toString("latin1")).toContain("=F0=9F=98=80")
      for (const size of [1, 2, 3, 5, 7])
        expect((await runStampedCopy(cutInto(message, [size]))).toString("latin1"), `${charset}, pieces of ${size}`).toBe(whole.toString("latin1"))
    }
  })

  it("does not write a line of a re-encoded part that starts with the delimiter of an enclosing multipart", async () => {
    // quoted-printable can hide "--BB" from the splitter with a soft line break ("--B=" / "B"); decoded
    // and encoded again the line came out whole, and readers took it for a delimiter: a part more
    for (const body of ["--B=\r\nB\r\n", "Hello\r\n--B=\r\nB--\r\n", `${"x".repeat(74)}=\r\n--BB and more\r\n`]) {
      await expectReadAlike(
        Buffer.from(
          `${HEAD}Content-Type: multipart/mixed; boundary="BB"\r\n\r\n--BB\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n` +
            `${body}\r\n--BB\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nQUFBQQ==\r\n--BB--\r\n`,
          "latin1"
        )
      )
    }
  })
})
