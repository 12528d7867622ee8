import { describe, expect, it } from "vitest"
import { relayToSink } from "../support/Imprint.js"
import { RawSmtp } from "../support/RawSmtp.js"

/**
 * SMTP smuggling (invariant 8): the published end-of-data variants, each
 * followed by a smuggled transaction. Imprint must refuse the message (5xx)
 * and the downstream must receive nothing at all, smuggled or not.
 */
const VARIANTS: ReadonlyArray<[string, string]> = [
  ["\\n.\\n", "\n.\n"],
  ["\\r.\\r", "\r.\r"],
  ["\\r.\\n", "\r.\n"],
  ["\\n.\\r", "\n.\r"],
  ["\\n.\\r\\n", "\n.\r\n"],
  ["\\r\\n.\\n", "\r\n.\n"],
  ["\\r.\\r\\n", "\r.\r\n"],
  ["\\r\\n.\\r", "\r\n.\r"],
  ["\\r\\n\\x00.\\r\\n", "\r\n\x00.\r\n"]
]

describe("SMTP smuggling", () => {
  const relay = relayToSink()

  it.each(VARIANTS)("refuses end-of-data variant %s and relays nothing", async (_name, variant) => {
    const before = relay.sink.messages.length
    const c = await RawSmtp.connect(relay.imprint.port)
    expect((await c.command("MAIL FROM:<alice@acme.example>")).code).toBe(250)
    expect((await c.command("RCPT TO:<bob@customer.example>")).code).toBe(250)
    expect((await c.command("DATA")).code).toBe(354)
    const smuggled =
      "MAIL FROM:<ceo@acme.example>\r\nRCPT TO:<victim@customer.example>\r\nDATA\r\nFrom: ceo@acme.example\r\nSubject: smuggled\r\n\r\nwire money\r\n.\r\n"
    c.write(`From: alice@acme.example\r\nSubject: carrier\r\n\r\nhello${variant}${smuggled}`)
    // if the variant was not taken as the end, the smuggled DATA's dot ends the message here
    const r = await c.reply()
    expect(r.code).toBeGreaterThanOrEqual(500)
    expect(r.code).toBeLessThan(600)
    // anything still queued as commands gets refused or answered; close and check the downstream
    c.write("QUIT\r\n")
    await c.waitClosed()
    expect(relay.sink.messages.length).toBe(before)
    expect(relay.sink.messages.some((m) => m.raw.toString("latin1").includes("smuggled") || m.rcptTo.includes("victim@customer.example"))).toBe(false)
  })

  it("still relays a clean message afterwards", async () => {
    const c = await RawSmtp.connect(relay.imprint.port)
    const r = await c.send("alice@acme.example", ["bob@customer.example"], "Subject: clean\r\n\r\nfine\r\n")
    c.end()
    expect(r.code).toBe(250)
    await relay.sink.waitUntil((s) => s.messages.some((m) => m.raw.toString().includes("Subject: clean")))
  })
})
