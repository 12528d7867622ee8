import { HttpApiBuilder, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Layer, type MetricPair } from "effect"
import { AccessLogFailuresLive } from "./admin/AccessLog.js"
import { AdminAuthLive } from "./admin/AdminAuth.js"
import { adminMiddleware, type AdminServerOptions, adminUrl, createAdminHttpsServer } from "./admin/AdminServer.js"
import { Api } from "./admin/Api.js"
import { BodyLimitsLive } from "./admin/BodyLimits.js"
import { ApiTokensLive } from "./admin/handlers/ApiTokens.js"
import { AuditLive } from "./admin/handlers/Audit.js"
import { AuthLive } from "./admin/handlers/Auth.js"
import { DirectoryLive } from "./admin/handlers/Directory.js"
import { ImagesLive } from "./admin/handlers/Images.js"
import { MetricsLive } from "./admin/handlers/Metrics.js"
import { OpsLive } from "./admin/handlers/Ops.js"
import { PreviewLive } from "./admin/handlers/Preview.js"
import { RulesLive } from "./admin/handlers/Rules.js"
import { SyncLive } from "./admin/handlers/Sync.js"
import { TemplatesLive } from "./admin/handlers/Templates.js"
import { TenantsLive } from "./admin/handlers/Tenants.js"
import { TraceLive } from "./admin/handlers/Trace.js"
import { UsersLive } from "./admin/handlers/Users.js"
import { LoginMailer } from "./admin/LoginMailer.js"
import { LoginThrottle } from "./admin/LoginThrottle.js"
import { AccountConfig, type AccountConfigShape } from "./domain/AccountSettings.js"
import { TestStamper } from "./domain/TestStamp.js"
import { testStamper } from "./pipeline/DryRun.js"
import { ContentRepo } from "./store/ContentRepo.js"
import { ImageRepo } from "./store/ImageRepo.js"

/**
 * The admin server's part of the composition root: the admin API's handlers
 * composed into the contract, served over the HTTPS listener. The admin room
 * provides the parts (src/admin/AdminServer.ts and the handlers); Layers are
 * built here and in Server.ts/main.ts only.
 */

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
    // the test stamp runs the pipeline's dry run; admin names only the domain interface
    Layer.provide(Layer.succeed(TestStamper, testStamper)),
    Layer.provide(Layer.succeed(AccountConfig, options.accounts ?? AccountConfig.defaults))
  )

/** The admin server as a scoped Layer: the API served on its HTTPS listener. */
export const adminServerLayer = (options: AdminServerOptions) =>
  HttpApiBuilder.serve(adminMiddleware).pipe(
    Layer.provide(BodyLimitsLive),
    Layer.provide(AccessLogFailuresLive),
    Layer.provide(adminApiLayer(options)),
    Layer.provideMerge(NodeHttpServer.layer(() => createAdminHttpsServer(options.tls), { host: options.host, port: options.port }))
  )

/** Starts the admin server in the current scope; closing the scope stops it. Answers the bound port. */
export const startAdminServer = Effect.fn("AdminServer.start")(function* (options: AdminServerOptions) {
  const context = yield* Layer.build(adminServerLayer(options))
  const address = Context.get(context, HttpServer.HttpServer).address
  const port = address._tag === "TcpAddress" ? address.port : options.port
  return { host: options.host, port, url: adminUrl(options.host, port) }
})
