import { Duration, Effect, Layer, Option } from "effect"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import type { ImprintConfig } from "../config.js"
import { NodeMesh } from "../domain/NodeMesh.js"
import type { TenantId } from "../domain/Tenant.js"
import { TenantRepo } from "../store/TenantRepo.js"
import { serveTracePages } from "./TraceFanout.js"
import { TraceHashKey, TraceSearch } from "./TraceSearch.js"
import { TraceOptions, type TraceOptionsShape, TraceSettingsSource } from "./TraceWriter.js"

/**
 * The message trace's parts as the server runs them: its store at
 * `<dataDir>/trace` (TRACE_FOLDER: the root gives TraceStore its TracePath), the recipient-hashing key, the writer's options from the
 * configuration, each tenant's trace settings from its tenant record, and the
 * cluster responder. The composition root (Server.ts: traceLayer,
 * traceSearchLayer) composes them.
 */

export const TRACE_FOLDER = "trace"
export const HASH_KEY_FILE = "trace-hash.key"

/** trace.hashKey, or 32 random bytes generated into the data folder once. */
export const loadHashKey = (configured: string | undefined, dataDir: string) =>
  Effect.sync(() => {
    if (configured !== undefined) {
      return /^[0-9a-f]+$/i.test(configured) && configured.length % 2 === 0 ? Buffer.from(configured, "hex") : Buffer.from(configured, "base64")
    }
    const file = path.join(dataDir, HASH_KEY_FILE)
    if (fs.existsSync(file)) return Buffer.from(fs.readFileSync(file, "utf8").trim(), "hex")
    const key = randomBytes(32)
    fs.mkdirSync(dataDir, { recursive: true })
    fs.writeFileSync(file, key.toString("hex") + "\n", { mode: 0o600 })
    return key
  })

export const hashKeyLayer = (config: ImprintConfig) => Layer.effect(TraceHashKey, loadHashKey(config.trace.hashKey, config.dataDir))

export const optionsLayer = (config: ImprintConfig, idSequence: TraceOptionsShape["idSequence"]) =>
  Layer.effect(
    TraceOptions,
    Effect.map(TraceHashKey, (hashKey) => ({
      node: config.trace.node ?? config.smtp.name,
      queueCapacity: config.trace.queueCapacity,
      batchSize: config.trace.batchSize,
      flushInterval: Duration.millis(config.trace.flushIntervalMs),
      maxRecords: config.trace.maxRecords,
      maxBytes: config.trace.maxBytes,
      retentionDays: config.trace.retentionDays,
      expiryInterval: Duration.seconds(config.trace.expiryIntervalSeconds),
      hashKey,
      tenantLabels: config.admin.metricsTenantLabels,
      idSequence
    }))
  )

/** A tenant's `trace` settings from its record; a deleted or unreadable tenant gets the defaults. */
export const TenantTraceSettings = Layer.effect(
  TraceSettingsSource,
  Effect.map(
    TenantRepo,
    (repo) => (tenant: string) =>
      repo.getTenant(tenant as TenantId).pipe(
        Effect.map(Option.match({ onNone: () => undefined, onSome: (t) => t.trace })),
        Effect.orElseSucceed(() => undefined)
      )
  )
)

/** In a cluster: this node answers the other nodes' trace searches with its own records (TraceFanout). */
export const traceResponderLayer = Layer.scopedDiscard(
  Effect.gen(function* () {
    const search = yield* TraceSearch
    yield* serveTracePages(yield* NodeMesh, search.local)
  })
)
