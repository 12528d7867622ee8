/**
 * Issue 14, item 6: a message that had no MIME headers and gains
 * Content-Transfer-Encoding (and a charset) when stamped also gains
 * "MIME-Version: 1.0" (RFC 2045 §4: the other MIME fields mean nothing without it).
 */
import { describe, expect, it } from "vitest"
import { runStamper } from "./MimeHarness.js"

describe("root headers of a stamped single-part message", () => {
  it("adds MIME-Version when the message had none", async () => {
    const input = Buffer.from("From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nHello there.\r\n")
    const { output, outcome } = await runStamper(input)
    expect(outcome.stamped).toEqual(["text"])
    const head = output.toString("latin1").split("\r\n\r\n")[0]
    expect(head).toMatch(/^Content-Transfer-Encoding: quoted-printable$/im)
    expect(head.match(/^MIME-Version: 1\.0$/gim)?.length).toBe(1)
  })

  it("keeps a MIME-Version that is there, once", async () => {
    const input = Buffer.from("From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nHello there.\r\n")
    const head = (await runStamper(input)).output.toString("latin1").split("\r\n\r\n")[0]
    expect(head.match(/^MIME-Version:/gim)?.length).toBe(1)
  })
})

describe("text templates", () => {
  it("keep the RFC 3676 signature separator '-- ' with its trailing space, also in format=flowed", async () => {
    const { SignatureElement } = await import("../../../src/domain/Signature.js")
    const { element, splitParts, decodeText } = await import("./MimeHarness.js")
    const plan = { elements: [new SignatureElement({ ...element(), text: "-- \nJane Doe  \nSales" })], skipIfPresent: [] }
    for (const type of ["text/plain; charset=utf-8", "text/plain; charset=utf-8; format=flowed"]) {
      const input = Buffer.from(`From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: ${type}\r\n\r\nHello there.\r\n`)
      const { output } = await runStamper(input, plan)
      const text = decodeText((await splitParts(output))[0], "text")
      expect(text).toBe("Hello there.\r\n\r\n-- \r\nJane Doe\r\nSales\r\n")
    }
  })
})
