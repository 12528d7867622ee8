import { jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort } from "../../perf/FreePort.js"
import { loopbackTenant } from "../support/Imprint.js"
import { startSink, type Sink } from "../support/Sink.js"
import { bucketState, converge, health, type Node, removeNode, startNode, relayThrough, saveSignature } from "./ClusterHarness.js"
import { natsUnavailable, type NatsPeer, startNats } from "./NatsPeer.js"

/**
 * Issue 18's item 5: two sites, each its own nats-server in its own
 * JetStream domain (A, B), joined by a leafnode from B to A. Site A holds the
 * bucket; site B's nodes (`cluster.mirrorDomain: "A"`) mirror it. A cut off
 * (its server SIGKILLed): B keeps stamping from LMDB, a new node in B starts
 * from the mirror, admin writes in B answer 503, B's health says degraded:
 * the holding site unreachable, since when; healed: B converges (issue
 * 18 asks < 5 s; the waits here are bounded at 30 s and the times printed,
 * for the README: no timers asserted in tests).
 */

const unavailable = natsUnavailable()
if (unavailable !== undefined) console.warn(`skipping the two-sites cluster spec: ${unavailable}`)

/** Waits (bounded) until a client of `url` reaches JetStream in `domain` through the leafnode. */
const leafnodeUp = async (url: string, domain: string) => {
  const nc = await connect({ servers: url })
  try {
    for (const deadline = Date.now() + 30_000; ;) {
      const ok = await (await jetstreamManager(nc, { domain, timeout: 1_000 })).getAccountInfo().then(
        () => true,
        () => false
      )
      if (ok) return
      if (Date.now() > deadline) throw new Error(`JetStream domain ${domain} not reachable from ${url} within 30 s`)
      await new Promise((r) => setTimeout(r, 100))
    }
  } finally {
    await nc.close()
  }
}

const tenant = (sinkPort: number) =>
  loopbackTenant(sinkPort, {
    templates: [{ id: "sig", name: "Signature", html: "<p>Site v0: {{displayName}}</p>", text: "Site v0: {{displayName}}" }],
    rules: [{ id: "everyone", name: "Everyone", templateId: "sig" }],
    directory: [{ mail: "alice@acme.example", displayName: "Alice Example" }]
  })

/** Waits (bounded) for a node's health to satisfy `ok`; answers it. */
const healthWhen = async (node: Node, ok: (h: Awaited<ReturnType<typeof health>>) => boolean) => {
  for (const deadline = Date.now() + 30_000; ;) {
    const h = await health(node)
    if (ok(h)) return h
    if (Date.now() > deadline) throw new Error(`node ${node.name}'s health stayed ${JSON.stringify(h)} for 30 s`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

describe.skipIf(unavailable !== undefined)("cluster: two sites in separate JetStream domains, B mirroring A over a leafnode", () => {
  let dir: string
  let siteA: NatsPeer
  let siteB: NatsPeer
  let sink: Sink
  const nodes: Array<Node> = []

  const send = (node: Node, id: string) => relayThrough(node, sink, id, "sites")
  const save = saveSignature

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "imprint-sites-"))
    const leafPort = await freePort()
    fs.writeFileSync(path.join(dir, "a.conf"), `jetstream { domain: A }\nleafnodes { listen: "127.0.0.1:${leafPort}" }\n`)
    fs.writeFileSync(path.join(dir, "b.conf"), `jetstream { domain: B }\nleafnodes { remotes: [ { url: "nats-leaf://127.0.0.1:${leafPort}" } ] }\n`)
    siteA = await startNats({ args: ["-c", path.join(dir, "a.conf")] })
    siteB = await startNats({ args: ["-c", path.join(dir, "b.conf")] })
    await leafnodeUp(siteB.url, "A")
    sink = await startSink({ starttls: false })
    nodes.push(await startNode([siteA.url], "a1", { tenants: [tenant(sink.port)] }))
    nodes.push(await startNode([siteB.url], "b1", { mirrorDomain: "A" }))
    await converge(nodes, (await bucketState(siteA.url)).last_seq)
  }, 120_000)

  afterAll(async () => {
    await Promise.allSettled(nodes.map(removeNode))
    await sink?.close()
    await siteB?.stop()
    await siteA?.stop()
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  it("5: A cut off: B stamps, a new node in B starts from the mirror, writes in B answer 503; healed, B converges", async () => {
    const [a1, b1] = nodes
    // joined: a change through either site is in the bucket at A and on every node
    expect(await save(a1, "From A")).toBe(200)
    await converge(nodes, (await bucketState(siteA.url)).last_seq)
    expect(await send(b1, "joined-b1")).toContain("From A: Alice Example")
    expect(await save(b1, "From B")).toBe(200)
    await converge(nodes, (await bucketState(siteA.url)).last_seq)
    expect(await send(a1, "joined-a1")).toContain("From B: Alice Example")
    // the mirror keeps the holding site's revisions
    expect((await bucketState(siteB.url)).last_seq).toBe((await bucketState(siteA.url)).last_seq)
    const joined = await healthWhen(b1, (h) => h.mirror !== undefined)
    expect(joined.status).toBe("ok")
    expect(joined.mirror).toMatchObject({ domain: "A", source: "reachable" })

    await siteA.kill()
    expect(await send(b1, "cut-b1")).toContain("From B: Alice Example")
    const started = Date.now()
    expect(await save(b1, "Refused")).toBe(503)
    const refusedMs = Date.now() - started
    // B's health: degraded, the holding site unreachable, and how stale B's view may be; mail still flows
    const cutHealth = await healthWhen(b1, (h) => h.status === "degraded")
    const degradedMs = Date.now() - started
    expect(cutHealth.mirror).toMatchObject({ domain: "A", source: "unreachable" })
    expect(cutHealth.configStaleSeconds).toBeGreaterThanOrEqual(cutHealth.mirror!.lastContactSeconds)
    expect(cutHealth.mirror!.lastContactSeconds).toBeGreaterThanOrEqual(5)
    expect(await send(b1, "cut-b1-degraded")).toContain("From B: Alice Example")
    // a node that joins site B while A is away starts from B's mirror (no admin API: its operator token would be a write)
    const b2 = await startNode([siteB.url], "b2", { mirrorDomain: "A", admin: false })
    nodes.push(b2)
    await converge([b2], (await bucketState(siteB.url)).last_seq)
    expect(await send(b2, "cut-b2")).toContain("From B: Alice Example")

    // healed: A's server back on its folder; the next change reaches both of B's nodes
    await siteA.start()
    let status = 0
    for (const deadline = Date.now() + 30_000; status !== 200 && Date.now() < deadline;) {
      status = await save(a1, "After healing")
      if (status !== 200) await new Promise((r) => setTimeout(r, 200))
    }
    expect(status).toBe(200)
    const healedAt = Date.now()
    await converge([b1, b2], (await bucketState(siteA.url)).last_seq)
    console.info(
      `two sites: a write in B with A cut off answered 503 in ${refusedMs} ms; B's health degraded ${degradedMs} ms after the cut; ` +
        `after healing, B's nodes applied A's change in ${Date.now() - healedAt} ms`
    )
    for (const node of [b1, b2]) expect(await send(node, `healed-${node.name}`)).toContain("After healing: Alice Example")
    for (const node of [b1, b2]) expect((await healthWhen(node, (h) => h.status === "ok")).mirror).toMatchObject({ source: "reachable" })
  })
})
