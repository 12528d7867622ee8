import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { loopbackTenant } from "../support/Imprint.js"
import { startSink, type Sink } from "../support/Sink.js"
import {
  bucketState,
  checksum,
  converge,
  health,
  lastApplied,
  type Node,
  twoNodesOnThreeServers,
  relayThrough,
  restartNode,
  saveSignature
} from "./ClusterHarness.js"
import { natsUnavailable } from "./NatsPeer.js"

/**
 * Two of three nats-servers lost (issue 18's facts: with no quorum, writes
 * fail and gets and new watches time out; each node's connection moves to
 * the server left, so it is connected yet the bucket does not answer).
 * Mail keeps flowing from LMDB on both nodes with the last state; each
 * node's health turns degraded with config_stale_seconds; admin writes then
 * answer 503 promptly (bounded at half of cluster.writeTimeoutMs, 8 s here,
 * which each write waited before; the time is printed for the README); with the servers back the
 * nodes converge and writes are taken again.
 *
 * Run twice, by which server is left: a follower of the bucket stream's
 * leader, and the stream's leader itself, which keeps answering stream info
 * as its leader for a while after it lost its quorum (nats-server 2.9.10:
 * ~17 s, then it answers without a leader); a node that took any answer as
 * "the bucket answers" stayed ok (about one run in five while the server
 * left was chosen by chance).
 */

const unavailable = natsUnavailable()
if (unavailable !== undefined) console.warn(`skipping the quorum-loss cluster spec: ${unavailable}`)

/** each write waited this long for the bucket before a refusal was prompt */
const WRITE_TIMEOUT_MS = 8_000
/** a write refused while the cluster has no quorum must come back within this (a bound on hanging, not a speed target) */
const PROMPT_MS = WRITE_TIMEOUT_MS / 2
const WAIT_MS = 30_000

const within = async <A>(what: string, f: () => Promise<A | undefined>): Promise<A> => {
  for (const deadline = Date.now() + WAIT_MS; ;) {
    const a = await f()
    if (a !== undefined) return a
    if (Date.now() > deadline) throw new Error(`${what}: not within ${WAIT_MS} ms`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

/** which server the spec leaves running: the bucket stream's leader, or one of its followers */
const SURVIVORS = ["follower", "leader"] as const

describe.skipIf(unavailable !== undefined).each(SURVIVORS)("cluster: two of three nats-servers lost, the stream's %s left", (left) => {
  let sink: Sink
  beforeAll(async () => {
    sink = await startSink({ starttls: false })
  })
  afterAll(async () => {
    await sink?.close()
  })
  const setup = twoNodesOnThreeServers(
    () =>
      loopbackTenant(sink.port, {
        templates: [{ id: "sig", name: "Signature", html: "<p>v0: {{displayName}}</p>", text: "v0: {{displayName}}" }],
        rules: [{ id: "everyone", name: "Everyone", templateId: "sig" }],
        directory: [{ mail: "alice@acme.example", displayName: "Alice Example" }]
      }),
    { writeTimeoutMs: WRITE_TIMEOUT_MS }
  )

  const send = (node: Node, id: string) => relayThrough(node, sink, id, "quorum")
  const save = saveSignature

  it("mail flows from LMDB on both nodes, health degraded, writes 503 promptly; back: the nodes converge", async () => {
    const { nats, a, b } = setup
    expect(await save(a, "Last state")).toBe(200)
    await converge([a, b], (await bucketState(nats.urls)).last_seq)

    const { leader } = await bucketState(nats.urls)
    const names = [...nats.servers.keys()]
    expect(names).toContain(leader)
    const survivor = left === "leader" ? leader! : names.find((n) => n !== leader)!
    const lost = names.filter((n) => n !== survivor)
    // node b talks to the server left only (node a to any of the three, as before): its connection never
    // moves, so only its look at the stream can tell it the bucket lost its quorum
    await restartNode(b, [nats.servers.get(survivor)!.url], { replicas: 3, writeTimeoutMs: WRITE_TIMEOUT_MS })
    await converge([a, b], (await bucketState(nats.urls)).last_seq)
    expect((await health(b)).status).toBe("ok")
    for (const name of lost) await nats.servers.get(name)!.kill()
    const cut = Date.now()

    // mail: every node stamps with the last state it holds
    for (const node of [a, b]) for (let i = 0; i < 5; i++) expect(await send(node, `noquorum-${node.name}-${i}`)).toContain("Last state: Alice Example")

    // health: degraded on both, with how stale the configuration may be
    for (const node of [a, b]) {
      const h = await within(`node ${node.name} degraded`, async () => {
        const h = await health(node)
        return h.status === "degraded" ? h : undefined
      })
      expect(h.configStaleSeconds).toBeGreaterThanOrEqual(0)
    }
    const degradedMs = Date.now() - cut

    // writes: always 503; once the node's look at the stream went unanswered (health can turn degraded
    // first, from the watch ending), at once: a write before that may wait its writeTimeoutMs (README)
    const times: Array<number> = []
    for (const node of [a, b]) {
      for (let attempt = 1; ; attempt++) {
        const started = Date.now()
        expect(await save(node, `Refused on ${node.name} ${attempt}`)).toBe(503)
        const ms = Date.now() - started
        expect(ms, "a write refused within its timeout, not hanging").toBeLessThan(WRITE_TIMEOUT_MS + PROMPT_MS)
        if (ms < PROMPT_MS) {
          times.push(ms)
          break
        }
        expect(Date.now() - cut, `node ${node.name}: no prompt 503 within ${WAIT_MS} ms of the loss`).toBeLessThan(WAIT_MS)
      }
    }
    expect(Math.max(...times)).toBeLessThan(PROMPT_MS)
    // still the last state
    expect(await send(b, "noquorum-after-refusal")).toContain("Last state: Alice Example")

    // the servers back: writes taken again, both nodes converge and report ok
    for (const name of lost) await nats.servers.get(name)!.start()
    const back = Date.now()
    await within("a write taken again", async () => ((await save(a, "After quorum")) === 200 ? true : undefined))
    const writableMs = Date.now() - back
    await converge([a, b], (await bucketState(nats.urls)).last_seq)
    for (const node of [a, b]) await within(`node ${node.name} ok`, async () => ((await health(node)).status === "ok" ? true : undefined))
    expect(await lastApplied(b)).toBe(await lastApplied(a))
    expect(await checksum(b)).toBe(await checksum(a))
    for (const node of [a, b]) expect(await send(node, `quorum-back-${node.name}`)).toContain("After quorum: Alice Example")
    console.info(
      `quorum loss: ${lost.join(", ")} killed (${survivor}, the stream's ${left}, left); both nodes degraded ${degradedMs} ms after; ` +
        `writes answered 503 in ${times.join(" and ")} ms; servers back: a write taken after ${writableMs} ms`
    )
  })
})
