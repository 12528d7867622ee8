import { afterEach, describe, expect, it } from "vitest"
import { loopbackTenant, startImprint, type RunningImprint } from "../support/Imprint.js"
import { RawSmtp } from "../support/RawSmtp.js"
import { startSink, type Sink, type SinkOptions } from "../support/Sink.js"

/**
 * The relay's log lines through the real relay on loopback, written twice:
 * by the production logger (LogOutput's jsonLines) and by Effect's own
 * `Logger.jsonLogger`, beside each other on the same calls. Every line, the
 * per-message outcome lines of a relayed, a not relayed and a refused
 * transaction included, must be the same text (issue 16: the outcome line
 * made cheap without a byte of it changing).
 */

const FROM = "alice@acme.example"
const MSG = (id: string) => `From: ${FROM}\r\nTo: bob@customer.example\r\nSubject: ${id}\r\nMessage-ID: <${id}@acme.example>\r\n\r\nHello.\r\n`

let sink: Sink | undefined
let imprint: RunningImprint | undefined

afterEach(async () => {
  await imprint?.close()
  await sink?.close()
  imprint = undefined
  sink = undefined
})

const start = async (sinkOptions: SinkOptions = {}) => {
  sink = await startSink({ starttls: false, ...sinkOptions })
  const reference: Array<string> = []
  const production: Array<string> = []
  imprint = await startImprint({ tenants: [loopbackTenant(sink.port)], logLines: reference, productionLogLines: production })
  return { imprint, reference, production }
}

/** Waits (bounded) until a line with this message was written. */
const waitFor = async (lines: Array<string>, message: string): Promise<void> => {
  for (let i = 0; i < 250; i++) {
    if (lines.some((l) => (JSON.parse(l) as { message: string }).message === message)) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`no "${message}" line in: ${lines.join("\n")}`)
}

describe("the relay's log lines, production logger against Effect's jsonLogger", () => {
  it("relayed, then refused at RCPT: the same text, line for line", async () => {
    const { imprint, reference, production } = await start({
      rejectRcpt: { "nobody@customer.example": { code: 550, enhanced: "5.1.1", message: "no such user" } }
    })
    const c = await RawSmtp.connect(imprint.port)
    expect((await c.send(FROM, ["bob@customer.example", "carol@customer.example"], MSG("bytes-1"))).code).toBe(250)
    expect((await c.command(`MAIL FROM:<${FROM}>`)).code).toBe(250)
    expect((await c.command("RCPT TO:<nobody@customer.example>")).code).toBe(550)
    await c.quit()
    await waitFor(reference, "relayed")
    await waitFor(reference, "refused")
    expect(production).toEqual(reference)
  })

  it("not relayed: a DATA the downstream refused", async () => {
    const { imprint, reference, production } = await start({ rejectData: { code: 554, enhanced: "5.7.1", message: "content refused" } })
    const c = await RawSmtp.connect(imprint.port)
    expect((await c.send(FROM, ["bob@customer.example"], MSG("bytes-2"))).code).toBe(554)
    await c.quit()
    await waitFor(reference, "not relayed")
    expect(production).toEqual(reference)
  })
})
