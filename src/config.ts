import { Context, Effect, Either, Layer, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Downstream } from "./domain/Tenant.js"
import { LoginSettings, MailSettings } from "./admin/AccountSettings.js"
import { formatConfigError } from "./ConfigErrors.js"

/**
 * Imprint's configuration: a JSON file, then IMPRINT_* environment overrides,
 * decoded with Schema. Unknown keys are errors, so a typo stops start-up with a
 * message naming the key instead of being silently ignored.
 */

const MB = 1024 * 1024

const Port = Schema.Int.pipe(Schema.between(0, 65535))
const Millis = Schema.Int.pipe(Schema.positive())

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
  /** idle time allowed between commands, and while waiting for DATA bytes */
  socketTimeoutMs: Schema.optionalWith(Millis, { default: () => 60_000 }),
  /** smtp-server's wait before the greeting to catch early talkers (patched in, see patches/); MTAs don't need it */
  earlyTalkerDelayMs: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 0 }),
  /** how long shutdown waits for transactions in flight */
  shutdownGraceMs: Schema.optionalWith(Millis, { default: () => 30_000 }),
  /** failed AUTH attempts per source address before it is throttled */
  authFailuresBeforeThrottle: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 5 }),
  /** how long a throttled address is refused AUTH */
  authThrottleMs: Schema.optionalWith(Millis, { default: () => 60_000 })
}) {}

export class DownstreamTimeouts extends Schema.Class<DownstreamTimeouts>("DownstreamTimeouts")({
  connectMs: Schema.optionalWith(Millis, { default: () => 10_000 }),
  commandMs: Schema.optionalWith(Millis, { default: () => 30_000 }),
  /** wait for the final reply after the terminating dot (RFC 5321 suggests 10 minutes; before-queue proxies use less) */
  dataMs: Schema.optionalWith(Millis, { default: () => 120_000 })
}) {}

/** Idle downstream sessions kept for the next upstream session (src/pipeline/DownstreamPool.ts). */
export class DownstreamPoolLimits extends Schema.Class<DownstreamPoolLimits>("DownstreamPoolLimits")({
  /** per downstream (host, port, TLS policy, credentials); 0 turns pooling off */
  maxIdlePerTarget: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 16 }),
  /** an idle session is closed (QUIT) after this; keep it below the downstream's own idle timeout */
  idleMs: Schema.optionalWith(Millis, { default: () => 5_000 }),
  /** a session is not reused once it is this old (Postfix's smtp_connection_reuse_time_limit) */
  maxAgeMs: Schema.optionalWith(Millis, { default: () => 300_000 })
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
  /** tenant members' sign-in: code lifetime, sessions, trusted devices, throttling (src/admin/AccountSettings.ts) */
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
  /** 32-byte AES key, hex or base64; absent: credentialKeyFile, else generated into dataDir/sync-credential.key */
  credentialKey: Schema.optional(Schema.String),
  credentialKeyFile: Schema.optional(Schema.String)
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
  writeTimeoutMs: Schema.optionalWith(Millis, { default: () => 5_000 })
}) {}

export class ImprintConfig extends Schema.Class<ImprintConfig>("ImprintConfig")({
  /** LMDB environment, generated keys and certificates */
  dataDir: Schema.optionalWith(Schema.String, { default: () => "var/data" }),
  smtp: Schema.optionalWith(SmtpListen, { default: () => SmtpListen.make({}) }),
  admin: Schema.optionalWith(AdminListen, { default: () => AdminListen.make({}) }),
  /** where a tenant's mail goes when the tenant names no downstream of its own */
  downstream: Schema.optional(Downstream),
  downstreamTimeouts: Schema.optionalWith(DownstreamTimeouts, { default: () => DownstreamTimeouts.make({}) }),
  downstreamPool: Schema.optionalWith(DownstreamPoolLimits, { default: () => DownstreamPoolLimits.make({}) }),
  /** hex or base64 key for the loop stamp HMAC; absent: generated into dataDir/loop-stamp.key */
  loopStampKey: Schema.optional(Schema.String),
  /** a loop stamp older than this is stale and ignored */
  loopStampMaxAgeSeconds: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 86_400 }),
  /** demo only: write relayed mail to this folder instead of a downstream */
  captureDir: Schema.optional(Schema.String),
  sync: Schema.optionalWith(SyncConfig, { default: () => SyncConfig.make({}) }),
  /** several nodes sharing tenant state through NATS JetStream; absent: a single node */
  cluster: Schema.optional(ClusterConfig)
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
  IMPRINT_SYNC_CREDENTIAL_KEY_FILE: ["sync", "credentialKeyFile"]
}

/** read by the process itself, not part of the configuration */
const PROCESS_VARIABLES = new Set(["IMPRINT_CONFIG", "IMPRINT_TEST_LOG"])

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
const envOrigin = (env: NodeJS.ProcessEnv) => (key: string): string | undefined =>
  Object.entries(ENV_KEYS).find(([name, keyPath]) => env[name] !== undefined && keyPath.join(".") === key)?.[0]

/**
 * Decode a config object; the error has one line per wrong key: the key, the value and
 * what is allowed (src/ConfigErrors.ts), and where the value came from when not the file.
 */
export const decodeConfig = (input: unknown, origin?: (key: string) => string | undefined): Either.Either<ImprintConfig, ConfigError> =>
  Schema.decodeUnknownEither(ImprintConfig)(input, strict).pipe(
    Either.mapLeft((e) => new ConfigError({ message: `invalid configuration:\n${formatConfigError(ImprintConfig, input, e, origin).map((l) => `  ${l}`).join("\n")}` }))
  )

export const loadConfig = Effect.fn("Config.load")(function* (file: string | undefined, env: NodeJS.ProcessEnv) {
  const fromFile = file === undefined ? {} : yield* Effect.try({
    try: () => JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>,
    catch: (e) => new ConfigError({ message: `cannot read config file ${file}: ${(e as Error).message}` })
  })
  const merged = yield* Effect.try({
    try: () => applyEnv(fromFile, env),
    catch: (e) => new ConfigError({ message: (e as Error).message })
  })
  const config = yield* decodeConfig(merged, envOrigin(env))
  // relative paths in a config file are relative to that file, as operators expect
  const base = file === undefined ? process.cwd() : path.dirname(path.resolve(file))
  const sync = config.sync.credentialKeyFile === undefined ? config.sync : SyncConfig.make({ ...config.sync, credentialKeyFile: path.resolve(base, config.sync.credentialKeyFile) })
  return ImprintConfig.make({ ...config, dataDir: path.resolve(base, config.dataDir), captureDir: config.captureDir && path.resolve(base, config.captureDir), sync })
})

export class Config extends Context.Tag("imprint/Config")<Config, ImprintConfig>() {
  static layer = (config: ImprintConfig) => Layer.succeed(Config, config)
}
