import { afterEach, describe, expect, it } from "vitest"
import { LOOP_STAMP_HEADER } from "../../src/pipeline/headers/LoopStamp.js"
import { loopbackTenant, startImprint } from "../support/Imprint.js"
import { RawSmtp } from "../support/RawSmtp.js"
import { startSink } from "../support/Sink.js"

const running: Array<{ close: () => Promise<void> }> = []
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.close()
})

const stampLines = (raw: string) => raw.split(/\r\n(?![ \t])/).filter((l) => l.toLowerCase().startsWith(LOOP_STAMP_HEADER.toLowerCase() + ":"))

describe("the loop stamp", () => {
  it("lets a message Imprint already relayed pass with its stamp; replaces a forged one", async () => {
    const sink = await startSink({ starttls: false })
    running.push(sink)
    const imprint = await startImprint({ tenants: [loopbackTenant(sink.port)] })
    running.push(imprint)
    const c = await RawSmtp.connect(imprint.port)
    const original = "From: alice@acme.example\r\nSubject: loop\r\nMessage-ID: <loop-1@acme.example>\r\n\r\nbody\r\n"
    expect((await c.send("alice@acme.example", ["bob@customer.example"], original)).code).toBe(250)
    const [first] = await sink.waitFor(1)
    const firstStamp = stampLines(first.raw.toString("latin1"))
    expect(firstStamp).toHaveLength(1)

    // the same message comes back (e.g. the downstream routes it through Imprint again)
    expect((await c.send("alice@acme.example", ["bob@customer.example"], first.raw)).code).toBe(250)
    const [, second] = await sink.waitFor(2)
    expect(stampLines(second.raw.toString("latin1"))).toEqual(firstStamp)

    // a forged stamp (valid shape, wrong MAC) is removed and a fresh one added
    const forged = `${LOOP_STAMP_HEADER}: v=1; t=acme; ts=${Math.floor(Date.now() / 1000)}; mac=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n` + original
    expect((await c.send("alice@acme.example", ["bob@customer.example"], forged)).code).toBe(250)
    const [, , third] = await sink.waitFor(3)
    const thirdStamp = stampLines(third.raw.toString("latin1"))
    expect(thirdStamp).toHaveLength(1)
    expect(thirdStamp[0]).not.toContain("AAAAAAAA")
    c.end()
  })
})

describe("graceful shutdown", () => {
  it("finishes a transaction in flight, refuses new connections, and closes idle sessions", async () => {
    const sink = await startSink({ starttls: false })
    running.push(sink)
    const imprint = await startImprint({ tenants: [loopbackTenant(sink.port)] })
    const idle = await RawSmtp.connect(imprint.port)
    const busy = await RawSmtp.connect(imprint.port)
    expect((await busy.command("MAIL FROM:<alice@acme.example>")).code).toBe(250)
    expect((await busy.command("RCPT TO:<bob@customer.example>")).code).toBe(250)
    expect((await busy.command("DATA")).code).toBe(354)
    busy.write("From: alice@acme.example\r\nSubject: in flight\r\n\r\nfirst half\r\n")
    await sink.waitUntil((s) => s.connections >= 1)

    const closing = imprint.close()
    expect(await idle.reply()).toEqual({ code: 421, text: "4.3.2 shutting down, try again later" })
    await idle.waitClosed()
    await expect(RawSmtp.connect(imprint.port)).rejects.toThrow()

    busy.write("second half\r\n.\r\n")
    expect((await busy.reply()).code).toBe(250)
    // the session that just got its 250 is told why it is closed (issue 13, item 4)
    expect(await busy.reply()).toEqual({ code: 421, text: "4.3.2 shutting down, try again later" })
    await busy.waitClosed()
    await closing
    const [got] = await sink.waitFor(1)
    expect(got.raw.toString()).toContain("first half\r\nsecond half\r\n")
  })

  it("says 421 4.3.2 to a session between commands of a transaction and to one still in DATA when the grace period ends", async () => {
    const sink = await startSink({ starttls: false })
    running.push(sink)
    const imprint = await startImprint({ tenants: [loopbackTenant(sink.port)], config: { smtp: { shutdownGraceMs: 500 } } })
    const between = await RawSmtp.connect(imprint.port)
    expect((await between.command("MAIL FROM:<alice@acme.example>")).code).toBe(250)
    const stuck = await RawSmtp.connect(imprint.port)
    expect((await stuck.command("MAIL FROM:<alice@acme.example>")).code).toBe(250)
    expect((await stuck.command("RCPT TO:<bob@customer.example>")).code).toBe(250)
    expect((await stuck.command("DATA")).code).toBe(354)
    stuck.write("From: alice@acme.example\r\nSubject: never finished\r\n\r\nfirst half\r\n")
    await sink.waitUntil((s) => s.dataStarted === 1)

    const closing = imprint.close()
    expect(await between.reply()).toEqual({ code: 421, text: "4.3.2 shutting down, try again later" })
    expect(await stuck.reply()).toEqual({ code: 421, text: "4.3.2 shutting down, try again later" })
    await stuck.waitClosed()
    await closing
    // the cut-off transaction was dropped before its dot
    await sink.waitUntil((s) => s.aborted === 1)
    expect(sink.messages).toHaveLength(0)
  })
})
