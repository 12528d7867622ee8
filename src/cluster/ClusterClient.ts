import { jetstream, JetStreamApiError, type JetStreamClient } from "@nats-io/jetstream"
import { Kvm, type KV } from "@nats-io/kv"
import { connect, headers, type NatsConnection } from "@nats-io/transport-node"
import { Context, Effect, Layer, Runtime } from "effect"
import type { ClusterConfig } from "../config.js"
import type { ReplicatedWrite, StoreReplicationShape } from "../store/Replication.js"
import { StoreReplication } from "../store/Replication.js"
import { StoreError } from "../store/StoreError.js"
import { toKvKey } from "./KvKeys.js"
import { hasQuorum } from "./StreamQuorum.js"

/**
 * The node's connection to NATS JetStream and its KV bucket, the cluster's
 * source of truth (DESIGN.md "Storage"). Connecting never blocks start-up: the
 * relay serves mail from LMDB while this keeps trying in the background.
 * Writes (StoreReplication) publish to the bucket with compare-and-set on each
 * key's revision; they are refused at once (503) while the node is cut off,
 * so an admin never waits on a dead cluster.
 */

/** Databases that stay on the node: the store's own bookkeeping and the fail-safe memory of single messages. */
export const LOCAL_DATABASES: ReadonlySet<string> = new Set(["meta", "failsafe", "throttle"])
/** in-flight publishes per batch: enough to keep a 5,000-entry sync batch streaming, bounded for the server */
export const WRITE_CONCURRENCY = 128
/** a node's first write waits this long for the first connection (a CLI one-shot), later ones not at all */
export const FIRST_CONNECT_WAIT_MS = 5_000

export interface ClusterHandle {
  readonly nc: NatsConnection
  readonly js: JetStreamClient
  readonly kv: KV
}

export interface ClusterClientShape {
  readonly config: ClusterConfig
  /** the connection and bucket once connected (a promise that waits for it) */
  readonly ready: () => Promise<ClusterHandle>
  /** connected now (false between a disconnect and the reconnect) */
  readonly connected: () => boolean
  /** status events (disconnect, reconnect) for the applier */
  readonly onStatus: (f: (type: string) => void) => () => void
  /**
   * false while the bucket's stream does not answer although the connection
   * is up (the applier looks every second): the cluster lost its quorum (two
   * of three servers gone), and writes are refused at once instead of each
   * waiting writeTimeoutMs
   */
  readonly streamAnswering: () => boolean
  /** the applier's last look at the stream */
  readonly reportStream: (answering: boolean) => void
}

export class ClusterClient extends Context.Tag("imprint/ClusterClient")<ClusterClient, ClusterClientShape>() {}

const unavailable = (message: string, cause?: unknown) => new StoreError({ op: "unavailable", message, cause })

export const clusterClientLayer = (config: ClusterConfig) =>
  Layer.scoped(
    ClusterClient,
    Effect.gen(function* () {
      let handle: ClusterHandle | undefined
      let connected = false
      let closed = false
      let answering = true
      const listeners = new Set<(type: string) => void>()
      let resolveReady!: (h: ClusterHandle) => void
      const readyPromise = new Promise<ClusterHandle>((resolve) => (resolveReady = resolve))
      const runtime = yield* Effect.runtime<never>()
      const log = (message: string) => Runtime.runFork(runtime)(Effect.logWarning(message).pipe(Effect.annotateLogs({ cluster: config.bucket })))

      const start = async () => {
        const nc = await connect({
          servers: [...config.servers],
          name: config.node,
          reconnect: true,
          maxReconnectAttempts: -1,
          waitOnFirstConnect: true,
          reconnectTimeWait: 250,
          timeout: config.writeTimeoutMs,
          pingInterval: 2_000,
          maxPingOut: 2
        })
        if (closed) return void (await nc.close())
        connected = true
        void (async () => {
          for await (const s of nc.status()) {
            if (s.type === "disconnect") connected = false
            if (s.type === "reconnect") connected = true
            for (const f of listeners) f(s.type)
          }
        })()
        const js = jetstream(nc, { timeout: config.writeTimeoutMs })
        // the bucket is made by the first node that finds none (same settings on every node)
        let kv: KV | undefined
        while (kv === undefined && !closed) {
          // a site that mirrors another's bucket (two sites, `mirrorDomain`) holds a read-only copy with the same revisions
          const mirror = config.mirrorDomain === undefined ? {} : { mirror: { name: config.bucket, domain: config.mirrorDomain } }
          kv = await new Kvm(js).create(config.bucket, { history: 1, replicas: config.replicas, ...mirror }).catch(async (e) => {
            await new Promise((r) => setTimeout(r, 500))
            if (!closed) log(`cluster bucket ${config.bucket} not ready yet: ${(e as Error).message}`)
            return undefined
          })
        }
        if (kv === undefined) return void (await nc.close())
        handle = { nc, js, kv }
        resolveReady(handle)
      }
      yield* Effect.sync(() => void start().catch((e) => log(`cluster connection failed: ${(e as Error).message}`)))
      yield* Effect.addFinalizer(() =>
        Effect.promise(async () => {
          closed = true
          await handle?.nc.close().catch(() => undefined)
        })
      )

      return {
        config,
        ready: () => readyPromise,
        connected: () => connected && handle !== undefined,
        streamAnswering: () => answering,
        reportStream: (now) => void (answering = now),
        onStatus: (f) => {
          listeners.add(f)
          return () => listeners.delete(f)
        }
      } satisfies ClusterClientShape
    })
  )

const isConflict = (e: unknown) => e instanceof JetStreamApiError && (e.code === 10071 || e.code === 10164)

/** Maps over `items` with at most `limit` promises in flight, answers in order. */
const mapLimit = async <A, B>(items: ReadonlyArray<A>, limit: number, f: (a: A) => Promise<B>): Promise<Array<B>> => {
  const out = new Array<B>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await f(items[i])
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

/** how long a write looks at a bucket whose stream did not answer the applier's last look before it is refused */
export const STREAM_RECHECK_MS = 1_000

const answersWithin = (h: ClusterHandle, ms: number): Promise<boolean> =>
  Promise.race([
    h.kv.status().then(
      (st) => hasQuorum(st.streamInfo),
      () => false
    ),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms).unref())
  ])

/** The store's replicated writes, through this node's cluster client. */
export const storeReplicationLayer = Layer.effect(
  StoreReplication,
  Effect.gen(function* () {
    const client = yield* ClusterClient
    const { bucket, writeTimeoutMs, mirrorDomain } = client.config
    // a mirroring site writes to the holding site's bucket, through that domain's mapping over the leafnode
    const prefix = mirrorDomain === undefined ? `$KV.${bucket}` : `$JS.${mirrorDomain}.API.$KV.${bucket}`
    let everConnected = false

    const handleNow = async (): Promise<ClusterHandle> => {
      if (client.connected()) {
        everConnected = true
        if (!client.streamAnswering()) {
          // the applier's last look went unanswered: look again now, briefly, rather than wait for its next look
          // (a re-elected leader would otherwise keep writes refused until then) or for a write's whole timeout
          const h = await client.ready()
          if (!(await answersWithin(h, STREAM_RECHECK_MS)))
            throw unavailable("the cluster's bucket does not answer (its servers have no quorum); mail keeps flowing, changes wait until it is back")
          client.reportStream(true)
          return h
        }
        return client.ready()
      }
      if (everConnected) throw unavailable("the cluster is unreachable from this node; mail keeps flowing, changes wait until it is back")
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(unavailable(`no cluster server answered within ${FIRST_CONNECT_WAIT_MS} ms (${client.config.servers.join(", ")})`)),
          FIRST_CONNECT_WAIT_MS
        ).unref()
      )
      const h = await Promise.race([client.ready(), timeout])
      everConnected = true
      return h
    }

    const publish = (h: ClusterHandle, w: ReplicatedWrite): Promise<number> => {
      const subject = `${prefix}.${toKvKey(w.db, w.key)}`
      const h2 = headers()
      if (w.value === undefined) h2.set("KV-Operation", "DEL")
      const data = w.value === undefined ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(w.value))
      return h.js
        .publish(subject, data, { headers: h2, expect: { lastSubjectSequence: w.expected }, timeout: writeTimeoutMs })
        .then((ack) => ack.seq)
        .catch((e: unknown) => {
          // a key this node holds as deleted whose history was purged since: the bucket has no revision for it now
          if (isConflict(e) && w.deleted && w.expected > 0) return publish(h, { ...w, expected: 0, deleted: false })
          if (isConflict(e)) {
            throw new StoreError({
              op: "conflict",
              db: w.db,
              key: w.key,
              message: `${w.db}:${w.key} was changed by someone else since this node read it (revision ${w.expected}); read it again and retry`
            })
          }
          throw e instanceof StoreError ? e : unavailable(`the cluster did not take the write of ${w.db}:${w.key}: ${(e as Error).message}`, e)
        })
    }

    const write = (writes: ReadonlyArray<ReplicatedWrite>) =>
      Effect.tryPromise({
        try: async () => {
          const h = await handleNow()
          // The bucket has no multi-key transaction. A batch's first key is its gate: written alone, and
          // only once it won its compare-and-set are the others (a template's history, …) written.
          const first = await publish(h, writes[0])
          return [first, ...(await mapLimit(writes.slice(1), WRITE_CONCURRENCY, (w) => publish(h, w)))]
        },
        catch: (e) => (e instanceof StoreError ? e : unavailable(`cluster write failed: ${String(e)}`, e))
      })

    return { replicates: (db) => !LOCAL_DATABASES.has(db), write } satisfies StoreReplicationShape
  })
)
