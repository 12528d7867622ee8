import { Splitter } from "mailsplit"
import { describe, expect, it } from "vitest"

/**
 * patches/apply.mjs "mailsplit-sync-lines": the Splitter goes on with the next
 * line in the same turn when a line was processed synchronously, instead of one
 * setImmediate per line (a 1 MB base64 attachment was ~13,000 event-loop turns).
 */
describe("patched mailsplit Splitter", () => {
  it("splits a chunk of many body lines within the turn it was written in, bytes unchanged", async () => {
    const lines = Array.from({ length: 2_000 }, (_, i) => `line ${i} ${"QUJD".repeat(18)}\r\n`).join("")
    const message = Buffer.from(`Content-Type: text/plain\r\n\r\n${lines}`)
    const splitter = new Splitter()
    const bodyBytes: Array<Buffer> = []
    splitter.on("data", (part: { type: string; value?: Buffer }) => {
      if (part.type === "body" && part.value) bodyBytes.push(part.value)
    })
    let calledBack = false
    splitter.write(message, () => (calledBack = true))
    // one setImmediate: unpatched, the Splitter has handled about one line by now
    await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setImmediate(resolve))
    expect(calledBack).toBe(true)
    splitter.end()
    await new Promise((resolve) => splitter.once("end", resolve))
    expect(Buffer.concat(bodyBytes).toString("latin1")).toBe(lines)
  })
})
