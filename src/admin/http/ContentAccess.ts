import { Effect, Option, Schema } from "effect"
import { TenantNotFound } from "../../domain/Errors.js"
import { TenantId } from "../../domain/Tenant.js"
import type { StoreDecodeError, StoreError } from "../../store/StoreError.js"
import type { TenantActorUnavailable } from "../../actors/TenantProtocol.js"
import { NotReady, StoreFailure, storeFailureOf } from "./Errors.js"
import { requireTenantRole } from "./Principal.js"
import { type Role } from "../../domain/Role.js"

/**
 * What every content handler (templates, rules, preview, test stamp) does
 * first: authorize the caller for the path's tenant, then read that id as a
 * TenantId. Objects are then looked up under that tenant's prefix only, so
 * another tenant's template or rule id is simply not found (404).
 */

/** The caller may act on the path tenant with one of `roles`; answers the id. */
export const authorize = (rawTenantId: string, roles: ReadonlyArray<Role>) =>
  Effect.zipRight(
    requireTenantRole(rawTenantId, roles),
    Option.match(Schema.decodeUnknownOption(TenantId)(rawTenantId), {
      // not even a valid id: it names no tenant
      onNone: () => Effect.fail(new TenantNotFound({ tenantId: rawTenantId })),
      onSome: (id) => Effect.succeed(id)
    })
  )

/** A store failure is a 500 naming the database and key; logged, since the caller cannot fix it. */
export const storeFailure = (e: StoreError | StoreDecodeError) =>
  Effect.logError("admin API: store failure", e).pipe(Effect.zipRight(Effect.fail(storeFailureOf(e))))

export const catchStore = <A, E, R>(effect: Effect.Effect<A, E | StoreError | StoreDecodeError, R>) =>
  Effect.catchIf(
    effect,
    (e): e is StoreError | StoreDecodeError => typeof e === "object" && e !== null && "_tag" in e && (e._tag === "StoreError" || e._tag === "StoreDecodeError"),
    storeFailure
  ) as Effect.Effect<A, Exclude<E, StoreError | StoreDecodeError> | StoreFailure, R>

/** The tenant's actor could not answer (restarting, stopped): 503, worth a retry. */
export const actorUnavailable = (e: TenantActorUnavailable) => Effect.fail(new NotReady({ message: `${e.message}; try again` }))
