import * as net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startImprint, type RunningImprint } from "../support/Imprint.js"
import { RawSmtp } from "../support/RawSmtp.js"
import { startSink, type Sink } from "../support/Sink.js"

/**
 * The small version of perf/Slowloris.ts (issue 13's load test): with far
 * more idle and trickling unbound sockets open than maxClients, a bound
 * tenant's messages are all relayed. Counts only; the latency under attack is
 * measured in perf/, not asserted here.
 */

const HOSTILE = 300
const ADDRESSES = 10
const MESSAGES = 20

let sink: Sink
let imprint: RunningImprint
const hostile = new Set<net.Socket>()
const greetings = { accepted: 0, refused: 0 }

beforeAll(async () => {
  sink = await startSink({ starttls: false })
  imprint = await startImprint({
    tenants: [
      {
        id: "acme",
        name: "Acme",
        domains: ["acme.example"],
        connectors: [{ type: "cidr", cidrs: ["127.0.0.1/32"] }],
        downstream: { host: "127.0.0.1", port: sink.port, tls: "none" }
      }
    ],
    // 300 hostile sockets against 100 places, 40 of them for unbound sessions
    config: { smtp: { maxClients: 100, maxUnboundClients: 40, maxConnectionsPerAddress: 10 } }
  })
})
afterAll(async () => {
  for (const s of hostile) s.destroy()
  await imprint?.close()
  await sink?.close()
})

/** Opens a hostile socket and resolves with its first line; odd ones then trickle an unfinished command. */
const openHostile = (i: number) =>
  new Promise<void>((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port: imprint.port, localAddress: `127.0.0.${10 + (i % ADDRESSES)}` })
    hostile.add(socket)
    let first = ""
    socket.setEncoding("latin1")
    socket.on("data", (s: string) => {
      if (first.includes("\n")) return
      first += s
      if (!first.includes("\n")) return
      if (first.startsWith("220")) {
        greetings.accepted++
        if (i % 2 === 1) socket.write("EHLO slow") // never ends the line
      } else greetings.refused++
      resolve()
    })
    socket.on("error", () => resolve())
    socket.on("close", () => resolve())
  })

describe("a flood of unbound connections", () => {
  it("leaves the bound tenant's server room: every one of its messages is relayed", async () => {
    await Promise.all(Array.from({ length: HOSTILE }, (_, i) => openHostile(i)))
    // the unbound share holds at most 40; the rest were refused at the greeting
    expect(greetings.accepted).toBeLessThanOrEqual(40)
    expect(greetings.accepted + greetings.refused).toBe(HOSTILE)
    const replies: Array<number> = []
    for (let i = 0; i < MESSAGES; i++) {
      const c = await RawSmtp.connect(imprint.port, { localAddress: "127.0.0.1" })
      replies.push((await c.send("alice@acme.example", ["bob@customer.example"], `Subject: m${i}\r\n\r\nhello\r\n`)).code)
      await c.quit()
    }
    expect(replies).toEqual(Array(MESSAGES).fill(250))
    await sink.waitFor(MESSAGES)
  })
})
