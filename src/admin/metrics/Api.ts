import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import { Forbidden, NotReady } from "../http/Errors.js"
import { AdminAuth } from "../http/Principal.js"

/** Operations (liveness, readiness, the OpenAPI document) and the Prometheus metrics endpoint. */

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

export class OpsGroup extends HttpApiGroup.make("ops")
  .add(
    HttpApiEndpoint.get("healthz", "/healthz").addSuccess(
      Schema.Struct({
        /**
         * degraded: a cluster node whose watch of the cluster is down, whose bucket does not answer (no quorum),
         * or whose mirror no longer hears from the holding site (two sites); it relays mail with its last state
         */
        status: Schema.Literal("ok", "degraded"),
        config_stale_seconds: Schema.optional(Schema.Int),
        cluster_revision: Schema.optional(Schema.Int),
        /** a node of a mirroring site: is the holding site reachable, since when it was last heard from, how far behind */
        mirror: Schema.optional(
          Schema.Struct({
            domain: Schema.String,
            source: Schema.Literal("reachable", "unreachable"),
            last_contact_seconds: Schema.Int,
            lag: Schema.Int
          })
        )
      })
    )
  )
  .add(
    HttpApiEndpoint.get("readyz", "/readyz")
      .addSuccess(Schema.Struct({ status: Schema.Literal("ready"), tenants: Schema.Int }))
      .addError(NotReady)
  )
  .add(HttpApiEndpoint.get("openapi", "/openapi.json").addSuccess(Schema.Record({ key: Schema.String, value: Schema.Unknown })))
  .annotate(OpenApi.Description, "Liveness, readiness and this API's OpenAPI document; no authentication.") {}

export class MetricsGroup extends HttpApiGroup.make("metrics")
  .add(HttpApiEndpoint.get("metrics", "/metrics").addSuccess(HttpApiSchema.Text({ contentType: PROMETHEUS_CONTENT_TYPE })))
  .addError(Forbidden)
  .middleware(AdminAuth)
  .annotate(OpenApi.Description, "Prometheus text exposition of the relay's metrics; operator token required.") {}
