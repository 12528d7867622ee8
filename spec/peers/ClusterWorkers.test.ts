import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { buildDist, eventually, runCli, type ServeProcess, startServe } from "../support/ServeProcess.js"
import { startSink, type Sink } from "../support/Sink.js"
import { natsUnavailable, type NatsPeer, startNats } from "./NatsPeer.js"

/**
 * A node of a cluster with `workers: 2`: the primary holds the NATS
 * connection and the applier, the workers read the LMDB it applies to. An
 * admin change written to the bucket through the primary's API reaches mail
 * in both workers.
 */

const unavailable = natsUnavailable()
if (unavailable !== undefined) console.warn(`skipping the cluster + workers peer spec: ${unavailable}`)

describe.skipIf(unavailable !== undefined)("cluster node with workers: 2", () => {
  let nats: NatsPeer
  let sink: Sink
  let dir: string
  let serve: ServeProcess

  beforeAll(async () => {
    await buildDist()
    nats = await startNats()
    sink = await startSink({ starttls: false })
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "imprint-cluster-workers-"))
    const config = path.join(dir, "imprint.json")
    fs.writeFileSync(
      config,
      JSON.stringify({
        dataDir: path.join(dir, "data"),
        workers: 2,
        smtp: { host: "127.0.0.1", port: 0 },
        admin: { host: "127.0.0.1", port: 0 },
        downstream: { host: "127.0.0.1", port: sink.port, tls: "none" },
        trace: { enabled: false },
        cluster: { servers: [nats.url], bucket: `workers${Date.now()}`, node: "relay-a" }
      })
    )
    fs.writeFileSync(
      path.join(dir, "tenant.json"),
      JSON.stringify({
        id: "acme",
        name: "Acme",
        domains: ["acme.example"],
        connectors: [{ type: "cidr", cidrs: ["127.0.0.0/8"] }],
        templates: [{ id: "main", name: "Main", html: "<p>Cluster one {{displayName}}</p>", text: "Cluster one {{displayName}}" }],
        rules: [{ id: "everyone", name: "Everyone", templateId: "main" }],
        directory: [{ mail: "alice@acme.example", displayName: "Alice Example" }]
      })
    )
    await runCli(["tenant", "import", path.join(dir, "tenant.json"), "--config", config])
    serve = await startServe({ config, dataDir: path.join(dir, "data"), workers: 2, sink })
  }, 240_000)

  afterAll(async () => {
    serve?.kill()
    await sink?.close()
    await nats?.stop()
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  it("an admin write goes through the bucket and reaches mail in both workers", async () => {
    const first = await serve.relayOne()
    expect(first.reply.code).toBe(250)
    expect(first.body).toContain("Cluster one Alice Example")
    const { status } = await serve.adminCall("PATCH", "/tenants/acme/templates/main", {
      html: "<p>Cluster two {{displayName}}</p>",
      text: "Cluster two {{displayName}}"
    })
    expect(status).toBe(200)
    const updated = new Set<number>()
    await eventually("the new signature from both workers", async () => {
      const { reply, worker, body } = await serve.relayOne()
      expect(reply.code).toBe(250)
      if (body.includes("Cluster two Alice Example")) updated.add(worker!)
      return updated.size === 2 ? true : undefined
    })
    const health = await serve.adminCall("GET", "/healthz")
    expect(JSON.parse(health.text)).toMatchObject({ status: "ok" })
  })
})
