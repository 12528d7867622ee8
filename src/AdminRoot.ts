import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Effect, Layer, type MetricPair } from "effect"
import { AccessLogFailuresLive } from "./admin/http/AccessLog.js"
import { AdminAuthLive } from "./admin/auth/AdminAuth.js"
import { adminMiddleware, type AdminServerOptions, adminUrl, createAdminHttpsServer } from "./admin/http/AdminServer.js"
import { Api } from "./admin/Api.js"
import { BodyLimitsLive } from "./admin/http/BodyLimits.js"
import { ApiTokensLive } from "./admin/accounts/TokenHandlers.js"
import { AuditLive } from "./admin/audit/Handlers.js"
import { AuthLive } from "./admin/auth/Handlers.js"
import { DirectoryLive } from "./admin/directory/Handlers.js"
import { ImagesLive } from "./admin/images/Handlers.js"
import { MetricsLive } from "./admin/metrics/Handlers.js"
import { OpsLive } from "./admin/metrics/OpsHandlers.js"
import { PreviewLive } from "./admin/rules/PreviewHandlers.js"
import { RulesLive } from "./admin/rules/Handlers.js"
import { SyncLive } from "./admin/sync/Handlers.js"
import { TemplatesLive } from "./admin/templates/Handlers.js"
import { TenantsLive } from "./admin/tenants/Handlers.js"
import { TraceLive } from "./admin/trace/Handlers.js"
import { UsersLive } from "./admin/accounts/Handlers.js"
import { LoginMailer } from "./admin/auth/LoginMailer.js"
import { LoginThrottle } from "./admin/auth/LoginThrottle.js"
import { AccountConfig, type AccountConfigShape } from "./domain/AccountSettings.js"
import { TestStamper } from "./domain/TestStamp.js"
import { testStamper } from "./pipeline/DryRun.js"
import { AdminListener } from "./Listeners.js"
import { ContentRepo } from "./store/ContentRepo.js"
import { ImageRepo } from "./store/ImageRepo.js"

/**
 * The admin server's part of the composition root: the admin API's handlers
 * composed into the contract, served over the HTTPS listener. The admin room
 * provides the parts (src/admin/http/AdminServer.ts and the feature handlers); Layers are
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
    Layer.provide([
      OpsLive,
      MetricsLive({ tenantLabels: options.metricsTenantLabels, workerMetrics: options.workerMetrics }),
      TenantsLive,
      AuditLive,
      DirectoryLive
    ]),
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

/**
 * The admin server as a scoped Layer that provides its bound address (AdminListener): built, it
 * listens; its scope's close stops it. Server.ts composes it; specs build it over their own store.
 */
export const adminListenerLayer = (options: AdminServerOptions) =>
  Layer.effect(
    AdminListener,
    Effect.map(HttpServer.HttpServer, (server) => {
      const port = server.address._tag === "TcpAddress" ? server.address.port : options.port
      return { host: options.host, port, url: adminUrl(options.host, port) }
    })
  ).pipe(Layer.provide(adminServerLayer(options)))
