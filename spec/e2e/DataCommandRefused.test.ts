import { afterEach, describe, expect, it } from "vitest"
import { loopbackTenant, signatureTenant, startImprint, type RunningImprint } from "../support/Imprint.js"
import { RawSmtp } from "../support/RawSmtp.js"
import { startSink, type Sink, type SinkReply } from "../support/Sink.js"

/**
 * Issue 13, item 1: a downstream that answers the DATA command with 451 or 554
 * instead of 354. The refusal must reach the upstream with the downstream's own
 * code right after the upstream's dot, whatever the message size (it used to
 * hang above ~16 KB: nothing read the message once the downstream had refused
 * it), and the session must stay usable. RawSmtp waits at most 10 s for a
 * reply, so a hang fails the test instead of stalling it.
 */

const FROM = "alice@acme.example"

const message = (subject: string, bytes: number) => {
  const head = `From: Alice <${FROM}>\r\nTo: bob@customer.example\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@acme.example>\r\nContent-Type: text/plain\r\n\r\n`
  const line = "x".repeat(74) + "\r\n"
  return head + line.repeat(Math.ceil(bytes / line.length))
}

let sink: Sink | undefined
let imprint: RunningImprint | undefined

const start = async (refuse: SinkReply, tenant: (port: number) => unknown = loopbackTenant) => {
  sink = await startSink({ starttls: false, refuseDataCommand: refuse })
  imprint = await startImprint({ tenants: [tenant(sink.port)] })
  return { sink, imprint }
}

afterEach(async () => {
  await imprint?.close()
  await sink?.close()
  imprint = undefined
  sink = undefined
})

const SIZES = [20 * 1024, 200 * 1024, 2 * 1024 * 1024]

describe("the downstream refuses the DATA command", () => {
  for (const refusal of [
    { code: 451, enhanced: "4.3.1", message: "insufficient system resources" },
    { code: 554, enhanced: "5.7.1", message: "no valid recipients" }
  ]) {
    it(`passes ${refusal.code} upstream for 20 KB, 200 KB and 2 MB messages, and the session goes on`, async () => {
      const { sink, imprint } = await start(refusal)
      const c = await RawSmtp.connect(imprint.port)
      for (const size of SIZES) {
        const reply = await c.send(FROM, ["bob@customer.example"], message(`refused-${size}`, size))
        expect(reply).toEqual({ code: refusal.code, text: `${refusal.enhanced} ${refusal.message}` })
      }
      // the upstream session is still in step: RSET and NOOP are answered as such
      expect((await c.command("RSET")).code).toBe(250)
      expect((await c.command("NOOP")).code).toBe(250)
      await c.quit()
      expect(sink.dataRefused).toBe(SIZES.length)
      expect(sink.messages).toHaveLength(0)
    })
  }

  it("passes the refusal upstream for a stamped message split into two copies", async () => {
    const { sink, imprint } = await start({ code: 451, enhanced: "4.3.1", message: "try later" }, signatureTenant)
    const c = await RawSmtp.connect(imprint.port)
    // an internal and an external recipient: a signature copy and a disclaimer copy
    const reply = await c.send(FROM, ["carol@acme.example", "bob@customer.example"], message("two-copies", 200 * 1024))
    expect(reply).toEqual({ code: 451, text: "4.3.1 try later" })
    await c.quit()
    expect(sink.messages).toHaveLength(0)
  })
})
