import { afterEach, describe, expect, it } from "vitest"
import { freePort } from "../support/FreePort.js"
import { loopbackTenant, startImprint, type RunningImprint } from "../support/Imprint.js"
import { RawSmtp } from "../support/RawSmtp.js"
import { startSink, type Sink, type SinkOptions } from "../support/Sink.js"

/**
 * Issue 13, item 5: one JSON log line per transaction outcome, refused or not,
 * with the tenant, the envelope, the Message-ID (once the headers were read),
 * the reply given upstream and the downstream's reply. The relay's log output
 * is captured as the JSON text the production logger writes.
 */

const FROM = "alice@acme.example"
const MSG = (id: string) => `From: ${FROM}\r\nTo: bob@customer.example\r\nSubject: ${id}\r\nMessage-ID: <${id}@acme.example>\r\n\r\nHello.\r\n`

interface Line {
  readonly message: string
  readonly logLevel: string
  readonly annotations: Record<string, unknown>
}

let sink: Sink | undefined
let imprint: RunningImprint | undefined
let lines: Array<string> = []

const start = async (sinkOptions: SinkOptions = {}, downstreamPort?: number) => {
  sink = await startSink({ starttls: false, ...sinkOptions })
  lines = []
  imprint = await startImprint({ tenants: [loopbackTenant(downstreamPort ?? sink.port)], logLines: lines })
  return { sink, imprint }
}

afterEach(async () => {
  await imprint?.close()
  await sink?.close()
  imprint = undefined
  sink = undefined
})

const parsed = (): Array<Line> => lines.map((l) => JSON.parse(l) as Line)

/** The log lines with this message, once at least one is there (bounded wait: some are written after a socket closed). */
const linesOf = async (message: string): Promise<Array<Line>> => {
  for (let i = 0; i < 250; i++) {
    const found = parsed().filter((l) => l.message === message)
    if (found.length > 0) return found
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`no "${message}" line in: ${lines.join("\n")}`)
}

describe("one log line per transaction outcome", () => {
  it("relayed: envelope, Message-ID, the reply upstream and the downstream's", async () => {
    const { imprint } = await start()
    const c = await RawSmtp.connect(imprint.port)
    expect((await c.send(FROM, ["bob@customer.example", "carol@customer.example"], MSG("logged-1"))).code).toBe(250)
    await c.quit()
    const [line] = await linesOf("relayed")
    expect(line.logLevel).toBe("INFO")
    expect(line.annotations).toMatchObject({
      phase: "data",
      tenant: "acme",
      client: "127.0.0.1",
      from: FROM,
      to: ["bob@customer.example", "carol@customer.example"],
      recipients: 2,
      messageId: "<logged-1@acme.example>",
      downstream: "250 2.6.0 OK: recorded",
      outcome: "relayed"
    })
    expect(line.annotations.reply).toMatch(/^250 2\.6\.0 relayed/)
  })

  it("not relayed: a DATA the downstream refused, with the Message-ID and both replies", async () => {
    const { imprint } = await start({ rejectData: { code: 554, enhanced: "5.7.1", message: "content refused" } })
    const c = await RawSmtp.connect(imprint.port)
    expect((await c.send(FROM, ["bob@customer.example"], MSG("logged-2"))).code).toBe(554)
    await c.quit()
    const [line] = await linesOf("not relayed")
    expect(line.annotations).toMatchObject({
      phase: "data",
      tenant: "acme",
      from: FROM,
      to: ["bob@customer.example"],
      messageId: "<logged-2@acme.example>",
      reply: "554 5.7.1 content refused",
      downstream: "554 5.7.1 content refused",
      reason: "DownstreamRefused",
      outcome: "rejected"
    })
  })

  it("refused: a MAIL answered 451 4.4.1 because the downstream is unreachable", async () => {
    const { imprint } = await start({}, await freePort())
    const c = await RawSmtp.connect(imprint.port)
    expect((await c.command(`MAIL FROM:<${FROM}>`)).code).toBe(451)
    await c.quit()
    const [line] = await linesOf("refused")
    expect(line.annotations).toMatchObject({
      phase: "mail",
      tenant: "acme",
      from: FROM,
      to: [],
      messageId: "-",
      reply: "451 4.4.1 downstream unavailable, try again later",
      downstream: "unavailable",
      reason: "DownstreamUnavailable",
      outcome: "deferred"
    })
  })

  it("refused: a RCPT the downstream refused", async () => {
    const { imprint } = await start({ rejectRcpt: { "nobody@customer.example": { code: 550, enhanced: "5.1.1", message: "no such user" } } })
    const c = await RawSmtp.connect(imprint.port)
    expect((await c.command(`MAIL FROM:<${FROM}>`)).code).toBe(250)
    expect((await c.command("RCPT TO:<nobody@customer.example>")).code).toBe(550)
    await c.quit()
    const [line] = await linesOf("refused")
    expect(line.annotations).toMatchObject({ phase: "rcpt", from: FROM, to: ["nobody@customer.example"], reply: "550 5.1.1 no such user", outcome: "rejected" })
  })

  it("shutdown: a summary line, and a line for the transaction it cut short", async () => {
    const { imprint } = await start()
    const c = await RawSmtp.connect(imprint.port)
    expect((await c.command(`MAIL FROM:<${FROM}>`)).code).toBe(250)
    expect((await c.command("RCPT TO:<bob@customer.example>")).code).toBe(250)
    await imprint.close()
    expect((await c.reply()).code).toBe(421)
    const [summary] = await linesOf("smtp shutdown")
    expect(summary.annotations).toMatchObject({ idle: 1, inFlight: 0, cutOff: 0 })
    const [line] = await linesOf("abandoned")
    expect(line.annotations).toMatchObject({
      phase: "session",
      tenant: "acme",
      from: FROM,
      to: ["bob@customer.example"],
      reply: "421 4.3.2 shutting down, try again later",
      reason: "shutdown",
      outcome: "abandoned"
    })
  })
})
