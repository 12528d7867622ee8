/**
 * With `workers: 2`, sessions bound at connect are admitted on slots of
 * maxClients leased to each worker (src/workers/AdmissionLease.ts), without a
 * round trip to the primary; the node's maxClients stays exact: sessions
 * opened, some closed (their slots free on their worker, unknown to the
 * primary), then more opened: the first refusal comes with exactly maxClients
 * open. `imprint serve` from dist/ as a child process.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { RawSmtp } from "../support/RawSmtp.js"
import { eventually, type ServeProcess, startWorkersNode, type WorkersNode } from "../support/ServeProcess.js"

const MAX_CLIENTS = 40

let node: WorkersNode
let serve: ServeProcess
const clients: Array<RawSmtp> = []

beforeAll(async () => {
  node = await startWorkersNode({
    name: "node-leases",
    workers: 2,
    smtp: { maxClients: MAX_CLIENTS },
    // 127.0.0.1 is the tenant's server: its sessions are bound at connect, admitted on leased slots
    connectors: [{ type: "cidr", cidrs: ["127.0.0.1/32"] }]
  })
  serve = node.serve
}, 240_000)

afterAll(async () => {
  for (const c of clients.splice(0)) c.destroy()
  await node?.close()
})

const open = async () => {
  const c = await RawSmtp.connect(serve.port, { ehlo: false, localAddress: "127.0.0.1" })
  if (c.greeting.code === 220) clients.push(c)
  else c.destroy()
  return c.greeting.code
}

describe("workers: 2, leased admission slots", () => {
  it(`sessions closed on one worker's leased slots: the first refusal comes with exactly ${MAX_CLIENTS} open, and a close makes room again`, async () => {
    // the first session on each worker brings it a lease of 8 slots: sessions 3 to 18 are admitted on them
    for (let i = 0; i < MAX_CLIENTS - 1; i++) expect(await open()).toBe(220)
    // the 3rd, 5th, 7th and 9th: with node:cluster's round robin, four leased slots of one worker, free there and
    // unknown to the primary, which must ask for them back before it refuses (the counts hold whichever worker held them)
    for (const i of [8, 6, 4, 2]) clients.splice(i, 1)[0].destroy()
    let greeted = 0
    for (let i = 0; i < MAX_CLIENTS; i++) {
      const code = await open()
      if (code !== 220) {
        expect(code).toBe(421)
        break
      }
      greeted++
    }
    expect(greeted).toBe(5)
    expect(clients).toHaveLength(MAX_CLIENTS)
    clients.shift()!.destroy()
    await eventually("a place again", async () => ((await open()) === 220 ? true : undefined))
    expect(await open()).toBe(421)
  })
})
