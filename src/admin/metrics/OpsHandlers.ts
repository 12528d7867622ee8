import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as OpenApi from "@effect/platform/OpenApi"
import { Effect, Option } from "effect"
import { ClusterStatus } from "../../cluster/Applier.js"
import { TenantRepo } from "../../store/TenantRepo.js"
import { Api, NotReady } from "../Api.js"

/**
 * Liveness, readiness and the OpenAPI document. No authentication: load
 * balancers and orchestrators call these without credentials, and the
 * document describes only the contract, not data.
 */

export const OpsLive = HttpApiBuilder.group(Api, "ops", (handlers) =>
  Effect.gen(function* () {
    const repo = yield* TenantRepo
    const cluster = yield* Effect.serviceOption(ClusterStatus)
    // generated on the first request, then kept (the contract cannot change while the process runs); not at start:
    // most relays never serve it, and it costs ≈ 1.2 MB of live heap and ≈ 130 ms of CPU
    let document: Record<string, unknown> | undefined
    return (
      handlers
        // a cluster node says whether its watch of the cluster is up, and since when its configuration may be stale
        .handle("healthz", () =>
          Option.match(cluster, {
            onNone: () => Effect.succeed({ status: "ok" as const }),
            onSome: (c) =>
              Effect.map(c.health, (h) => ({
                status: h.status,
                cluster_revision: h.lastApplied,
                ...(h.configStaleSeconds !== undefined ? { config_stale_seconds: h.configStaleSeconds } : {}),
                ...(h.mirror !== undefined
                  ? { mirror: { domain: h.mirror.domain, source: h.mirror.source, last_contact_seconds: h.mirror.lastContactSeconds, lag: h.mirror.lag } }
                  : {})
              }))
          })
        )
        // ready when the store answers: the mail path reads tenants from it
        .handle("readyz", () =>
          repo.listTenants().pipe(
            Effect.map((tenants) => ({ status: "ready" as const, tenants: tenants.length })),
            Effect.catchAll((e) => Effect.fail(new NotReady({ message: `the store is not readable: ${e.message}` })))
          )
        )
        .handle("openapi", () => Effect.sync(() => (document ??= OpenApi.fromApi(Api) as unknown as Record<string, unknown>)))
    )
  })
)
