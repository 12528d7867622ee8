/**
 * With `workers: 2`, sessions bound at connect are admitted on slots of
 * maxClients leased to each worker (src/workers/AdmissionLease.ts), without a
 * round trip to the primary; the node's maxClients stays exact: sessions
 * opened, some closed (their slots free on their worker, unknown to the
 * primary), then more opened: the first refusal comes with exactly maxClients
 * open. `imprint serve` from dist/ as a child process.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { RawSmtp } from "../support/RawSmtp.js"
import { buildDist, eventually, runCli, type ServeProcess, startServe } from "../support/ServeProcess.js"
import { startSink, type Sink } from "../support/Sink.js"

let dir: string
let sink: Sink
let serve: ServeProcess
const clients: Array<RawSmtp> = []

beforeAll(async () => {
  await buildDist()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "imprint-node-leases-"))
  sink = await startSink({ starttls: false })
  const config = path.join(dir, "imprint.json")
  fs.writeFileSync(
    config,
    JSON.stringify({
      dataDir: path.join(dir, "data"),
      workers: 2,
      smtp: { host: "127.0.0.1", port: 0, name: "relay.test", maxClients: MAX_CLIENTS, earlyTalkerDelayMs: 0 },
      admin: { host: "127.0.0.1", port: 0 },
      downstream: { host: "127.0.0.1", port: sink.port, tls: "none" },
      trace: { enabled: false }
    })
  )
  fs.writeFileSync(
    path.join(dir, "tenant.json"),
    JSON.stringify({
      id: "acme",
      name: "Acme",
      domains: ["acme.example"],
      // 127.0.0.1 is the tenant's server: its sessions are bound at connect, admitted on leased slots
      connectors: [{ type: "cidr", cidrs: ["127.0.0.1/32"] }],
      templates: [{ id: "main", name: "Main", html: "<p>Sig</p>", text: "Sig" }],
      rules: [{ id: "everyone", name: "Everyone", templateId: "main" }]
    })
  )
  await runCli(["tenant", "import", path.join(dir, "tenant.json"), "--config", config])
  serve = await startServe({ config, dataDir: path.join(dir, "data"), workers: 2, sink })
}, 240_000)

const MAX_CLIENTS = 40

afterAll(async () => {
  for (const c of clients.splice(0)) c.destroy()
  serve?.kill()
  await sink?.close()
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
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
