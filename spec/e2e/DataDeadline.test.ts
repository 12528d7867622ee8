import { afterEach, describe, expect, it } from "vitest"
import { loopbackTenant, startImprint, type RunningImprint } from "../support/Imprint.js"
import { RawSmtp, type Reply } from "../support/RawSmtp.js"
import { startSink, type Sink } from "../support/Sink.js"

/**
 * Issue 13, item 2: a sender that trickles its DATA (slowloris) is cut off
 * with 421 4.4.2 by the total DATA deadline (smtp.maxDataMs) or the minimum
 * rate (smtp.minDataRate over smtp.dataRateWindowMs), and the downstream
 * transaction is dropped before its dot (invariant 2). Small configured limits;
 * the assertions are on the reply and on what the sink got, never on time.
 */

const FROM = "alice@acme.example"
const HEAD = `From: Alice <${FROM}>\r\nTo: bob@customer.example\r\nSubject: slow\r\nMessage-ID: <slow@acme.example>\r\n\r\n`

let sink: Sink | undefined
let imprint: RunningImprint | undefined

const start = async (smtp: Record<string, unknown>) => {
  sink = await startSink({ starttls: false })
  imprint = await startImprint({ tenants: [loopbackTenant(sink.port)], config: { smtp } })
  return { sink, imprint }
}

afterEach(async () => {
  await imprint?.close()
  await sink?.close()
  imprint = undefined
  sink = undefined
})

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Opens DATA, sends the headers, waits until the downstream transaction is in
 * DATA, then trickles `chunk` every `everyMs` until the relay answers or closes
 * (at most `maxChunks` times). Returns the reply the relay gave.
 */
const trickle = async (c: RawSmtp, sink: Sink, chunk: string, everyMs: number, maxChunks: number): Promise<Reply> => {
  expect((await c.command(`MAIL FROM:<${FROM}>`)).code).toBe(250)
  expect((await c.command("RCPT TO:<bob@customer.example>")).code).toBe(250)
  expect((await c.command("DATA")).code).toBe(354)
  c.write(HEAD + "first line\r\n")
  await sink.waitUntil((s) => s.dataStarted === 1)
  let answered = false
  const reply = c.reply().finally(() => (answered = true))
  for (let i = 0; i < maxChunks && !answered && !c.closed; i++) {
    c.write(chunk)
    await sleep(everyMs)
  }
  return reply
}

describe("DATA deadline and minimum rate", () => {
  it("closes a session sending below the minimum rate with 421 4.4.2, and the downstream gets nothing", async () => {
    const { sink, imprint } = await start({ minDataRate: 5_000, dataRateWindowMs: 300 })
    const c = await RawSmtp.connect(imprint.port)
    // 10 bytes every 50 ms: about 200 bytes/s
    const reply = await trickle(c, sink, "xxxxxxxx\r\n", 50, 400)
    expect(reply.code).toBe(421)
    expect(reply.text).toMatch(/^4\.4\.2 .*slower than 5000 bytes\/s/)
    await c.waitClosed()
    await sink.waitUntil((s) => s.aborted === 1)
    expect(sink.messages).toHaveLength(0)
  })

  it("closes a session whose DATA outlasts maxDataMs with 421 4.4.2, while a prompt message passes", async () => {
    const { sink, imprint } = await start({ maxDataMs: 1_000, minDataRate: 0 })
    const prompt = await RawSmtp.connect(imprint.port)
    expect((await prompt.send(FROM, ["bob@customer.example"], HEAD + "quick\r\n")).code).toBe(250)
    await prompt.quit()

    const c = await RawSmtp.connect(imprint.port)
    // a line every 20 ms: not idle, just never done
    const reply = await trickle(c, sink, "y".repeat(70) + "\r\n", 20, 1_000)
    expect(reply.code).toBe(421)
    expect(reply.text).toMatch(/^4\.4\.2 .*not received within 1 s/)
    await c.waitClosed()
    await sink.waitUntil((s) => s.aborted === 1)
    expect(sink.messages).toHaveLength(1)
    expect(sink.messages[0].raw.toString()).toContain("quick")
  })
})
