import { Kvm, type KV } from "@nats-io/kv"
import { Effect, Layer, Runtime } from "effect"
import { NodeMesh, type NodeMeshShape, NodeUnreachable } from "../domain/NodeMesh.js"
import { type ClusterHandle, ClusterClient } from "./ClusterClient.js"
import { kvToken } from "./KvKeys.js"

/**
 * NodeMesh over the node's NATS connection. Each node announces itself in a
 * small KV bucket of its own (`<bucket>_nodes`, one key per node, kept
 * NODE_TTL_MS after its last announcement): the nodes a search must ask are
 * those announced, so a stopped node is named as missing, not silently left
 * out, until it has been gone for NODE_TTL_MS. Not the tenant bucket: its
 * appliers would see every announcement. Requests go to
 * `imprint.<bucket>.<topic>.<node>`, answered by that node alone.
 */

/** how long a node that stopped announcing itself is still expected to answer */
export const NODE_TTL_MS = 24 * 60 * 60 * 1000
/** how often a running node announces itself again (well within NODE_TTL_MS) */
export const ANNOUNCE_INTERVAL_MS = 10 * 60 * 1000

const subject = (bucket: string, topic: string, node: string) => `imprint.${bucket}.${topic}.${kvToken(node)}`

const unreachable = (node: string, e: unknown) => new NodeUnreachable({ node, message: e instanceof Error ? e.message : String(e) })

export const nodeMeshLayer = Layer.scoped(
  NodeMesh,
  Effect.gen(function* () {
    const client = yield* ClusterClient
    const { bucket, node: self, replicas } = client.config
    const runtime = yield* Effect.runtime<never>()
    let registry: Promise<KV> | undefined
    const nodesKv = (h: ClusterHandle) =>
      (registry ??= new Kvm(h.js).create(`${bucket}_nodes`, { history: 1, replicas, ttl: NODE_TTL_MS }).catch((e: unknown) => {
        registry = undefined
        throw e
      }))
    const announce = () =>
      client
        .ready()
        .then(async (h) => (await nodesKv(h)).put(kvToken(self), JSON.stringify({ node: self, at: Date.now() })))
        .catch((e: unknown) => Runtime.runFork(runtime)(Effect.logWarning(`cluster: announcing node ${self} failed: ${String(e)}`)))

    const handle = () => (client.connected() ? client.ready() : Promise.reject(new Error("this node is not connected to the cluster")))

    void announce()
    const timer = setInterval(() => void announce(), ANNOUNCE_INTERVAL_MS)
    timer.unref()
    const stopStatus = client.onStatus((type) => {
      if (type === "reconnect") void announce()
    })
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        clearInterval(timer)
        stopStatus()
      })
    )

    // The registry as a watch keeps it: a search then asks no extra round trip (listing the bucket's keys
    // creates a consumer each time: ~10 ms of a ~11 ms merged search, perf:trace-merge). Until the watch has
    // delivered the registry (and while it is down) the bucket is listed.
    let followed: Map<string, string> | undefined
    let following = false
    let watching: { stop: () => void } | undefined
    const follow = async () => {
      if (following) return
      following = true
      try {
        const watch = await (await nodesKv(await client.ready())).watch()
        watching = watch
        const stop = client.onStatus((type) => {
          if (type === "disconnect") watch.stop()
        })
        const names = new Map<string, string>()
        try {
          for await (const e of watch) {
            if (e.operation === "PUT" && e.length > 0) {
              const v = e.json<{ node?: unknown }>()
              if (typeof v.node === "string") names.set(e.key, v.node)
            } else names.delete(e.key)
            if ((e.delta ?? 0) === 0) followed = names
          }
        } finally {
          stop()
          followed = undefined
        }
      } catch (e) {
        Runtime.runFork(runtime)(Effect.logWarning(`cluster: following the node registry failed: ${String(e)}`))
      } finally {
        following = false
      }
    }
    void follow()
    const stopFollowing = client.onStatus((type) => {
      if (type === "reconnect") void follow()
    })
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        stopFollowing()
        watching?.stop()
      })
    )

    const nodes: NodeMeshShape["nodes"] = () =>
      Effect.tryPromise({
        try: async () => {
          if (followed !== undefined && client.connected()) return [...new Set([self, ...followed.values()])].sort()
          const kv = await nodesKv(await handle())
          const names = new Set<string>([self])
          for await (const key of await kv.keys()) {
            const e = await kv.get(key)
            if (e === null || e.length === 0) continue
            const v = e.json<{ node?: unknown }>()
            if (typeof v.node === "string") names.add(v.node)
          }
          return [...names].sort()
        },
        catch: (e) => unreachable("(cluster)", e)
      })

    const ask: NodeMeshShape["ask"] = (node, topic, request, timeoutMs) =>
      Effect.tryPromise({
        try: async () => (await (await handle()).nc.request(subject(bucket, topic, node), request, { timeout: timeoutMs })).data,
        catch: (e) => unreachable(node, e)
      })

    const answer: NodeMeshShape["answer"] = (topic, handler) =>
      Effect.gen(function* () {
        const rt = yield* Effect.runtime<never>()
        let stopped = false
        let sub: { unsubscribe: () => void } | undefined
        void client.ready().then((h) => {
          if (stopped) return
          sub = h.nc.subscribe(subject(bucket, topic, self), {
            callback: (err, msg) => {
              if (err !== null) return
              Runtime.runFork(rt)(
                handler(msg.data).pipe(
                  Effect.flatMap((reply) => Effect.sync(() => msg.respond(reply))),
                  Effect.catchAllCause((cause) => Effect.logError(`cluster: answering ${topic} failed`, cause))
                )
              )
            }
          })
        })
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            stopped = true
            sub?.unsubscribe()
          })
        )
      })

    return { self, nodes, ask, answer } satisfies NodeMeshShape
  })
)
