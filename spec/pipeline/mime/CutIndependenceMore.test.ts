import { describe, expect, it } from "vitest"
import { runStampedCopy, runStamper, splitParts } from "./MimeHarness.js"
import { leaves, readRfc, shape } from "./RfcReader.js"

/**
 * Generated mail of the kinds CutIndependence.test.ts does not make (MailGen.ts: header folding
 * and RFC 2231 parameters, boundary edge cases, charsets, signed/encrypted structures, attached
 * messages, QP and base64 oddities), and the bugs it found, each as a plain example.
 */

const HEAD = "From: a@example.com\r\nTo: b@example.com\r\nSubject: generated\r\nMIME-Version: 1.0\r\n"

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
})
