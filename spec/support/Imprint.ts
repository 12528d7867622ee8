/**
 * A real Imprint relay in the test process: real LMDB in a temp folder, real
 * smtp-server on 127.0.0.1 port 0, tenants imported through the TenantRepo as
 * `imprint tenant import` does. `close()` stops it the way SIGTERM does.
 */
import { Context, Effect, Exit, Layer, Logger, LogLevel, Scope, type Tracer } from "effect"
import { afterAll, beforeAll } from "vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { decodeConfig, type ImprintConfig } from "../../src/config.js"
import { liveLayer, RunningServer, serverLayer } from "../../src/Server.js"
import { TenantRepo } from "../../src/store/TenantRepo.js"
import { TenantRegistry } from "../../src/actors/TenantRegistry.js"
import { AdminRepo } from "../../src/store/AdminRepo.js"
import type { Store } from "../../src/store/Store.js"
import { makeSelfSigned } from "./Certs.js"
import { startSink, type Sink, type SinkOptions } from "./Sink.js"
import { tenantImport } from "../../src/actors/TenantImport.js"
import { jsonLines } from "../../src/pipeline/JsonLogLine.js"

/** IMPRINT_TEST_LOG=1 shows the relay's log lines; otherwise only errors. */
const quietLogs = Logger.withMinimumLogLevel(process.env.IMPRINT_TEST_LOG ? LogLevel.Info : LogLevel.Error)

/**
 * `observe`: run the relay under this tracer, logging at Info as in production
 * but writing no lines (what reaches the loggers is what a spec looks at).
 */
const environment = (
  observe: { readonly tracer: Tracer.Tracer } | undefined,
  logLines: Array<string> | undefined,
  productionLogLines: Array<string> | undefined
) =>
  logLines !== undefined
    ? <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        effect.pipe(
          Logger.withMinimumLogLevel(LogLevel.Info),
          Effect.provide(
            Layer.merge(
              Logger.replace(
                Logger.defaultLogger,
                Logger.map(Logger.jsonLogger, (line) => void logLines.push(line))
              ),
              productionLogLines === undefined ? Layer.empty : Logger.add(jsonLines((line) => void productionLogLines.push(line)))
            )
          )
        )
    : observe === undefined
      ? quietLogs
      : <A, E, R>(effect: Effect.Effect<A, E, R>) =>
          effect.pipe(
            Effect.withTracer(observe.tracer),
            Logger.withMinimumLogLevel(LogLevel.Info),
            Effect.provide(Logger.replace(Logger.defaultLogger, Logger.none))
          )

export interface RunningImprint {
  readonly port: number
  readonly config: ImprintConfig
  readonly stampKey: Buffer
  /** import (or re-import) a tenant file while running */
  readonly importTenant: (file: unknown) => Promise<void>
  readonly registry: <A, E>(f: (r: TenantRegistry) => Effect.Effect<A, E>) => Promise<A>
  /** runs `effect` with the relay's own services (its TraceWriter, TraceSearch, Store, …) */
  readonly use: <A, E, R>(effect: Effect.Effect<A, E, R>) => Promise<A>
  /** with `admin: true`: the admin API's port, an operator token, and the certificate to trust (`ca`) */
  readonly admin?: { readonly port: number; readonly token: string; readonly ca: string }
  /** graceful stop (as on SIGTERM); resolves when the server has closed */
  readonly close: () => Promise<void>
}

export const startImprint = async (opts: {
  config?: Record<string, unknown>
  tenants?: ReadonlyArray<unknown>
  admin?: boolean
  observe?: { readonly tracer: Tracer.Tracer }
  /** collects the relay's log lines at Info and above, each as the JSON text the production logger writes */
  logLines?: Array<string>
  /** with `logLines`: the same lines, written by the production logger (LogOutput's jsonLines) beside Effect's own */
  productionLogLines?: Array<string>
  /** an existing data folder (a restarted node): kept by close() */
  dataDir?: string
  /** an operator token already in the store (a restarted node): none is created */
  token?: string
}): Promise<RunningImprint> => {
  const quiet = environment(opts.observe, opts.logLines, opts.productionLogLines)
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "imprint-test-"))
  const smtp = { host: "127.0.0.1", port: 0, ...(opts.config?.smtp as object | undefined) }
  // the admin API (opt-in): HTTPS on a free port with a certificate the test client trusts
  const cert = opts.admin === true ? await makeSelfSigned("127.0.0.1") : undefined
  if (cert !== undefined) {
    fs.writeFileSync(path.join(dataDir, "admin.key.pem"), cert.key)
    fs.writeFileSync(path.join(dataDir, "admin.cert.pem"), cert.cert)
  }
  const admin =
    cert === undefined
      ? opts.config?.admin
      : {
          port: 0,
          tlsKeyFile: path.join(dataDir, "admin.key.pem"),
          tlsCertFile: path.join(dataDir, "admin.cert.pem"),
          ...(opts.config?.admin as object | undefined)
        }
  const config = await Effect.runPromise(decodeConfig({ ...opts.config, dataDir, smtp, ...(admin !== undefined ? { admin } : {}) }))
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(Layer.buildWithScope(liveLayer(config), scope).pipe(quiet))
  const run = <A, E>(effect: Effect.Effect<A, E, Store | TenantRepo | TenantRegistry | AdminRepo>) =>
    Effect.runPromise(effect.pipe(Effect.provide(context), quiet) as Effect.Effect<A, E>)
  const importTenant = (file: unknown) => run(Effect.flatMap(TenantRepo, (repo) => tenantImport(repo).importTenant(file)).pipe(Effect.asVoid))
  for (const t of opts.tenants ?? []) await importTenant(t)
  // the server's Layer as main.ts builds it, over the live layer's services, in the same scope (closed first)
  const server = await Effect.runPromise(
    Layer.buildWithScope(serverLayer(config, { admin: opts.admin === true }), scope).pipe(
      Effect.map(Context.get(RunningServer)),
      Effect.provide(context),
      quiet
    )
  )
  const token =
    cert === undefined
      ? undefined
      : opts.token !== undefined
        ? { token: opts.token }
        : await run(Effect.flatMap(AdminRepo, (a) => a.createOperatorToken("spec operator")))
  let closed: Promise<void> | undefined
  return {
    port: server.port,
    config,
    stampKey: server.stampKey,
    ...(cert !== undefined && token !== undefined && server.adminPort !== undefined
      ? { admin: { port: server.adminPort, token: token.token, ca: cert.cert } }
      : {}),
    importTenant,
    registry: (f) => run(Effect.flatMap(TenantRegistry, f)),
    use: (effect) => run(effect as Effect.Effect<never, never, never>),
    close: () =>
      (closed ??= Effect.runPromise(Scope.close(scope, Exit.void)).then(() => {
        if (opts.dataDir === undefined) fs.rmSync(dataDir, { recursive: true, force: true })
      }))
  }
}

/** A tenant bound by loopback source address, relaying to a sink on `port`. */
export const loopbackTenant = (downstreamPort: number, extra: Record<string, unknown> = {}) => ({
  id: "acme",
  name: "Acme",
  domains: ["acme.example"],
  connectors: [{ type: "cidr", cidrs: ["127.0.0.0/8"] }],
  downstream: { host: "127.0.0.1", port: downstreamPort, tls: "none" },
  ...extra
})

/**
 * loopbackTenant with a signature for everyone and a disclaimer for external
 * recipients only: a message to an internal and an external recipient becomes
 * two downstream copies. The directory holds alice@acme.example.
 */
export const signatureTenant = (downstreamPort: number) =>
  loopbackTenant(downstreamPort, {
    templates: [
      { id: "sig", name: "Signature", html: "<p>{{displayName}} | {{title}}</p>", text: "{{displayName}} | {{title}}" },
      { id: "disc", name: "Disclaimer", html: "<p>Confidential: external disclaimer</p>", text: "Confidential: external disclaimer" }
    ],
    rules: [
      { id: "signature", name: "Everyone", templateId: "sig", continue: true },
      { id: "disclaimer", name: "External", templateId: "disc", position: "bottom", conditions: { recipientScope: "external" } }
    ],
    directory: [{ mail: "alice@acme.example", displayName: "Alice Example", title: "Engineer" }]
  })

/**
 * The common suite setup: a sink, and a relay whose tenants send to it, for the
 * whole describe block. Read `relay.sink` / `relay.imprint` inside tests.
 */
export const relayToSink = (
  opts: {
    tenants?: (sinkPort: number) => ReadonlyArray<unknown>
    config?: Record<string, unknown>
    sink?: SinkOptions
    admin?: boolean
    observe?: { readonly tracer: Tracer.Tracer }
  } = {}
) => {
  const relay = {} as { sink: Sink; imprint: RunningImprint }
  beforeAll(async () => {
    relay.sink = await startSink({ starttls: false, ...opts.sink })
    relay.imprint = await startImprint({
      tenants: (opts.tenants ?? ((port) => [loopbackTenant(port)]))(relay.sink.port),
      config: opts.config,
      admin: opts.admin,
      observe: opts.observe
    })
  })
  afterAll(async () => {
    await relay.imprint?.close()
    await relay.sink?.close()
  })
  return relay
}
