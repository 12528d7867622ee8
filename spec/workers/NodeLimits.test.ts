/**
 * With `workers: 2` the connection limits are the node's (src/workers/NodeAdmission.ts):
 * `imprint serve` from dist/ as a child process, two workers sharing one port.
 * Each spec opens more sessions than the limit: with per-process counts each
 * worker would admit up to the limit (the primary hands connections out in
 * turn), so the node would admit more than the limit.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { RawSmtp } from "../support/RawSmtp.js"
import { eventually, type ServeProcess, startWorkersNode, type WorkersNode } from "../support/ServeProcess.js"

let node: WorkersNode
let serve: ServeProcess
const clients: Array<RawSmtp> = []

beforeAll(async () => {
  node = await startWorkersNode({
    name: "node-limits",
    workers: 2,
    smtp: { maxClients: 3, maxConnectionsPerAddress: 2 },
    // 127.0.0.1 is the tenant's server (bound at connect); 127.0.0.2 plays an unbound client
    connectors: [{ type: "cidr", cidrs: ["127.0.0.1/32"] }]
  })
  serve = node.serve
}, 240_000)

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  // the node has counted the closed sessions out once a bound session gets its greeting again with two held
  await eventually("the node to count the closed sessions out", async () => {
    const held = await Promise.all([1, 2, 3].map(() => RawSmtp.connect(serve.port, { ehlo: false, localAddress: "127.0.0.1" })))
    const codes = held.map((c) => c.greeting.code)
    for (const c of held) c.destroy()
    return codes.every((code) => code === 220) ? true : undefined
  })
})

afterAll(async () => {
  await node?.close()
})

/** opens `n` sessions one after the other (each greeted before the next), keeps them open, returns the greetings' codes */
const openSessions = async (n: number, localAddress: string) => {
  const codes: Array<number> = []
  for (let i = 0; i < n; i++) {
    const c = await RawSmtp.connect(serve.port, { ehlo: false, localAddress })
    clients.push(c)
    codes.push(c.greeting.code)
  }
  return codes
}

describe("workers: 2, connection limits for the whole node", () => {
  it("maxClients (3) holds for the node: of 5 sessions the first 3 are greeted, the others get 421", async () => {
    const codes = await openSessions(5, "127.0.0.1")
    expect(codes).toEqual([220, 220, 220, 421, 421])
  })

  it("an unbound address's concurrent sessions (2) hold for the node", async () => {
    const codes = await openSessions(4, "127.0.0.2")
    expect(codes).toEqual([220, 220, 421, 421])
  })

  it("sockets closed at once (a load balancer's TCP check) leave no session counted", async () => {
    const net = await import("node:net")
    await Promise.all(
      Array.from(
        { length: 20 },
        () =>
          new Promise<void>((resolve) => {
            const socket = net.connect({ port: serve.port, host: "127.0.0.1", localAddress: "127.0.0.1" })
            socket.on("error", () => resolve())
            socket.once("connect", () => (socket.destroy(), resolve()))
          })
      )
    )
    // the node counts them out: three sessions are greeted again (afterEach's check) and a fourth is not
    await eventually("three places again", async () => {
      const held = await Promise.all([1, 2, 3].map(() => RawSmtp.connect(serve.port, { ehlo: false, localAddress: "127.0.0.1" })))
      clients.push(...held)
      if (held.every((c) => c.greeting.code === 220)) return true
      for (const c of clients.splice(0)) c.destroy()
      return undefined
    })
    expect(await openSessions(1, "127.0.0.1")).toEqual([421])
  })

  it("a session closed on one worker frees its place for a session on the other", async () => {
    expect(await openSessions(3, "127.0.0.1")).toEqual([220, 220, 220])
    clients.shift()!.destroy()
    const next = await eventually("a place again", async () => {
      const c = await RawSmtp.connect(serve.port, { ehlo: false, localAddress: "127.0.0.1" })
      if (c.greeting.code === 220) return c
      c.destroy()
      return undefined
    })
    clients.push(next)
    expect(await RawSmtp.connect(serve.port, { ehlo: false, localAddress: "127.0.0.1" }).then((c) => (clients.push(c), c.greeting.code))).toBe(421)
  })
})
