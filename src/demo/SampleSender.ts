import * as net from "node:net"
import { demoDisplayName } from "./DemoTenant.js"

/**
 * `imprint send-sample`: sends one reply-style message (HTML and text, with a
 * quoted thread) to a local Imprint, speaking plain SMTP on 127.0.0.1, so the
 * demo needs no other tool. Prints each reply it gets.
 */
export const sampleMessage = (from: string, to: string): string => {
  const boundary = "=_imprint_sample"
  const name = demoDisplayName(from)
  const date = new Date().toUTCString().replace("GMT", "+0000")
  return [
    name === undefined ? `From: <${from}>` : `From: ${name} <${from}>`,
    `To: <${to}>`,
    `Subject: Re: Quarterly figures`,
    `Date: ${date}`,
    `Message-ID: <${Date.now()}.sample@demo.example>`,
    `In-Reply-To: <original@customer.example>`,
    `MIME-Version: 1.0`,
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
    ``,
    `--${boundary}`,
    `Content-Type: text/plain; charset=utf-8`,
    `Content-Transfer-Encoding: 7bit`,
    ``,
    `Hi Bob,`,
    ``,
    `the figures are attached to the portal now.`,
    ``,
    `On Mon, 23 Nov 2026 at 09:12, Bob Customer <bob@customer.example> wrote:`,
    `> Could you send the quarterly figures?`,
    ``,
    `--${boundary}`,
    `Content-Type: text/html; charset=utf-8`,
    `Content-Transfer-Encoding: 7bit`,
    ``,
    `<html><body><p>Hi Bob,</p><p>the figures are attached to the portal now.</p>`,
    `<div class="gmail_quote"><div class="gmail_attr">On Mon, 23 Nov 2026 at 09:12, Bob Customer wrote:</div>`,
    `<blockquote class="gmail_quote">Could you send the quarterly figures?</blockquote></div>`,
    `</body></html>`,
    `--${boundary}--`,
    ``
  ].join("\r\n")
}

export const sendSample = (opts: { host: string; port: number; from: string; to: string }): Promise<string[]> =>
  new Promise((resolve, reject) => {
    const socket = net.connect(opts.port, opts.host)
    const replies: string[] = []
    const steps = [
      "EHLO sample.localhost",
      `MAIL FROM:<${opts.from}>`,
      `RCPT TO:<${opts.to}>`,
      "DATA",
      sampleMessage(opts.from, opts.to).replace(/^\./gm, "..") + ".",
      "QUIT"
    ]
    let buffer = ""
    socket.setTimeout(30_000, () => socket.destroy(new Error("timed out")))
    socket.on("data", (chunk) => {
      buffer += chunk.toString("utf8")
      let end
      while ((end = buffer.indexOf("\r\n")) !== -1) {
        const line = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        if (/^\d{3}-/.test(line)) continue
        replies.push(line)
        if (/^[45]/.test(line)) {
          socket.end("QUIT\r\n")
          continue
        }
        const next = steps.shift()
        if (next !== undefined) socket.write(next + "\r\n")
      }
    })
    socket.on("error", reject)
    socket.on("close", () => resolve(replies))
  })

/** The relay took the message: the reply after the data (the one after 354) is 250. */
export const sampleAccepted = (replies: ReadonlyArray<string>): boolean => {
  const data = replies.findIndex((r) => r.startsWith("354"))
  return data !== -1 && replies[data + 1]?.startsWith("250") === true
}
