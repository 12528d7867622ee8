/**
 * Issue 4, invariant 3: a message whose HTML part is 100 MB streams through
 * the stamper in small chunks with the held window never above its named
 * limit, and no output line above 998 octets. (Memory and speed are measured
 * in perf/; this spec checks the window the stamper itself reports.)
 */
import { describe, expect, it } from "vitest"
import { createRequire } from "node:module"
import { STAMP_WINDOW_BYTES } from "../../../src/pipeline/mime/Stamper.js"
import { defaultPlan, runStamper, SIG_MARKER, SIG_TEXT_LINE } from "./MimeHarness.js"

const require = createRequire(import.meta.url)
const libqp = require("libqp") as { decode: (s: string) => Buffer }
const libbase64 = require("libbase64") as { decode: (s: string) => Buffer }

const MB = 1024 * 1024
const FEED_CHUNK = 4096
const TAIL_KEEP = 256 * 1024

/** watches an output stream without keeping it: longest line, size, and the last bytes */
class OutputWatch {
  longest = 0
  bytes = 0
  private line = 0
  private tail: Array<Buffer> = []
  private tailBytes = 0
  head = Buffer.alloc(0)

  write(b: Buffer): void {
    if (this.head.length < 4096) this.head = Buffer.concat([this.head, b]).subarray(0, 4096)
    this.bytes += b.length
    let start = 0
    for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) {
      const len = this.line + (i - start) - (i > 0 ? (b[i - 1] === 13 ? 1 : 0) : 0)
      if (len > this.longest) this.longest = len
      this.line = 0
      start = i + 1
    }
    this.line += b.length - start
    this.tail.push(b)
    this.tailBytes += b.length
    while (this.tailBytes - this.tail[0].length > TAIL_KEEP) this.tailBytes -= this.tail.shift()!.length
  }

  get last(): string {
    return Buffer.concat(this.tail).toString("latin1")
  }
}

const HEADER = (type: string, cte: string): string =>
  `From: a@example.com\r\nTo: b@example.com\r\nSubject: big\r\nMIME-Version: 1.0\r\n` +
  `Content-Type: multipart/alternative; boundary="big-b"\r\n\r\n--big-b\r\n` +
  `Content-Type: ${type}; charset=utf-8\r\nContent-Transfer-Encoding: ${cte}\r\n\r\n`

describe("Stamper streaming", () => {
  it("stamps a 100 MB HTML part with a bounded window and short lines", async () => {
    const watch = new OutputWatch()
    const paragraph = `<p>${"Lorem ipsum dolor sit amet, ünïcödé ✓ consectetur adipiscing elit. ".repeat(12)}</p>\r\n`
    async function* source(): AsyncGenerator<Buffer> {
      let pending = HEADER("text/html", "8bit") + `<html><head><meta charset="utf-8"></head><body><div>New text</div>\r\n`
      let sent = 0
      while (sent < 100 * MB) {
        while (pending.length < FEED_CHUNK) pending += paragraph
        const chunk = Buffer.from(pending.slice(0, FEED_CHUNK))
        pending = pending.slice(FEED_CHUNK)
        sent += chunk.length
        yield chunk
      }
      yield Buffer.from(pending + `<div class="gmail_quote">On Mon, Bob wrote:<blockquote>old</blockquote></div></body></html>\r\n--big-b--\r\n`)
    }
    const { outcome, highWater } = await runStamper(source, defaultPlan, { sink: (b) => watch.write(b) })
    console.log(`100 MB HTML: window high-water ${highWater} bytes (limit ${STAMP_WINDOW_BYTES}), output ${watch.bytes} bytes`)
    expect(outcome.stamped).toEqual(["html"])
    expect(highWater).toBeGreaterThan(0)
    expect(highWater).toBeLessThanOrEqual(STAMP_WINDOW_BYTES)
    expect(watch.longest).toBeLessThanOrEqual(76)
    expect(watch.bytes).toBeGreaterThan(100 * MB)
    // the signature is in the last part of the stream, once, right before the quote
    const body = watch.last.slice(0, watch.last.lastIndexOf("\r\n--big-b--"))
    const decoded = libqp.decode(body.slice(body.indexOf("\r\n") + 2)).toString("utf8")
    expect(decoded.split(SIG_MARKER).length - 1).toBe(1)
    expect(decoded).toMatch(new RegExp(`${SIG_MARKER}">[^<]*</div><div class="gmail_quote">`))
  }, 600_000)

  it("keeps the window bounded on a 20 MB text part that is one single line", async () => {
    const watch = new OutputWatch()
    async function* source(): AsyncGenerator<Buffer> {
      yield Buffer.from(HEADER("text/plain", "base64"))
      const piece = Buffer.from("word ünïcödé ".repeat(300)) // 4800 bytes, a multiple of 3: whole base64 groups
      const encoded = piece
        .toString("base64")
        .replace(/.{76}/g, "$&\r\n")
        .replace(/(?:\r\n)?$/, "\r\n")
      for (let sent = 0; sent < 20 * MB; sent += piece.length) yield Buffer.from(encoded)
      yield Buffer.from("--big-b--\r\n")
    }
    const { outcome, highWater } = await runStamper(source, defaultPlan, { sink: (b) => watch.write(b) })
    console.log(`20 MB one-line text: window high-water ${highWater} bytes`)
    expect(outcome.stamped).toEqual(["text"])
    expect(highWater).toBeLessThanOrEqual(STAMP_WINDOW_BYTES)
    expect(watch.longest).toBeLessThanOrEqual(76)
    const body = watch.last.slice(0, watch.last.lastIndexOf("\r\n--big-b--"))
    const decoded = libbase64.decode(body.slice(-8192).replace(/^[^\r\n]*\r\n/, "")).toString("utf8")
    expect(decoded).toContain(SIG_TEXT_LINE)
  }, 600_000)
})
