import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DirectoryUser } from "../../src/domain/Directory.js"
import { Template } from "../../src/domain/Template.js"
import { Db, templateKey, userKey } from "../../src/store/Keys.js"
import { StoreReplication } from "../../src/store/Replication.js"
import { Store, Write } from "../../src/store/Store.js"
import { loopbackTenant } from "../support/Imprint.js"
import { RawSmtp } from "../support/RawSmtp.js"
import { startSink, type Sink } from "../support/Sink.js"
import {
  bucketState,
  checksum,
  converge,
  health,
  lastApplied,
  type Node,
  purgeKey,
  removeNode,
  restartNode,
  startNode,
  statusOf,
  withAdmin
} from "./ClusterHarness.js"
import { natsUnavailable, type NatsPeer, startNats } from "./NatsPeer.js"

/**
 * Issue 18's "done means" on loopback: two nodes, one nats-server.
 * 1. admin changes reach every node's LMDB; the next message on every node carries the template;
 * 2. NATS SIGKILLed: mail through both nodes stamped with the last state, health degraded, a node restarted meanwhile serves mail;
 * 3. a stopped node misses changes (deletes too) and converges (revision and checksum); purged history forces a full resync;
 * 6. compare-and-set: concurrent edits on two nodes give one 200 and one 409; an older revision is never applied over a newer one.
 * Speed (p99 of change propagation) is measured in perf/ClusterBench.ts, not asserted here.
 */

const unavailable = natsUnavailable()
if (unavailable !== undefined) console.warn(`skipping the cluster peer specs: ${unavailable}`)

const tenant = (sinkPort: number) =>
  loopbackTenant(sinkPort, {
    templates: [{ id: "sig", name: "Signature", html: "<p>Sig v0: {{displayName}}</p>", text: "Sig v0: {{displayName}}" }],
    rules: [{ id: "everyone", name: "Everyone", templateId: "sig" }],
    directory: [{ mail: "alice@acme.example", displayName: "Alice Example" }]
  })

const message = (id: string) =>
  [
    "From: Alice <alice@acme.example>",
    "To: bob@acme.example",
    "Subject: status",
    `Message-ID: <${id}@acme.example>`,
    "Content-Type: text/plain; charset=us-ascii",
    "",
    "All done.",
    ""
  ].join("\r\n")

const bodyText = (raw: Buffer) => raw.toString("latin1").replace(/=\r\n/g, "")

describe.skipIf(unavailable !== undefined)("cluster: two nodes on NATS JetStream KV", () => {
  let nats: NatsPeer
  let sink: Sink
  let a: Node
  let b: Node
  const servers = () => [nats.url]

  /** Relays one message through `node`; answers the body the downstream got. */
  const send = async (node: Node, id: string) => {
    const c = await RawSmtp.connect(node.imprint.port)
    try {
      const reply = await c.send("alice@acme.example", ["bob@acme.example"], message(id))
      expect(reply.code).toBe(250)
    } finally {
      c.end()
    }
    const mine = (m: { readonly raw: Buffer }) => m.raw.toString("latin1").includes(`<${id}@acme.example>`)
    // the downstream answered 250 before Imprint did: the message is there
    const received = sink.messages.find(mine)
    expect(received).toBeDefined()
    return bodyText(received!.raw)
  }

  const saveTemplate = (node: Node, html: string) =>
    statusOf(node, (c) =>
      c.templates.replace({ path: { tenantId: "acme", templateId: "sig" }, payload: { name: "Signature", html, text: html.replace(/<[^>]+>/g, "") } })
    )

  const settle = async () => converge([a, b], (await bucketState(nats.url)).last_seq)

  beforeAll(async () => {
    nats = await startNats()
    sink = await startSink({ starttls: false })
    a = await startNode(servers(), "a", { tenants: [tenant(sink.port)] })
    b = await startNode(servers(), "b")
    await settle()
  })
  afterAll(async () => {
    await Promise.allSettled([a && removeNode(a), b && removeNode(b)])
    await sink?.close()
    await nats?.stop()
  })

  it("1: admin changes on one node reach every node's LMDB; the next message on each node carries the template", async () => {
    for (let i = 1; i <= 200; i++) {
      const node = i % 2 === 0 ? a : b
      // Replication is asynchronous: a save through one node of a key just changed through the other, before
      // this node applied that change, is a concurrent edit (409, README "Running several nodes"). An editor
      // alternating nodes waits until the node it writes through holds the bucket's last revision.
      await converge([node], (await bucketState(nats.url)).last_seq)
      expect(await saveTemplate(node, `<p>Sig v${i}: {{displayName}}</p>`)).toBe(200)
    }
    await settle()
    expect(await checksum(a)).toBe(await checksum(b))
    for (const node of [a, b]) {
      const body = await send(node, `one-${node.name}`)
      expect(body).toContain("Sig v200: Alice Example")
    }
  })

  it("6: two concurrent edits on two nodes: one 200 and one 409; an older revision is never applied over a newer one", async () => {
    await settle()
    let conflicts = 0
    // five rounds at least, then on until a pair met on the same revision (at most 40: a bounded loop, not a timer)
    for (let round = 0; round < 40 && (round < 5 || conflicts === 0); round++) {
      const statuses = await Promise.all([saveTemplate(a, `<p>From A ${round}</p>`), saveTemplate(b, `<p>From B ${round}</p>`)])
      expect(statuses).toContain(200)
      expect(statuses.filter((s) => s === 409).length).toBeLessThanOrEqual(1)
      if (statuses.includes(409)) conflicts++
      await settle()
      expect(await checksum(a)).toBe(await checksum(b))
    }
    // the two requests race through two nodes; at least one pair met on the same revision
    expect(conflicts).toBeGreaterThan(0)

    // deterministic: a write that expects a revision the key no longer has is refused, and nothing changes
    const key = templateKey("acme" as never, "sig")
    const stale = await a.imprint.use(
      Effect.gen(function* () {
        const store = yield* Store
        const replication = yield* StoreReplication
        const held = store.keyRevision(Db.templates, key)
        return yield* Effect.flip(replication.write([{ db: Db.templates, key, value: { id: "sig" }, expected: held - 1, deleted: false }]))
      })
    )
    expect(stale).toMatchObject({ _tag: "StoreError", op: "conflict" })
    // an older revision arriving late (a replayed watch) is skipped by the store
    const before = await checksum(b)
    await b.imprint.use(
      Effect.gen(function* () {
        const store = yield* Store
        const held = store.keyRevision(Db.templates, key)
        yield* store.commit([
          {
            op: Write.put(Db.templates, Template, key, new Template({ id: "sig", name: "Old", html: "<p>old</p>", version: 1 })),
            value: { id: "sig", name: "Old", html: "<p>old</p>", version: 1 },
            revision: held - 1
          }
        ])
      })
    )
    expect(await checksum(b)).toBe(before)
  })

  it("3: a stopped node misses changes, deletes included, and converges after its restart; purged history forces a full resync", async () => {
    await settle()
    await b.imprint.close()
    // 50 changes while b is away: upserts, then deletes of some of them, and a template
    for (let i = 0; i < 40; i++) {
      await withAdmin(a, (c) =>
        c.directory.put({
          path: { tenantId: "acme", mail: `user${i}@acme.example` },
          payload: new DirectoryUser({ mail: `user${i}@acme.example`, displayName: `User ${i}` })
        })
      )
    }
    for (let i = 0; i < 9; i++) await withAdmin(a, (c) => c.directory.delete({ path: { tenantId: "acme", mail: `user${i}@acme.example` } }))
    expect(await saveTemplate(a, "<p>While b was away: {{displayName}}</p>")).toBe(200)
    await restartNode(b, servers())
    await settle()
    expect(await lastApplied(b)).toBe(await lastApplied(a))
    expect(await checksum(b)).toBe(await checksum(a))
    expect(await send(b, "three-b")).toContain("While b was away: Alice Example")

    // away again; meanwhile a delete it has not seen is purged from the bucket: no message will ever tell it
    await b.imprint.close()
    await withAdmin(a, (c) => c.directory.delete({ path: { tenantId: "acme", mail: "user20@acme.example" } }))
    await withAdmin(a, (c) =>
      c.directory.put({ path: { tenantId: "acme", mail: "late@acme.example" }, payload: new DirectoryUser({ mail: "late@acme.example", displayName: "Late" }) })
    )
    await purgeKey(nats.url, Db.users, userKey("acme" as never, "user20@acme.example"))
    await restartNode(b, servers())
    await settle()
    // a restarted node reads every key's last value once: the only way to learn of the purged delete
    expect((await health(b)).fullResyncs).toBe(1)
    const holds = (node: Node, mail: string) => node.imprint.use(Effect.map(Store, (s) => s.getRawSync(Db.users, userKey("acme" as never, mail)) !== undefined))
    expect(await holds(b, "late@acme.example")).toBe(true)
    expect(await holds(b, "user20@acme.example")).toBe(false)
    expect(await holds(b, "user21@acme.example")).toBe(true)
    // the purged key can be written again from a node that still holds its old revision
    await withAdmin(a, (c) =>
      c.directory.put({
        path: { tenantId: "acme", mail: "user20@acme.example" },
        payload: new DirectoryUser({ mail: "user20@acme.example", displayName: "Back" })
      })
    )
    await settle()
    expect(await holds(b, "user20@acme.example")).toBe(true)
  })

  it("2: all NATS servers SIGKILLed: mail through both nodes is stamped with the last state, health is degraded, a node restarted meanwhile serves mail", async () => {
    expect(await saveTemplate(a, "<p>Last state: {{displayName}}</p>")).toBe(200)
    await settle()
    await nats.kill()
    const sent = 1_000
    const before = sink.messages.length
    const sendMany = async (node: Node, from: number, count: number) => {
      const c = await RawSmtp.connect(node.imprint.port)
      try {
        for (let i = from; i < from + count; i++) expect((await c.send("alice@acme.example", ["bob@acme.example"], message(`down-${i}`))).code).toBe(250)
      } finally {
        c.end()
      }
    }
    // ten sessions per node, fifty messages each
    await Promise.all(Array.from({ length: 20 }, (_, s) => sendMany(s % 2 === 0 ? a : b, s * 50, 50)))
    await sink.waitFor(before + sent)
    const bodies = sink.messages.slice(before).map((m) => bodyText(m.raw))
    expect(bodies).toHaveLength(sent)
    expect(bodies.every((body) => body.includes("Last state: Alice Example"))).toBe(true)
    for (const node of [a, b]) {
      const h = await health(node)
      expect(h.status).toBe("degraded")
      expect(h.configStaleSeconds).toBeGreaterThanOrEqual(0)
    }
    // changes are refused at once while the cluster is away
    expect(await saveTemplate(a, "<p>refused</p>")).toBe(503)
    // a node restarted while NATS is down serves mail from its LMDB
    await restartNode(b, servers())
    expect(await send(b, "after-restart")).toContain("Last state: Alice Example")
    expect((await health(b)).status).toBe("degraded")
    // NATS back: both nodes watch again
    await nats.start()
    for (const node of [a, b]) {
      const deadline = Date.now() + 30_000
      while ((await health(node)).status !== "ok" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      expect((await health(node)).status).toBe("ok")
    }
  })
})
