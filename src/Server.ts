import { Context, Duration, Effect, Layer, type MetricPair, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { ControlPlaneLive } from "./actors/ControlPlaneLive.js"
import { applierLayer } from "./cluster/Applier.js"
import { clusterClientLayer, storeReplicationLayer } from "./cluster/ClusterClient.js"
import { nodeMeshLayer } from "./cluster/NodeMeshNats.js"
import { TenantRegistry, WarmTenantLimits } from "./actors/TenantRegistry.js"
import type { ImprintConfig } from "./config.js"
import { InboundListener } from "./pipeline/Inbound.js"
import { AdminListener, ImageListener } from "./Listeners.js"
import type { AuthThrottlePeers } from "./pipeline/inbound/AuthThrottle.js"
import type { AdmissionPeers } from "./pipeline/inbound/ConnectionLimits.js"
import { loadStampKey, loadTlsMaterial } from "./Secrets.js"
import { AdminRepo } from "./store/AdminRepo.js"
import { AccountRepo } from "./store/AccountRepo.js"
import { SessionRepo } from "./store/SessionRepo.js"
import { AuditRepo } from "./store/AuditRepo.js"
import { DirectoryRepo } from "./store/DirectoryRepo.js"
import { FailSafeMemory } from "./store/FailSafeMemory.js"
import { Store, StorePath } from "./store/Store.js"
import { ImageDelivery } from "./domain/Images.js"
import { ImageRepo } from "./store/ImageRepo.js"
import { PhotoNormaliserLive } from "./images/PhotoNormaliser.js"
import { TenantRepo } from "./store/TenantRepo.js"
import { hashKeyLayer, optionsLayer, TenantTraceSettings, TRACE_FOLDER, traceResponderLayer } from "./trace/TraceLayer.js"
import { TracePath, TraceStore } from "./trace/TraceStore.js"
import { TraceSearch } from "./trace/TraceSearch.js"
import { type TraceOptionsShape, TraceSinkLive, TraceSinkOff, TraceWriter } from "./trace/TraceWriter.js"
import { loadSecretKeys, SecretKeys } from "./store/SecretCipher.js"
import { DirectorySync, SyncOptions } from "./sync/DirectorySync.js"
import { DirectoryWriterLive } from "./actors/DirectoryWriterLive.js"
import { SyncRepo } from "./sync/SyncRepo.js"
import { localAuthPeers } from "./workers/NodeAuthPermits.js"

/**
 * Everything `imprint serve` runs on: the store, the tenant repository, the actors and the data plane's port to them.
 * With `cluster` configured, the store writes through the cluster's KV bucket and an applier keeps LMDB a replica of it.
 * `node` (`workers: N`): this process's slot, 0 the primary and 1…N the workers, of `workers` N. A worker has no
 * cluster connection and no applier: the primary runs those, and the worker reads what they applied from the
 * shared LMDB environment. Each process makes trace record ids from its own share (slot, slot + N + 1, …).
 */
export const liveLayer = (config: ImprintConfig, options: { readonly node?: { readonly slot: number; readonly workers: number } } = {}) => {
  const isWorker = options.node !== undefined && options.node.slot > 0
  fs.mkdirSync(config.dataDir, { recursive: true })
  const storePath = Layer.succeed(StorePath, path.join(config.dataDir, "lmdb"))
  // seals secrets at rest (sync credentials, downstream passwords): store/SecretCipher.ts
  const secretKeys = Layer.effect(
    SecretKeys,
    loadSecretKeys({
      configured: config.sync.credentialKey,
      keyFile: config.sync.credentialKeyFile,
      previous: config.sync.previousCredentialKeys,
      dataDir: config.dataDir
    })
  )
  const local = Layer.mergeAll(
    storePath,
    secretKeys,
    // read by the tenant actors when they render library images (hosted URLs or cid: references)
    Layer.succeed(ImageDelivery, { publicBaseUrl: config.images.publicBaseUrl, defaultDelivery: config.images.defaultDelivery }),
    // how many tenant actors stay warm (README "Hosting many tenants")
    Layer.succeed(WarmTenantLimits, {
      maxWarm: config.tenants.maxWarm,
      memoryBudgetBytes: config.tenants.memoryBudgetMb * 1024 * 1024,
      idleStop: Duration.seconds(config.tenants.idleStopSeconds)
    })
  )
  const client = config.cluster === undefined || isWorker ? undefined : clusterClientLayer(config.cluster)
  const base = client === undefined ? local : Layer.merge(local, storeReplicationLayer.pipe(Layer.provide(client)))
  const cluster = client === undefined ? Layer.empty : applierLayer.pipe(Layer.provide(Layer.merge(Store.Default, client)))
  // the trace search asks every node and merges (README "Message trace"); each node answers for its own records
  const mesh = client === undefined ? undefined : nodeMeshLayer.pipe(Layer.provide(client))
  const traceBase = traceLayer(config, options.node === undefined ? undefined : { offset: options.node.slot, stride: options.node.workers + 1 }).pipe(
    Layer.provide(TenantRepo.Default)
  )
  const trace = mesh === undefined ? traceBase : traceBase.pipe(Layer.provideMerge(mesh))
  const traceResponder = mesh === undefined ? Layer.empty : traceResponderLayer.pipe(Layer.provide(Layer.merge(trace, mesh)))
  // layers are memoized by reference in one build: one Store, one registry, one cluster connection
  return Layer.mergeAll(
    cluster,
    traceResponder,
    Store.Default,
    TenantRepo.Default,
    TenantRegistry.Default,
    FailSafeMemory.Default,
    AdminRepo.Default,
    SessionRepo.Default,
    AccountRepo.Default,
    AuditRepo.Default,
    DirectoryRepo.Default,
    ControlPlaneLive.pipe(Layer.provide(TenantRegistry.Default)),
    trace,
    syncLayer(config)
  ).pipe(Layer.provideMerge(base))
}

/** Directory sync: its repository (credentials encrypted with the configured or generated key) and the supervisor. */
const syncLayer = (config: ImprintConfig) =>
  DirectorySync.Default.pipe(
    Layer.provideMerge(SyncRepo.Default),
    Layer.provide(
      Layer.mergeAll(
        DirectoryWriterLive.pipe(Layer.provide(TenantRegistry.Default)),
        PhotoNormaliserLive,
        SyncOptions.layer({
          enabled: config.sync.enabled,
          defaultInterval: Duration.seconds(config.sync.defaultIntervalSeconds),
          jitter: config.sync.jitter
        })
      )
    )
  )

/** The trace's store and its search, for the admin API and the CLI (no writer); with NodeMesh in context the search merges every node's. */
export const traceSearchLayer = (config: ImprintConfig) =>
  TraceSearch.Default.pipe(
    Layer.provideMerge(Layer.merge(TraceStore.Default, hashKeyLayer(config))),
    // the trace's own LMDB environment, apart from the Store's (TraceStore.ts)
    Layer.provide(Layer.succeed(TracePath, path.join(config.dataDir, TRACE_FOLDER)))
  )

/**
 * TraceSink (for the data plane), the writer, the store and its search; needs TenantRepo. The store is opened
 * also when the trace is off (trace.enabled false: TraceSinkOff), so records already kept stay searchable.
 * `idSequence`: this process's share of record ids when several write the folder (`workers: N`, TraceOptionsShape).
 */
const traceLayer = (config: ImprintConfig, idSequence?: TraceOptionsShape["idSequence"]) => {
  const search = traceSearchLayer(config)
  if (!config.trace.enabled) return Layer.merge(TraceSinkOff, search)
  return TraceSinkLive.pipe(
    Layer.provideMerge(TraceWriter.Default),
    Layer.provide(Layer.mergeAll(optionsLayer(config, idSequence), TenantTraceSettings)),
    Layer.provideMerge(search)
  )
}

/**
 * TenantRepo.resealSecrets and SyncRepo.resealSecrets over every tenant (README
 * "Secrets at rest"). A failure is logged, never a reason not to start: the
 * values still open as they are (and in cluster mode another node may be
 * writing the same records at the same moment).
 */
const resealSecrets = Effect.gen(function* () {
  yield* (yield* TenantRepo).resealSecrets()
  const sync = yield* SyncRepo
  for (const tenantId of yield* sync.tenantsWithSettings()) {
    if (yield* sync.resealSecrets(tenantId))
      yield* Effect.logInfo("sync credentials sealed with the current key").pipe(Effect.annotateLogs({ tenant: tenantId }))
  }
}).pipe(Effect.catchAllCause((cause) => Effect.logError("sealing stored secrets with the current key failed; they are read as they are", cause)))

/** `images.tlsKeyFile`/`tlsCertFile` (both or neither): HTTPS; neither: plain HTTP behind a proxy. */
const imagesTlsMaterial = (images: ImprintConfig["images"]) =>
  images.tlsKeyFile === undefined && images.tlsCertFile === undefined
    ? Effect.succeed(undefined)
    : Effect.try(() => ({ key: fs.readFileSync(images.tlsKeyFile!, "utf8"), cert: fs.readFileSync(images.tlsCertFile!, "utf8") })).pipe(
        Effect.orDieWith((e) => new Error(`images.tlsKeyFile and images.tlsCertFile must both name readable PEM files: ${String(e)}`))
      )

export interface ServerOptions {
  /** the admin API (`imprint serve`, demo) when `admin.enabled`; opt-in so in-process test relays do not all claim port 8443 */
  readonly admin?: boolean
  /** a worker of `workers: N`: SMTP only (no scheduled syncs, no image listener: the primary runs them), throttles shared */
  readonly worker?: { readonly authPeers: AuthThrottlePeers; readonly admissionPeers: AdmissionPeers | undefined }
}

/** The SMTP certificate and the loop stamp key, generated into dataDir on first use (before any worker starts). */
const loadSecrets = (config: ImprintConfig) =>
  Effect.all({
    tls: loadTlsMaterial({ keyFile: config.smtp.tlsKeyFile, certFile: config.smtp.tlsCertFile, dataDir: config.dataDir, commonName: config.smtp.host }),
    stampKey: loadStampKey(config.loopStampKey, config.dataDir)
  })

type TlsMaterial = { readonly key: string; readonly cert: string }

/** The listeners' secrets (loadSecrets), loaded once per start. */
class ServerSecrets extends Context.Tag("imprint/ServerSecrets")<ServerSecrets, { readonly tls: TlsMaterial; readonly stampKey: Buffer }>() {}

/** What a started server tells its caller: the bound ports (the ones chosen when configured as 0) and the loop stamp key. */
export interface RunningServerShape {
  readonly port: number
  readonly activeSessions: () => number
  readonly stampKey: Buffer
  readonly adminPort: number | undefined
  readonly imagesPort: number | undefined
}
export class RunningServer extends Context.Tag("imprint/RunningServer")<RunningServer, RunningServerShape>() {}

/**
 * `next` built after `first` (it may use what `first` provides) and closed before it: the order
 * in which the server's parts start, and the reverse in which they stop.
 */
const inOrder = <A, E, R, A2, E2, R2>(first: Layer.Layer<A, E, R>, next: Layer.Layer<A2, E2, R2>) => next.pipe(Layer.provideMerge(first))

/** A layer only some starts have (Layer.empty for the others); read with Effect.serviceOption. */
const optional = <A, E, R>(present: boolean, layer: () => Layer.Layer<A, E, R>): Layer.Layer<never, E, R> => (present ? layer() : Layer.empty)

/** A log line once `tag`'s service is built (a listener's bound address). */
const logOnStart = <I, S>(tag: Context.Tag<I, S>, line: (service: S) => string) => Layer.effectDiscard(Effect.flatMap(tag, (s) => Effect.logInfo(line(s))))

/** The SMTP listener (pipeline/Inbound.ts), bound with the loaded secrets; its scope's close stops it gracefully. */
const inboundLayer = (config: ImprintConfig, options: ServerOptions) =>
  Layer.unwrapEffect(
    Effect.map(ServerSecrets, ({ tls, stampKey }) =>
      InboundListener.layer({
        config,
        tls,
        stampKey,
        authPeers: options.worker?.authPeers ?? localAuthPeers(config),
        admissionPeers: options.worker?.admissionPeers
      })
    )
  )

/**
 * The SMTP side as a scoped Layer over liveLayer's services: secrets, then (the single process)
 * the secrets resealed, the SMTP listener, the scheduled syncs, the admin API (with `admin: true`
 * and `admin.enabled`) and the image listener; a worker of `workers: N` has the listener only.
 * Built, it listens and provides RunningServer; its scope's close stops the parts in the reverse
 * order, SMTP last and gracefully (Shutdown).
 */
export const serverLayer = (config: ImprintConfig, options: ServerOptions = {}) => {
  const secrets = Layer.effect(ServerSecrets, loadSecrets(config))
  const isWorker = options.worker !== undefined
  // records from before secrets were sealed, or sealed by a key since rotated out, are sealed with the current key
  // (once per node: by the single process or the primary, never by the workers)
  const started = inOrder(
    inOrder(
      secrets,
      optional(!isWorker, () => Layer.effectDiscard(resealSecrets))
    ),
    inboundLayer(config, options)
  )
  const side = optional(!isWorker, () =>
    inOrder(
      logOnStart(InboundListener, (inbound) => `listening on ${config.smtp.host}:${inbound.port}`),
      controlSideLayer(config, options.admin === true)
    )
  )
  const running = Layer.effect(
    RunningServer,
    Effect.gen(function* () {
      const inbound = yield* InboundListener
      const admin = yield* Effect.serviceOption(AdminListener)
      const images = yield* Effect.serviceOption(ImageListener)
      return {
        port: inbound.port,
        activeSessions: inbound.activeSessions,
        stampKey: (yield* ServerSecrets).stampKey,
        adminPort: Option.getOrUndefined(admin)?.port,
        imagesPort: Option.getOrUndefined(images)?.port
      }
    })
  )
  return running.pipe(Layer.provide(inOrder(started, side)))
}

/**
 * The primary of `workers: N` as a scoped Layer: everything but SMTP (the workers relay). It
 * generates the secrets first, so workers only read them.
 */
export const primaryLayer = (config: ImprintConfig, workerMetrics: Effect.Effect<ReadonlyArray<MetricPair.MetricPair.Untyped>>) =>
  inOrder(inOrder(Layer.effect(ServerSecrets, loadSecrets(config)), Layer.effectDiscard(resealSecrets)), controlSideLayer(config, true, workerMetrics))

/**
 * The admin API's modules (its handlers, @effect/platform's HttpApi, the HTTP server) and the image
 * listener's, loaded only where they run: a worker of `workers: N` serves SMTP only and never
 * loads them (README "Every core: `workers`").
 */
const adminModules = Effect.promise(() => Promise.all([import("./AdminRoot.js"), import("./admin/http/AdminServer.js")]))
const imageServerModule = Effect.promise(() => import("./ImageRoot.js"))

/** The admin API's HTTPS listener (AdminRoot.ts), with its certificate or the SMTP side's. */
const adminLayer = (config: ImprintConfig, workerMetrics: Effect.Effect<ReadonlyArray<MetricPair.MetricPair.Untyped>> | undefined) =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const [{ adminListenerLayer }, { adminTlsMaterial }] = yield* adminModules
      const { tls } = yield* ServerSecrets
      return adminListenerLayer({
        host: config.admin.host,
        port: config.admin.port,
        tls: yield* adminTlsMaterial(config.admin, tls),
        metricsTenantLabels: config.admin.metricsTenantLabels,
        workerMetrics,
        accounts: { login: config.admin.login, mail: config.admin.mail }
      })
    })
  )

/** The hosted image listener (ImageRoot.ts) at `images.listen`. */
const imagesLayer = (config: ImprintConfig, listen: NonNullable<ImprintConfig["images"]["listen"]>) =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const { imageListenerLayer } = yield* imageServerModule
      return imageListenerLayer({ host: listen.host, port: listen.port, tls: yield* imagesTlsMaterial(config.images) })
    })
  ).pipe(Layer.provide(ImageRepo.DefaultWithoutDependencies))

/** Scheduled directory syncs, the admin API and the image listener: one of each per node, started in this order. */
const controlSideLayer = (config: ImprintConfig, withAdmin: boolean, workerMetrics?: Effect.Effect<ReadonlyArray<MetricPair.MetricPair.Untyped>>) => {
  // scheduled directory syncs run with the server; the scope's close stops them
  const syncs = Layer.effectDiscard(Effect.flatMap(DirectorySync, (sync) => sync.start()))
  const admin = optional(withAdmin && config.admin.enabled, () =>
    inOrder(
      adminLayer(config, workerMetrics),
      logOnStart(AdminListener, (listener) => `admin API listening on ${listener.url}`)
    )
  )
  const listen = config.images.listen
  const images = optional(listen !== undefined, () =>
    inOrder(
      imagesLayer(config, listen!),
      logOnStart(ImageListener, (listener) => `image listener on ${listener.url}, public as ${config.images.publicBaseUrl ?? "(images.publicBaseUrl not set)"}`)
    )
  )
  return inOrder(inOrder(syncs, admin), images)
}
