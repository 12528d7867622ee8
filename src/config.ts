import { Context, Effect, Either, Layer, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Downstream } from "./domain/Tenant.js"
import { EXCHANGE_ONLINE_CERTIFICATE_NAME, EXCHANGE_ONLINE_RANGES } from "./domain/Microsoft365.js"
import { Cidr } from "./domain/TenantFile.js"
import { ImageDeliveryMode } from "./domain/Images.js"
import { LoginSettings, MailSettings } from "./domain/AccountSettings.js"
import { formatConfigError } from "./ConfigErrors.js"

/**
 * Imprint's configuration: a JSON file, then IMPRINT_* environment overrides,
 * decoded with Schema. Unknown keys are errors, so a typo stops start-up with a
 * message naming the key instead of being silently ignored.
 */

const MB = 1024 * 1024

const Port = Schema.Int.pipe(Schema.between(0, 65535))
const Millis = Schema.Int.pipe(Schema.positive())
/** more relay processes than this on one node is a typo, not a host */
export const MAX_WORKERS = 256

export class SmtpListen extends Schema.Class<SmtpListen>("SmtpListen")({
  host: Schema.optionalWith(Schema.String, { default: () => "127.0.0.1" }),
  port: Schema.optionalWith(Port, { default: () => 2525 }),
  /** the name in the banner, EHLO replies and Received headers */
  name: Schema.optionalWith(Schema.String, { default: () => "imprint.localhost" }),
  /** PEM files for STARTTLS; absent: STARTTLS is offered with a certificate generated into the data folder */
  tlsKeyFile: Schema.optional(Schema.String),
  tlsCertFile: Schema.optional(Schema.String),
  maxMessageSize: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 150 * MB }),
  maxClients: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 1000 }),
  /** idle time allowed between commands inside a transaction, and while waiting for DATA bytes */
  socketTimeoutMs: Schema.optionalWith(Millis, { default: () => 60_000 }),
  /** smtp-server's wait before the greeting to catch early talkers (patched in, see patches/); MTAs don't need it */
  earlyTalkerDelayMs: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 0 }),
  /** how long shutdown waits for transactions in flight */
  shutdownGraceMs: Schema.optionalWith(Millis, { default: () => 30_000 }),
  /** failed AUTH attempts per (source address, username) before that username is throttled from that address */
  authFailuresBeforeThrottle: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 5 }),
  /** failed AUTH attempts per source address, whatever the username, before the address is throttled (against spraying) */
  authFailuresPerAddress: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 100 }),
  /** the window failures are counted in, and how long a throttled username or address is refused AUTH */
  authThrottleMs: Schema.optionalWith(Millis, { default: () => 60_000 }),
  /** the most one message's DATA may take, from 354 to the dot; then 421 4.4.2 (src/pipeline/inbound/DataDeadline.ts) */
  maxDataMs: Schema.optionalWith(Millis, { default: () => 600_000 }),
  /** bytes per second a sender must average over each dataRateWindowMs of DATA (Postfix's smtpd_min_data_rate); 0: no floor */
  minDataRate: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 500 }),
  dataRateWindowMs: Schema.optionalWith(Millis, { default: () => 30_000 }),
  /** sessions not bound at connect (by a CIDR connector) share this many of maxClients until they bind (src/pipeline/inbound/ConnectionLimits.ts) */
  maxUnboundClients: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 200 }),
  /** concurrent unbound sessions per client address (an IPv6 client by its /64) */
  maxConnectionsPerAddress: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 50 }),
  /** new unbound sessions per client address and minute; 0: no limit */
  maxConnectionRatePerAddress: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 600 }),
  /** a session not bound at connect must bind (certificate, AUTH) within this, or it is closed with 421 */
  bindWithinMs: Schema.optionalWith(Millis, { default: () => 60_000 }),
  /** idle time allowed outside a transaction (before the first MAIL, between transactions); socketTimeoutMs applies inside one */
  idleBeforeMailMs: Schema.optionalWith(Millis, { default: () => 20_000 }),
  /** a session idle this long after MAIL or RCPT gives its downstream connection back (mirrored again at its next RCPT or DATA) */
  releaseDownstreamAfterMs: Schema.optionalWith(Millis, { default: () => 10_000 })
}) {}

export class DownstreamTimeouts extends Schema.Class<DownstreamTimeouts>("DownstreamTimeouts")({
  connectMs: Schema.optionalWith(Millis, { default: () => 10_000 }),
  commandMs: Schema.optionalWith(Millis, { default: () => 30_000 }),
  /** wait for the final reply after the terminating dot (RFC 5321 suggests 10 minutes; before-queue proxies use less) */
  dataMs: Schema.optionalWith(Millis, { default: () => 120_000 })
}) {}

/** Idle downstream sessions kept for the next upstream session (src/pipeline/downstream/DownstreamPool.ts). */
export class DownstreamPoolLimits extends Schema.Class<DownstreamPoolLimits>("DownstreamPoolLimits")({
  /** per downstream (host, port, TLS policy, credentials); 0 turns pooling off */
  maxIdlePerTarget: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 16 }),
  /** an idle session is closed (QUIT) after this; keep it below the downstream's own idle timeout */
  idleMs: Schema.optionalWith(Millis, { default: () => 5_000 }),
  /** a session is not reused once it is this old (Postfix's smtp_connection_reuse_time_limit) */
  maxAgeMs: Schema.optionalWith(Millis, { default: () => 300_000 })
}) {}

/**
 * How a session is recognised as Exchange Online (microsoft365 connectors): its
 * source address, its client certificate, or both. Which customer is sending
 * is proven per message, never by these (src/pipeline/inbound/Microsoft365Gate.ts).
 */
export class Microsoft365Settings extends Schema.Class<Microsoft365Settings>("Microsoft365Settings")({
  /** Exchange Online's outbound ranges; Microsoft publishes changes, so they can be replaced here */
  ranges: Schema.optionalWith(Schema.Array(Cidr), { default: () => EXCHANGE_ONLINE_RANGES }),
  /** names (subject CN or DNS SAN) of the client certificate Exchange Online presents; its chain must verify */
  certificateNames: Schema.optionalWith(Schema.Array(Schema.String.pipe(Schema.minLength(1))), { default: () => [EXCHANGE_ONLINE_CERTIFICATE_NAME] }),
  /** true: address and certificate both; false: either one */
  requireCertificate: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /** DNS servers for DKIM keys ("ip" or "ip:port"); absent: the system's resolvers */
  dnsServers: Schema.optional(Schema.Array(Schema.String.pipe(Schema.minLength(1))))
}) {}

/** The JSON admin API (HTTPS only). */
export class AdminListen extends Schema.Class<AdminListen>("AdminListen")({
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  host: Schema.optionalWith(Schema.String, { default: () => "127.0.0.1" }),
  port: Schema.optionalWith(Port, { default: () => 8443 }),
  /** PEM files; absent: the SMTP side's certificate (configured or generated) */
  tlsKeyFile: Schema.optional(Schema.String),
  tlsCertFile: Schema.optional(Schema.String),
  /** label metrics with tenant ids; off by default so one tenant's activity is not visible by name */
  metricsTenantLabels: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /** tenant members' sign-in: code lifetime, sessions, trusted devices, throttling (src/domain/AccountSettings.ts) */
  login: Schema.optionalWith(LoginSettings, { default: () => LoginSettings.make({}) }),
  /** the SMTP server that carries sign-in codes; absent: only trusted devices can sign in */
  mail: Schema.optional(MailSettings)
}) {}

/** Directory sync (src/sync/): the schedule's defaults and the key that encrypts source credentials at rest. */
export class SyncConfig extends Schema.Class<SyncConfig>("SyncConfig")({
  /** off: no scheduled passes; "sync now" and `imprint directory sync` still run */
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /** a tenant's interval when its settings name none */
  defaultIntervalSeconds: Schema.optionalWith(Schema.Int.pipe(Schema.greaterThanOrEqualTo(60)), { default: () => 86_400 }),
  /** each interval is stretched or shrunk by up to this fraction, so tenants do not all sync at once */
  jitter: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 0.5)), { default: () => 0.1 }),
  /**
   * 32-byte AES key, hex or base64, that seals every secret at rest (sync source credentials and
   * tenants' downstream passwords); absent: credentialKeyFile, else generated into dataDir/sync-credential.key
   */
  credentialKey: Schema.optional(Schema.String),
  credentialKeyFile: Schema.optional(Schema.String),
  /** keys rotated out: they still open values (re-sealed with the current key at start-up), never seal */
  previousCredentialKeys: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] })
}) {}

/** The message trace (src/trace/, README "Message trace"): what is kept, how long, how much. */
export class TraceConfig extends Schema.Class<TraceConfig>("TraceConfig")({
  /** off: nothing is recorded (records already kept stay searchable until removed by hand) */
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /** names this node in its records; absent: smtp.name */
  node: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(253))),
  /** days a tenant's records are kept unless its tenant file's trace.retentionDays says otherwise */
  retentionDays: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 3650)), { default: () => 30 }),
  /** bound on stored records; past it the oldest go first */
  maxRecords: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 10_000_000 }),
  /** bound on the LMDB pages the trace uses; past it the oldest go first */
  maxBytes: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 4 * 1024 * MB }),
  /** entries waiting to be written; when full, new ones are dropped and counted (mail never waits) */
  queueCapacity: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 10_000 }),
  /** records per LMDB transaction at most */
  batchSize: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 1000 }),
  /** how long records gather before they are written together (one disk sync per batch) */
  flushIntervalMs: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 10_000)), { default: () => 250 }),
  /** how often records past their retention are deleted */
  expiryIntervalSeconds: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 300 }),
  /** hex or base64 secret for hashing recipients (share it between nodes); absent: generated into dataDir/trace-hash.key */
  hashKey: Schema.optional(Schema.String)
}) {}

/** Signature images (issue 17): the hosting listener and how templates' images travel by default. */
export class ImagesConfig extends Schema.Class<ImagesConfig>("ImagesConfig")({
  /** where the image listener binds; absent: no listener (embedded delivery needs none) */
  listen: Schema.optional(
    Schema.Struct({
      host: Schema.optionalWith(Schema.String, { default: () => "127.0.0.1" }),
      port: Port
    })
  ),
  /** the listener's address as recipients reach it (https, no path query or trailing slash); hosted delivery needs it */
  publicBaseUrl: Schema.optional(
    Schema.String.pipe(
      Schema.pattern(/^https:\/\/[^/?#\s]+(\/[^?#\s]*[^/?#\s])?$/, {
        message: () => "an https:// URL without a query or a trailing slash, e.g. https://img.example.com"
      })
    )
  ),
  /** the delivery of templates and rules that name none */
  defaultDelivery: Schema.optionalWith(ImageDeliveryMode, { default: () => "embedded" as const }),
  /** PEM files: the listener speaks HTTPS; absent: plain HTTP (put it behind a TLS proxy or CDN) */
  tlsKeyFile: Schema.optional(Schema.String),
  tlsCertFile: Schema.optional(Schema.String)
}) {}

/**
 * Several nodes (src/cluster/): tenant configuration, directory and admin
 * state live in a NATS JetStream KV bucket, and every node keeps its LMDB as
 * a full local replica that the mail path reads. Absent: one node, LMDB alone.
 */
export class ClusterConfig extends Schema.Class<ClusterConfig>("ClusterConfig")({
  /** NATS servers, e.g. ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"] */
  servers: Schema.NonEmptyArray(Schema.String),
  /** the KV bucket (one per Imprint installation) */
  bucket: Schema.optionalWith(Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]{1,64}$/)), { default: () => "imprint" }),
  /** the bucket's JetStream replicas when this node creates it: 3 on a 3-server NATS cluster */
  replicas: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 5)), { default: () => 1 }),
  /** this node's name in logs and in the NATS connection */
  node: Schema.optionalWith(Schema.String, { default: () => "imprint" }),
  /** how long an admin write waits for the cluster's acknowledgement */
  writeTimeoutMs: Schema.optionalWith(Millis, { default: () => 5_000 }),
  /**
   * Two sites: the JetStream domain of the site that holds the bucket, set on
   * the nodes of the other site (whose NATS joins it by a leafnode). Their
   * bucket is a mirror of that one: they read and watch it locally and write
   * through it to the holding site. Absent: this site holds the bucket.
   */
  mirrorDomain: Schema.optional(Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]{1,64}$/)))
}) {}

/** Warm tenant actors (src/actors/TenantRegistry.ts): a stopped tenant starts again on its next message (a cold start). */
export class TenantsConfig extends Schema.Class<TenantsConfig>("TenantsConfig")({
  /** most tenant actors kept warm at once; when another starts, the least recently used idle one stops. 0: no count limit */
  maxWarm: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 0 }),
  /** estimated memory (MB) the warm actors may hold (directory index, compiled templates, caches); past it the least recently used stop. 0: no limit */
  memoryBudgetMb: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 1024 }),
  /** a tenant actor unused this long is stopped */
  idleStopSeconds: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 600 })
}) {}

/** how many relay processes: a count, or "auto" for one per core */
export const Workers = Schema.Union(Schema.Literal("auto"), Schema.Int.pipe(Schema.between(1, MAX_WORKERS)))

/** The number of relay processes `workers` asks for on this machine. */
export const workerCount = (workers: typeof Workers.Type, cores: number): number => (workers === "auto" ? Math.max(1, Math.min(MAX_WORKERS, cores)) : workers)

export class ImprintConfig extends Schema.Class<ImprintConfig>("ImprintConfig")({
  /** LMDB environment, generated keys and certificates */
  dataDir: Schema.optionalWith(Schema.String, { default: () => "var/data" }),
  smtp: Schema.optionalWith(SmtpListen, { default: () => SmtpListen.make({}) }),
  admin: Schema.optionalWith(AdminListen, { default: () => AdminListen.make({}) }),
  /** where a tenant's mail goes when the tenant names no downstream of its own */
  downstream: Schema.optional(Downstream),
  downstreamTimeouts: Schema.optionalWith(DownstreamTimeouts, { default: () => DownstreamTimeouts.make({}) }),
  downstreamPool: Schema.optionalWith(DownstreamPoolLimits, { default: () => DownstreamPoolLimits.make({}) }),
  microsoft365: Schema.optionalWith(Microsoft365Settings, { default: () => Microsoft365Settings.make({}) }),
  /** hex or base64 key for the loop stamp HMAC; absent: generated into dataDir/loop-stamp.key */
  loopStampKey: Schema.optional(Schema.String),
  /** a loop stamp older than this is stale and ignored */
  loopStampMaxAgeSeconds: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 86_400 }),
  /** demo only: write relayed mail to this folder instead of a downstream */
  captureDir: Schema.optional(Schema.String),
  sync: Schema.optionalWith(SyncConfig, { default: () => SyncConfig.make({}) }),
  trace: Schema.optionalWith(TraceConfig, { default: () => TraceConfig.make({}) }),
  images: Schema.optionalWith(ImagesConfig, { default: () => ImagesConfig.make({}) }),
  tenants: Schema.optionalWith(TenantsConfig, { default: () => TenantsConfig.make({}) }),
  /** several nodes sharing tenant state through NATS JetStream; absent: a single node */
  cluster: Schema.optional(ClusterConfig),
  /**
   * SMTP relay processes on this node (`imprint serve`): 1 (default) is one
   * process; N > 1 or "auto" (one per core, os.availableParallelism()) starts
   * a supervising primary and N workers sharing the SMTP port and the LMDB
   * environment (src/workers/). Demo mode always runs one process.
   */
  workers: Schema.optionalWith(Workers, { default: () => 1 })
}) {}

const strict = { onExcessProperty: "error" as const, errors: "all" as const }

export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", { message: Schema.String }) {}

/** IMPRINT_SMTP_PORT=2526 → { smtp: { port: 2526 } }; values are parsed as JSON when they can be. */
const ENV_KEYS: Record<string, ReadonlyArray<string>> = {
  IMPRINT_DATA_DIR: ["dataDir"],
  IMPRINT_SMTP_HOST: ["smtp", "host"],
  IMPRINT_SMTP_PORT: ["smtp", "port"],
  IMPRINT_SMTP_NAME: ["smtp", "name"],
  IMPRINT_SMTP_TLS_KEY_FILE: ["smtp", "tlsKeyFile"],
  IMPRINT_SMTP_TLS_CERT_FILE: ["smtp", "tlsCertFile"],
  IMPRINT_SMTP_MAX_MESSAGE_SIZE: ["smtp", "maxMessageSize"],
  IMPRINT_SMTP_MAX_CLIENTS: ["smtp", "maxClients"],
  IMPRINT_SMTP_SOCKET_TIMEOUT_MS: ["smtp", "socketTimeoutMs"],
  IMPRINT_DOWNSTREAM_HOST: ["downstream", "host"],
  IMPRINT_DOWNSTREAM_PORT: ["downstream", "port"],
  IMPRINT_DOWNSTREAM_TLS: ["downstream", "tls"],
  IMPRINT_DOWNSTREAM_POOL_MAX_IDLE: ["downstreamPool", "maxIdlePerTarget"],
  IMPRINT_LOOP_STAMP_KEY: ["loopStampKey"],
  IMPRINT_CAPTURE_DIR: ["captureDir"],
  IMPRINT_ADMIN_ENABLED: ["admin", "enabled"],
  IMPRINT_ADMIN_HOST: ["admin", "host"],
  IMPRINT_ADMIN_PORT: ["admin", "port"],
  IMPRINT_ADMIN_TLS_KEY_FILE: ["admin", "tlsKeyFile"],
  IMPRINT_ADMIN_TLS_CERT_FILE: ["admin", "tlsCertFile"],
  IMPRINT_ADMIN_METRICS_TENANT_LABELS: ["admin", "metricsTenantLabels"],
  IMPRINT_ADMIN_MAIL_HOST: ["admin", "mail", "host"],
  IMPRINT_ADMIN_MAIL_PORT: ["admin", "mail", "port"],
  IMPRINT_ADMIN_MAIL_FROM: ["admin", "mail", "from"],
  IMPRINT_ADMIN_MAIL_USER: ["admin", "mail", "auth", "user"],
  IMPRINT_ADMIN_MAIL_PASS: ["admin", "mail", "auth", "pass"],
  IMPRINT_SYNC_ENABLED: ["sync", "enabled"],
  IMPRINT_SYNC_CREDENTIAL_KEY: ["sync", "credentialKey"],
  IMPRINT_SYNC_CREDENTIAL_KEY_FILE: ["sync", "credentialKeyFile"],
  IMPRINT_TRACE_ENABLED: ["trace", "enabled"],
  IMPRINT_TRACE_NODE: ["trace", "node"],
  IMPRINT_TRACE_RETENTION_DAYS: ["trace", "retentionDays"],
  IMPRINT_TRACE_HASH_KEY: ["trace", "hashKey"],
  IMPRINT_IMAGES_HOST: ["images", "listen", "host"],
  IMPRINT_IMAGES_PORT: ["images", "listen", "port"],
  IMPRINT_IMAGES_PUBLIC_BASE_URL: ["images", "publicBaseUrl"],
  IMPRINT_IMAGES_DEFAULT_DELIVERY: ["images", "defaultDelivery"],
  IMPRINT_TENANTS_MAX_WARM: ["tenants", "maxWarm"],
  IMPRINT_TENANTS_MEMORY_BUDGET_MB: ["tenants", "memoryBudgetMb"],
  IMPRINT_TENANTS_IDLE_STOP_SECONDS: ["tenants", "idleStopSeconds"],
  IMPRINT_WORKERS: ["workers"]
}

/** read by the process itself, not part of the configuration */
const PROCESS_VARIABLES = new Set(["IMPRINT_CONFIG", "IMPRINT_TEST_LOG", "IMPRINT_WORKER_SLOT"])

const envValue = (raw: string): unknown => {
  if (/^-?\d+$/.test(raw)) return Number(raw)
  if (raw === "true" || raw === "false") return raw === "true"
  return raw
}

export const applyEnv = (input: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> => {
  const out: Record<string, unknown> = structuredClone(input)
  for (const [name, keyPath] of Object.entries(ENV_KEYS)) {
    const raw = env[name]
    if (raw === undefined) continue
    let node = out
    for (const key of keyPath.slice(0, -1)) {
      const next = node[key]
      node = (node[key] = typeof next === "object" && next !== null ? next : {}) as Record<string, unknown>
    }
    node[keyPath[keyPath.length - 1]] = envValue(raw)
  }
  for (const name of Object.keys(env)) {
    if (name.startsWith("IMPRINT_") && !(name in ENV_KEYS) && !PROCESS_VARIABLES.has(name)) {
      throw new Error(`unknown environment variable ${name}; known: ${Object.keys(ENV_KEYS).join(", ")}`)
    }
  }
  return out
}

/** The IMPRINT_* variable behind each key set from the environment ("smtp.port" → "IMPRINT_SMTP_PORT"). */
const envOrigin =
  (env: NodeJS.ProcessEnv) =>
  (key: string): string | undefined =>
    Object.entries(ENV_KEYS).find(([name, keyPath]) => env[name] !== undefined && keyPath.join(".") === key)?.[0]

/**
 * Decode a config object; the error has one line per wrong key: the key, the value and
 * what is allowed (src/ConfigErrors.ts), and where the value came from when not the file.
 */
export const decodeConfig = (input: unknown, origin?: (key: string) => string | undefined): Either.Either<ImprintConfig, ConfigError> =>
  Schema.decodeUnknownEither(ImprintConfig)(input, strict).pipe(
    Either.mapLeft(
      (e) =>
        new ConfigError({
          message: `invalid configuration:\n${formatConfigError(ImprintConfig, input, e, origin)
            .map((l) => `  ${l}`)
            .join("\n")}`
        })
    )
  )

export const loadConfig = Effect.fn("Config.load")(function* (file: string | undefined, env: NodeJS.ProcessEnv) {
  const fromFile =
    file === undefined
      ? {}
      : yield* Effect.try({
          try: () => JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>,
          catch: (e) => new ConfigError({ message: `cannot read config file ${file}: ${(e as Error).message}` })
        })
  const merged = yield* Effect.try({
    try: () => applyEnv(fromFile, env),
    catch: (e) => new ConfigError({ message: (e as Error).message })
  })
  const config = yield* decodeConfig(merged, envOrigin(env))
  // relative paths in a config file are relative to that file, as operators expect
  return resolvePaths(config, file === undefined ? process.cwd() : path.dirname(path.resolve(file)))
})

/**
 * Every key that names a file or folder, resolved against `base` (the config
 * file's folder), whether it came from the file or an IMPRINT_* variable.
 * A new path key belongs here (spec/ConfigPaths.test.ts lists them).
 */
const resolvePaths = (config: ImprintConfig, base: string): ImprintConfig => {
  const at = <P extends string | undefined>(p: P): P => (p === undefined || p === "" ? p : path.resolve(base, p)) as P
  return ImprintConfig.make({
    ...config,
    dataDir: at(config.dataDir),
    captureDir: at(config.captureDir),
    smtp: SmtpListen.make({ ...config.smtp, tlsKeyFile: at(config.smtp.tlsKeyFile), tlsCertFile: at(config.smtp.tlsCertFile) }),
    admin: AdminListen.make({ ...config.admin, tlsKeyFile: at(config.admin.tlsKeyFile), tlsCertFile: at(config.admin.tlsCertFile) }),
    sync: SyncConfig.make({ ...config.sync, credentialKeyFile: at(config.sync.credentialKeyFile) }),
    images: ImagesConfig.make({ ...config.images, tlsKeyFile: at(config.images.tlsKeyFile), tlsCertFile: at(config.images.tlsCertFile) })
  })
}

export class Config extends Context.Tag("imprint/Config")<Config, ImprintConfig>() {
  static layer = (config: ImprintConfig) => Layer.succeed(Config, config)
}
