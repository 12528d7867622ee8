import { Layer } from "effect"
import { afterAll, beforeAll, describe } from "vitest"
import { clusterClientLayer, storeReplicationLayer } from "../../src/cluster/ClusterClient.js"
import { ClusterConfig } from "../../src/config.js"
import { Store } from "../../src/store/Store.js"
import { storeContract } from "../store/StoreContract.js"
import { TempStorePath } from "../store/TempStore.js"
import { natsUnavailable, type NatsPeer, startNats } from "./NatsPeer.js"

/**
 * The store contract on the cluster backend: every replicated write goes to a
 * NATS JetStream KV bucket (a fresh bucket per test) with compare-and-set,
 * then into LMDB with its revision.
 */

const unavailable = natsUnavailable()
if (unavailable !== undefined) console.warn(`skipping the replicated store contract: ${unavailable}`)

let nats: NatsPeer | undefined
let buckets = 0

describe.skipIf(unavailable !== undefined)("replicated store", () => {
  beforeAll(async () => {
    nats = await startNats()
  })
  afterAll(async () => {
    await nats?.stop()
  })

  storeContract("NATS JetStream KV + LMDB", () => {
    const client = clusterClientLayer(ClusterConfig.make({ servers: [nats!.url], bucket: `contract-${++buckets}`, node: "contract" }))
    return Store.Default.pipe(Layer.provide(Layer.merge(TempStorePath, storeReplicationLayer.pipe(Layer.provide(client)))))
  })
})
