import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect, type MetricPair } from "effect"
import * as fs from "node:fs"
import * as https from "node:https"
import type { TlsMaterial } from "../../Secrets.js"
import type { AccountConfigShape } from "../../domain/AccountSettings.js"
import { withJsonErrorBodies } from "./ErrorBodies.js"
import { accessLog } from "./AccessLog.js"

/**
 * The admin API over HTTPS. HTTPS only: there is no plain-HTTP listener to
 * forget to turn off, and TLS below 1.2 is refused at the handshake.
 *
 * This module holds the server's parts (the HTTPS listener, the response
 * middleware, the TLS material); the composition root (src/AdminRoot.ts)
 * builds the Layers from them and the handlers.
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

/** RFC 6750: a 401 names the scheme it wants, so a client knows to send a bearer token. */
export const WWW_AUTHENTICATE = 'Bearer realm="imprint-admin"'

// a pre-response handler, because typed errors become responses after the app's own effect has failed
const challengeOn401 = <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  Effect.zipRight(
    HttpApp.appendPreResponseHandler((_request, response) =>
      Effect.succeed(response.status === 401 ? HttpServerResponse.setHeader(response, "www-authenticate", WWW_AUTHENTICATE) : response)
    ),
    app
  )

/** What every admin response passes through: the access log, JSON error bodies, the 401 challenge. */
export const adminMiddleware = (httpApp: HttpApp.Default): HttpApp.Default => accessLog(withJsonErrorBodies(challengeOn401(httpApp)))

/** The HTTPS listener (Node's), TLS 1.2 at least. */
export const createAdminHttpsServer = (tls: TlsMaterial) => https.createServer({ key: tls.key, cert: tls.cert, minVersion: ADMIN_TLS_MIN_VERSION })

/** The URL the server answers on, brackets around an IPv6 host. */
export const adminUrl = (host: string, port: number) => `https://${host.includes(":") ? `[${host}]` : host}:${port}`

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
