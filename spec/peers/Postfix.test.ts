import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { stripImprintHeaders } from "../support/Corpus.js"
import { freePort } from "../support/FreePort.js"
import { loopbackTenant, startImprint, type RunningImprint } from "../support/Imprint.js"
import { RawSmtp } from "../support/RawSmtp.js"
import { startSink, type Sink } from "../support/Sink.js"
import { startPostfix, type PostfixInstance } from "./PostfixPeer.js"

describe("Postfix hands its outgoing mail to Imprint (relayhost)", () => {
  let sink: Sink
  let imprint: RunningImprint
  let postfix: PostfixInstance

  beforeAll(async () => {
    sink = await startSink({ starttls: false })
    imprint = await startImprint({ tenants: [loopbackTenant(sink.port)] })
    postfix = startPostfix({ port: await freePort(), imprintPort: imprint.port })
    // master starts smtpd on demand; wait (bounded) until it accepts connections
    for (let i = 0; ; i++) {
      try {
        const c = await RawSmtp.connect(postfix.port)
        await c.command("QUIT")
        break
      } catch (e) {
        if (i > 50) throw e
        await new Promise((r) => setTimeout(r, 200))
      }
    }
  })
  afterAll(async () => {
    postfix?.stop()
    await imprint?.close()
    await sink?.close()
  })

  it("a message submitted to Postfix arrives once, over TLS through Imprint, with Imprint's headers", async () => {
    const c = await RawSmtp.connect(postfix.port)
    const body =
      "From: Alice <alice@acme.example>\r\nTo: bob@customer.example\r\nSubject: via postfix\r\nMessage-ID: <via-postfix@acme.example>\r\n\r\nHello through Postfix.\r\n"
    const r = await c.send("alice@acme.example", ["bob@customer.example"], body)
    c.end()
    expect(r.code).toBe(250)
    try {
      await sink.waitFor(1, 60_000)
    } catch (e) {
      throw new Error(`nothing arrived; Postfix log:\n${postfix.log()}`)
    }
    const [got] = sink.messages
    expect(got.mailFrom).toBe("alice@acme.example")
    expect(got.rcptTo).toEqual(["bob@customer.example"])
    const unfolded = got.raw.toString("latin1").replace(/\r\n[ \t]+/g, " ")
    expect(unfolded).toMatch(/^Received: from postfix\.test \(\[127\.0\.0\.1\]\) by imprint\.localhost \(Imprint\) with ESMTPS /)
    expect(unfolded).toMatch(/\r\nX-Imprint-Loop: v=1; t=acme;/)
    // Postfix's own trace header follows, then the message as submitted
    expect(stripImprintHeaders(got.raw).toString("latin1")).toMatch(
      /^Received: from client\.test [^\r\n]*\r\n\tby postfix\.test \(Postfix\)[\s\S]*Subject: via postfix\r\n[\s\S]*\r\n\r\nHello through Postfix\.\r\n$/
    )
    // Postfix logs the delivery after Imprint's 250 reached it: wait (bounded) for the line
    const sent = /relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+.*status=sent/
    for (let i = 0; i < 100 && !sent.test(postfix.log()); i++) await new Promise((r) => setTimeout(r, 100))
    expect(postfix.log()).toMatch(sent)
    expect(sink.messages).toHaveLength(1)
  })
})
