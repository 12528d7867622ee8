import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { MAX_STAMPED_DEPTH, MAX_STAMPED_PARTS } from "../../src/pipeline/mime/Stamper.js"
import { signatureTenant, startImprint, type RunningImprint } from "../support/Imprint.js"
import { RawSmtp } from "../support/RawSmtp.js"
import { startSink, type Sink } from "../support/Sink.js"

/**
 * Issue 13, item 6: a message with thousands of parts or deep nesting used to
 * get 451 4.3.0 (mailsplit's part limit broke the stamped copy mid-stream) and
 * passed only on its retry. Found while the start of the message is still held,
 * it now passes unstamped on the first try, byte for byte, with the reason in
 * the log line.
 */

const HEAD = (id: string, contentType: string) =>
  `From: Alice <alice@acme.example>\r\nTo: carol@acme.example\r\nSubject: ${id}\r\nMessage-ID: <${id}@acme.example>\r\nMIME-Version: 1.0\r\nContent-Type: ${contentType}\r\n\r\n`

const manyParts = (n: number) =>
  HEAD("many-parts", 'multipart/mixed; boundary="b"') +
  `--b\r\nContent-Type: text/html\r\n\r\n<p>hello</p>\r\n` +
  Array.from({ length: n }, (_, i) => `--b\r\nContent-Type: text/plain\r\n\r\n${i}\r\n`).join("") +
  "--b--\r\n"

const deeplyNested = (depth: number) => {
  let body = `--b${depth}\r\nContent-Type: text/html\r\n\r\n<p>hello</p>\r\n--b${depth}--\r\n`
  for (let i = depth - 1; i >= 1; i--) body = `--b${i}\r\nContent-Type: multipart/mixed; boundary="b${i + 1}"\r\n\r\n${body}--b${i}--\r\n`
  return HEAD("deep", 'multipart/mixed; boundary="b1"') + body
}

let sink: Sink
let imprint: RunningImprint
const lines: Array<string> = []

beforeAll(async () => {
  sink = await startSink({ starttls: false })
  imprint = await startImprint({ tenants: [signatureTenant(sink.port)], logLines: lines })
})
afterAll(async () => {
  await imprint?.close()
  await sink?.close()
})

const relayedLine = (messageId: string) =>
  lines
    .map((l) => JSON.parse(l) as { message: string; annotations: Record<string, unknown> })
    .find((l) => l.message === "relayed" && l.annotations.messageId === messageId)

describe("messages too complex to stamp", () => {
  it(`passes a message with ${MAX_STAMPED_PARTS * 4} parts unstamped on the first try, byte for byte`, async () => {
    const message = manyParts(MAX_STAMPED_PARTS * 4)
    const c = await RawSmtp.connect(imprint.port)
    expect((await c.send("alice@acme.example", ["carol@acme.example"], message)).code).toBe(250)
    await c.quit()
    const [got] = await sink.waitFor(1)
    expect(got.raw.toString().endsWith(message)).toBe(true)
    expect(relayedLine("<many-parts@acme.example>")?.annotations.stamped).toBe("unstamped:too-complex")
  })

  it(`passes a message nested ${MAX_STAMPED_DEPTH + 8} levels deep unstamped on the first try, byte for byte`, async () => {
    const message = deeplyNested(MAX_STAMPED_DEPTH + 8)
    const c = await RawSmtp.connect(imprint.port)
    expect((await c.send("alice@acme.example", ["carol@acme.example"], message)).code).toBe(250)
    await c.quit()
    const [, got] = await sink.waitFor(2)
    expect(got.raw.toString().endsWith(message)).toBe(true)
    expect(relayedLine("<deep@acme.example>")?.annotations.stamped).toBe("unstamped:too-complex")
  })

  it("still stamps a message of ordinary structure", async () => {
    const message = deeplyNested(4)
    const c = await RawSmtp.connect(imprint.port)
    expect((await c.send("alice@acme.example", ["carol@acme.example"], message.replace("<deep@", "<shallow@"))).code).toBe(250)
    await c.quit()
    const [, , got] = await sink.waitFor(3)
    expect(got.raw.toString()).toContain("Alice Example")
  })
})
