import { describe, expect, it } from "vitest"
import { corpusMessages, stripImprintHeaders, toCrlf } from "../support/Corpus.js"
import { relayToSink } from "../support/Imprint.js"
import { RawSmtp } from "../support/RawSmtp.js"

/**
 * Every corpus message relayed through a real relay to a real sink: each
 * arrives once, byte-identical to what the client sent (line endings as CRLF)
 * apart from the Received and loop stamp headers Imprint adds (invariant 4).
 */
describe("the corpus through the relay", () => {
  const messages = corpusMessages()
  const relay = relayToSink()

  it(`relays all ${messages.length} messages once and unchanged`, async () => {
    expect(messages.length).toBeGreaterThan(300)
    const c = await RawSmtp.connect(relay.imprint.port)
    const failures: string[] = []
    for (const [i, m] of messages.entries()) {
      const sent = toCrlf(m.bytes)
      if (process.env.CORPUS_TRACE) console.log("sending", m.name)
      const r = await c.send("alice@acme.example", [`rcpt${i}@customer.example`], sent)
      if (r.code !== 250) {
        failures.push(`${m.name}: ${r.code} ${r.text}`)
        await c.command("RSET")
        continue
      }
      const got = relay.sink.messages.filter((x) => x.rcptTo[0] === `rcpt${i}@customer.example`)
      const expected = sent.subarray(-2).toString() === "\r\n" ? sent : Buffer.concat([sent, Buffer.from("\r\n")])
      if (got.length !== 1) failures.push(`${m.name}: arrived ${got.length} times`)
      else if (!stripImprintHeaders(got[0].raw).equals(expected)) failures.push(`${m.name}: bytes differ`)
    }
    c.end()
    expect(failures).toEqual([])
    expect(relay.sink.messages).toHaveLength(messages.length)
  })
})
