import { Clock, Effect, Either, Option, Schema } from "effect"
import { hash } from "node:crypto"
import type { TenantId } from "../domain/Tenant.js"
import { tenantPrefix } from "./Keys.js"
import { Store } from "./Store.js"

/**
 * Invariant 5's memory: a message whose stamping failed mid-stream is answered
 * 451 and remembered here for a day, so that its retry passes unstamped instead
 * of failing again. Keys are per tenant (`tenant/<id>/failsafe/<digest>`), the
 * digest of the message identity, so no address or Message-ID is stored.
 */
export const FAILSAFE_DB = "failsafe"
export const FAILSAFE_TTL_MS = 24 * 60 * 60 * 1000

const Entry = Schema.Struct({ until: Schema.Number })

const keyOf = (tenant: TenantId, identity: string) => `${tenantPrefix(tenant)}failsafe/${hash("sha256", identity, "base64url")}`

export class FailSafeMemory extends Effect.Service<FailSafeMemory>()("imprint/FailSafeMemory", {
  effect: Effect.gen(function* () {
    const store = yield* Store
    return {
      remember: Effect.fn("FailSafeMemory.remember")(function* (tenant: TenantId, identity: string) {
        const now = yield* Clock.currentTimeMillis
        yield* store.put(FAILSAFE_DB, Entry, keyOf(tenant, identity), { until: now + FAILSAFE_TTL_MS })
      }),
      /** true when this message failed to stamp within the last day (asked for every message: no span) */
      recall: (tenant: TenantId, identity: string) =>
        Effect.clockWith((clock) => {
          // a synchronous read: one step instead of an Effect per read
          const entry = store.getSync(FAILSAFE_DB, Entry, keyOf(tenant, identity))
          if (Either.isLeft(entry)) return Effect.fail(entry.left)
          return Effect.succeed(Option.isSome(entry.right) && entry.right.value.until > clock.unsafeCurrentTimeMillis())
        })
    }
  }),
  dependencies: [Store.Default]
}) {}
