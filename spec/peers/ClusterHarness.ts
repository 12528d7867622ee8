/**
 * Two (or more) Imprint nodes in the test process, each with its own LMDB
 * folder, sharing tenant state through a NATS JetStream KV bucket on a
 * nats-server the spec started (NatsPeer). Nodes can be stopped and started
 * again on the same folder, as a restarted host would be.
 */
import { HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import { Effect, Layer } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Api } from "../../src/admin/Api.js"
import { ClusterStatus } from "../../src/cluster/Applier.js"
import { toKvKey } from "../../src/cluster/KvKeys.js"
import { Store } from "../../src/store/Store.js"
import { afterAll, beforeAll, expect } from "vitest"
import { loopbackTenant, type RunningImprint, startImprint } from "../support/Imprint.js"
import { RawSmtp } from "../support/RawSmtp.js"
import type { Sink } from "../support/Sink.js"
import { type NatsClusterPeer, startNatsCluster } from "./NatsPeer.js"

export const BUCKET = "imprint"

export interface Node {
  readonly name: string
  readonly dataDir: string
  imprint: RunningImprint
}

export const clusterConfig = (
  servers: ReadonlyArray<string>,
  name: string,
  extra: { replicas?: number; mirrorDomain?: string; writeTimeoutMs?: number } = {}
) => ({ cluster: { servers, node: name, writeTimeoutMs: 2_000, ...extra } })

export const startNode = async (
  servers: ReadonlyArray<string>,
  name: string,
  opts: { tenants?: ReadonlyArray<unknown>; dataDir?: string; replicas?: number; mirrorDomain?: string; admin?: boolean; writeTimeoutMs?: number } = {}
): Promise<Node> => {
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), `imprint-node-${name}-`))
  const extra = {
    ...(opts.replicas !== undefined ? { replicas: opts.replicas } : {}),
    ...(opts.mirrorDomain !== undefined ? { mirrorDomain: opts.mirrorDomain } : {}),
    ...(opts.writeTimeoutMs !== undefined ? { writeTimeoutMs: opts.writeTimeoutMs } : {})
  }
  const imprint = await startImprint({ config: clusterConfig(servers, name, extra), tenants: opts.tenants, admin: opts.admin ?? true, dataDir })
  return { name, dataDir, imprint }
}

export const restartNode = async (node: Node, servers: ReadonlyArray<string>, extra: { replicas?: number; writeTimeoutMs?: number } = {}) => {
  const token = node.imprint.admin?.token
  await node.imprint.close()
  node.imprint = await startImprint({
    config: clusterConfig(servers, node.name, extra),
    admin: true,
    dataDir: node.dataDir,
    ...(token !== undefined ? { token } : {})
  })
}

export const removeNode = async (node: Node) => {
  await node.imprint.close()
  fs.rmSync(node.dataDir, { recursive: true, force: true })
}

export const health = (node: Node) => node.imprint.use(Effect.flatMap(ClusterStatus, (s) => s.health))
export const lastApplied = (node: Node) => node.imprint.use(Effect.map(Store, (s) => s.lastApplied()))

/** sha-256 over every replicated key of the node's LMDB: database, key, revision and stored value */
export const checksum = (node: Node) =>
  node.imprint.use(
    Effect.gen(function* () {
      const store = yield* Store
      const rows: Array<string> = []
      yield* store.replicatedKeys((db, key, revision) => {
        rows.push(JSON.stringify([db, key, revision, store.getRawSync(db, key) ?? null]))
      })
      rows.sort()
      return createHash("sha256").update(rows.join("\n")).digest("hex")
    })
  )

/** The bucket's last revision and its stream's leader, read with a client of its own (retried for 30 s: after a server's death the cluster may be electing). */
export const bucketState = async (url: string | ReadonlyArray<string>) => {
  const nc = await connect({ servers: typeof url === "string" ? url : [...url] })
  try {
    for (const deadline = Date.now() + 30_000; ;) {
      try {
        const info = await (await jetstreamManager(nc)).streams.info(`KV_${BUCKET}`)
        return { ...info.state, leader: info.cluster?.leader }
      } catch (e) {
        if (Date.now() > deadline) throw e
        await new Promise((r) => setTimeout(r, 250))
      }
    }
  } finally {
    await nc.close()
  }
}

/** Removes every message of one key from the bucket (its history, delete marker included), as `nats kv purge` and purgeDeletes do. */
export const purgeKey = async (url: string, db: string, key: string) => {
  const nc = await connect({ servers: url })
  try {
    await (await jetstreamManager(nc)).streams.purge(`KV_${BUCKET}`, { filter: `$KV.${BUCKET}.${toKvKey(db, key)}` })
  } finally {
    await nc.close()
  }
}

/** Waits (bounded) until every node applied the bucket up to `revision`. */
export const converge = async (nodes: ReadonlyArray<Node>, revision: number, limitMs = 30_000) => {
  const deadline = Date.now() + limitMs
  for (const node of nodes) {
    while ((await lastApplied(node)) < revision) {
      if (Date.now() > deadline) throw new Error(`node ${node.name} applied ${await lastApplied(node)}, not ${revision}, within ${limitMs} ms`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }
}

const makeClient = (admin: NonNullable<RunningImprint["admin"]>) =>
  HttpApiClient.make(Api, {
    baseUrl: `https://127.0.0.1:${admin.port}`,
    transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(admin.token))
  })
export type AdminClient = Effect.Effect.Success<ReturnType<typeof makeClient>>

/** Runs `f` with the typed admin client of a node (its own operator token). */
export const withAdmin = <A, E>(node: Node, f: (client: AdminClient) => Effect.Effect<A, E>) => {
  const admin = node.imprint.admin!
  return Effect.runPromise(
    Effect.flatMap(makeClient(admin), f).pipe(
      Effect.provide(NodeHttpClient.layerWithoutAgent.pipe(Layer.provide(NodeHttpClient.makeAgentLayer({ ca: admin.ca }))))
    )
  )
}

/** The HTTP status of an admin call through its typed client: 200, or the status its error declares. */
export const statusOf = <A, E extends { readonly _tag: string }>(node: Node, f: (client: AdminClient) => Effect.Effect<A, E>) =>
  withAdmin(node, (c) =>
    f(c).pipe(
      Effect.as(200),
      Effect.catchAll((e) =>
        Effect.succeed(e._tag === "ConcurrentEdit" ? 409 : e._tag === "ClusterUnavailable" || e._tag === "NotReady" ? 503 : (console.error(e), 500))
      )
    )
  )

/**
 * Three nats-servers joined by routes, the bucket with 3 replicas, and two
 * Imprint nodes on them (both listing all three servers), converged; a
 * vitest suite's beforeAll/afterAll. `tenant` is asked for inside beforeAll
 * (a spec's own earlier beforeAll may start the tenant's downstream first).
 */
export const twoNodesOnThreeServers = (
  tenant: () => unknown = () => loopbackTenant(2525, { directory: [{ mail: "alice@acme.example", displayName: "Alice" }] }),
  node: { readonly writeTimeoutMs?: number } = {}
) => {
  const setup = {} as { nats: NatsClusterPeer; a: Node; b: Node }
  beforeAll(async () => {
    setup.nats = await startNatsCluster(3)
    setup.a = await startNode(setup.nats.urls, "a", { ...node, replicas: 3, tenants: [tenant()] })
    setup.b = await startNode(setup.nats.urls, "b", { ...node, replicas: 3 })
    await converge([setup.a, setup.b], (await bucketState(setup.nats.urls)).last_seq)
  }, 120_000)
  afterAll(async () => {
    await Promise.allSettled([setup.a && removeNode(setup.a), setup.b && removeNode(setup.b)])
    await setup.nats?.stop()
  })
  return setup
}

/**
 * One message from alice@ to bob@acme.example through `node`, answered 250 and found in `sink`:
 * its text as received (quoted-printable soft breaks joined), for asserting which template stamped it.
 */
export const relayThrough = async (node: Node, sink: Sink, id: string, subject = "cluster"): Promise<string> => {
  const message = [
    "From: Alice <alice@acme.example>",
    "To: bob@acme.example",
    `Subject: ${subject}`,
    `Message-ID: <${id}@acme.example>`,
    "Content-Type: text/plain; charset=us-ascii",
    "",
    "All done.",
    ""
  ].join("\r\n")
  const c = await RawSmtp.connect(node.imprint.port)
  try {
    expect((await c.send("alice@acme.example", ["bob@acme.example"], message)).code).toBe(250)
  } finally {
    c.end()
  }
  const received = sink.messages.find((m) => m.raw.toString("latin1").includes(`<${id}@acme.example>`))
  expect(received).toBeDefined()
  return received!.raw.toString("latin1").replace(/=\r\n/g, "")
}

/** Replaces acme's template "sig" through `node`'s admin API with one that prints `label`: the HTTP status */
export const saveSignature = (node: Node, label: string) =>
  statusOf(node, (c) =>
    c.templates.replace({
      path: { tenantId: "acme", templateId: "sig" },
      payload: { name: "Signature", html: `<p>${label}: {{displayName}}</p>`, text: `${label}: {{displayName}}` }
    })
  )
