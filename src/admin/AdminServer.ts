import { HttpApiBuilder, HttpApp, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Layer, type MetricPair } from "effect"
import * as fs from "node:fs"
import * as https from "node:https"
import type { TlsMaterial } from "../Secrets.js"
import { Api } from "./Api.js"
import { AuditLive } from "./handlers/Audit.js"
import { DirectoryLive } from "./handlers/Directory.js"
import { SyncLive } from "./handlers/Sync.js"
import { MetricsLive } from "./handlers/Metrics.js"
import { OpsLive } from "./handlers/Ops.js"
import { TenantsLive } from "./handlers/Tenants.js"
import { PreviewLive } from "./handlers/Preview.js"
import { RulesLive } from "./handlers/Rules.js"
import { TemplatesLive } from "./handlers/Templates.js"
import { TraceLive } from "./handlers/Trace.js"
import { ImagesLive } from "./handlers/Images.js"
import { ContentRepo } from "../store/ContentRepo.js"
import { ImageRepo } from "../store/ImageRepo.js"
import { AdminAuthLive } from "./AdminAuth.js"
import { AccountConfig, type AccountConfigShape } from "../domain/AccountSettings.js"
import { ApiTokensLive } from "./handlers/ApiTokens.js"
import { AuthLive } from "./handlers/Auth.js"
import { UsersLive } from "./handlers/Users.js"
import { LoginMailer } from "./LoginMailer.js"
import { LoginThrottle } from "./LoginThrottle.js"
import { BodyLimitsLive } from "./BodyLimits.js"
import { withJsonErrorBodies } from "./ErrorBodies.js"
import { accessLog, AccessLogFailuresLive } from "./AccessLog.js"

/**
 * The admin API over HTTPS. HTTPS only: there is no plain-HTTP listener to
 * forget to turn off, and TLS below 1.2 is refused at the handshake.
 */

export const ADMIN_TLS_MIN_VERSION = "TLSv1.2" as const

export interface AdminServerOptions {
  readonly host: string
  /** 0: any free port (tests) */
  readonly port: number
  readonly tls: TlsMaterial
  /** expose the `tenant` tag as a Prometheus label (off: tenants are summed) */
  readonly metricsTenantLabels: boolean
  /** the metrics of the node's other processes (the workers of `workers: N`), added to this one's on /metrics */
  readonly workerMetrics?: Effect.Effect<ReadonlyArray<MetricPair.MetricPair.Untyped>> | undefined
  /** tenant members' sign-in settings and the mail server for codes (defaults: AccountConfig.defaults) */
  readonly accounts?: AccountConfigShape | undefined
}

/** The contract with its handlers; needs TenantRepo, TenantRegistry, Store, AdminRepo and TraceSearch. */
export const adminApiLayer = (options: {
  readonly metricsTenantLabels: boolean
  readonly workerMetrics?: Effect.Effect<ReadonlyArray<MetricPair.MetricPair.Untyped>> | undefined
  readonly accounts?: AccountConfigShape | undefined
}) =>
  HttpApiBuilder.api(Api).pipe(
    Layer.provide([AuthLive, UsersLive, ApiTokensLive]),
    Layer.provide([LoginMailer.Default, LoginThrottle.Default]),
    Layer.provide([OpsLive, MetricsLive({ tenantLabels: options.metricsTenantLabels, workerMetrics: options.workerMetrics }), TenantsLive, AuditLive, DirectoryLive]),
    Layer.provide(SyncLive),
    Layer.provide(TraceLive),
    Layer.provide([TemplatesLive, RulesLive, PreviewLive, ImagesLive]),
    // the content handlers' repositories, over the Store and TenantRepo the caller provides (not a second Store)
    Layer.provide(ContentRepo.DefaultWithoutDependencies),
    Layer.provide(ImageRepo.DefaultWithoutDependencies),
    Layer.provide(AdminAuthLive),
    Layer.provide(Layer.succeed(AccountConfig, options.accounts ?? AccountConfig.defaults))
  )

/** RFC 6750: a 401 names the scheme it wants, so a client knows to send a bearer token. */
export const WWW_AUTHENTICATE = 'Bearer realm="imprint-admin"'

// a pre-response handler, because typed errors become responses after the app's own effect has failed
const challengeOn401 = <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  Effect.zipRight(
    HttpApp.appendPreResponseHandler((_request, response) =>
      Effect.succeed(response.status === 401 ? HttpServerResponse.setHeader(response, "www-authenticate", WWW_AUTHENTICATE) : response)),
    app
  )

/** Starts the admin server in the current scope; closing the scope stops it. Answers the bound port. */
export const startAdminServer = Effect.fn("AdminServer.start")(function* (options: AdminServerOptions) {
  const listener = NodeHttpServer.layer(
    () => https.createServer({ key: options.tls.key, cert: options.tls.cert, minVersion: ADMIN_TLS_MIN_VERSION }),
    { host: options.host, port: options.port }
  )
  const app = HttpApiBuilder.serve((httpApp) => accessLog(withJsonErrorBodies(challengeOn401(httpApp)))).pipe(
    Layer.provide(BodyLimitsLive),
    Layer.provide(AccessLogFailuresLive),
    Layer.provide(adminApiLayer(options)),
    Layer.provideMerge(listener)
  )
  const context = yield* Layer.build(app)
  const address = Context.get(context, HttpServer.HttpServer).address
  const port = address._tag === "TcpAddress" ? address.port : options.port
  const hostInUrl = options.host.includes(":") ? `[${options.host}]` : options.host
  return { host: options.host, port, url: `https://${hostInUrl}:${port}` }
})

/**
 * `admin.tlsKeyFile`/`admin.tlsCertFile` when given (both), else the SMTP
 * side's material, so a fresh install or the demo has HTTPS at once.
 */
export const adminTlsMaterial = Effect.fn("AdminServer.tlsMaterial")(function* (
  admin: { readonly tlsKeyFile?: string | undefined; readonly tlsCertFile?: string | undefined },
  smtpTls: TlsMaterial
) {
  if (admin.tlsKeyFile === undefined && admin.tlsCertFile === undefined) return smtpTls
  const { tlsKeyFile, tlsCertFile } = admin
  if (tlsKeyFile === undefined || tlsCertFile === undefined) {
    return yield* Effect.dieMessage("admin.tlsKeyFile and admin.tlsCertFile must be given together")
  }
  return yield* Effect.try(() => ({ key: fs.readFileSync(tlsKeyFile, "utf8"), cert: fs.readFileSync(tlsCertFile, "utf8") })).pipe(
    Effect.orDieWith((e) => new Error(`cannot read the admin TLS files: ${String(e)}`))
  )
})
