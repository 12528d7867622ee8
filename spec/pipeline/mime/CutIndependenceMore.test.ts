import { describe, expect, it } from "vitest"
import { runStampedCopy, runStamper, splitParts } from "./MimeHarness.js"

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
})
