import { Effect, Layer, Option } from "effect"
import { Unbound } from "../domain/Binding.js"
import { NoSignature } from "../domain/Signature.js"
import { ControlPlane } from "../domain/ControlPlane.js"
import type { Tenant } from "../domain/Tenant.js"
import { TenantRegistry } from "./TenantRegistry.js"

/**
 * The data plane's view of the tenant actors. A tenant whose actor cannot
 * answer is treated as unbound or suspended: the session gets a clear SMTP
 * refusal instead of a crash, and the failure is logged. Signatures are
 * different: mail flow beats signatures (DESIGN invariant 5), so an actor that
 * fails or is too slow to answer means "no signature", never a refused message.
 */

export { RESOLVE_TIMEOUT } from "./TenantActor.js"

export const TENANT_UNAVAILABLE = "tenant-unavailable"

/** a suspended tenant relays nothing: as if unbound */
const relayable = (t: Tenant): Option.Option<Tenant> => (t.suspended ? Option.none() : Option.some(t))

export const ControlPlaneLive = Layer.effect(
  ControlPlane,
  Effect.gen(function* () {
    const registry = yield* TenantRegistry
    const orNone =
      <A, E>(what: string) =>
      (effect: Effect.Effect<Option.Option<A>, E>) =>
        effect.pipe(Effect.catchAllCause((cause) => Effect.logError(`${what} failed`, cause).pipe(Effect.as(Option.none<A>()))))
    return {
      bindBySourceAddress: (address) =>
        registry.sourceBinding(address).pipe(Effect.catchAllCause((cause) => Effect.logError("bindBySourceAddress failed", cause).pipe(Effect.as(Unbound)))),
      selectBySender: (binding, domain) => registry.selectBySender(binding, domain).pipe(orNone("selectBySender")),
      bindByCertificate: (fp) => registry.bindByCertificate(fp).pipe(orNone("bindByCertificate")),
      bindByCredentials: (user, pass) => registry.bindByCredentials(user, pass).pipe(orNone("bindByCredentials")),
      // per message: a plain call when the tenant's actor runs and its snapshot is current, else the actor is asked
      relayState: (tenant) =>
        Effect.clockWith((clock) => {
          const ready = registry.runningActor(tenant, clock.unsafeCurrentTimeMillis())?.readyRelayState()
          return ready !== undefined ? Effect.succeed(relayable(ready)) : Effect.map(registry.relayState(tenant), relayable)
        }).pipe(orNone("relayState")),
      resolveSignature: (tenant, envelope, header) =>
        Effect.clockWith((clock) => {
          const now = clock.unsafeCurrentTimeMillis()
          const decided = registry.runningActor(tenant, now)?.readySignature(envelope, header, now)
          // the actor bounds the wait itself (RESOLVE_TIMEOUT), without a timeout race per message
          return decided !== undefined ? Effect.succeed(decided) : Effect.flatMap(registry.actor(tenant), (actor) => actor.resolveSignature(envelope, header))
        }).pipe(
          Effect.catchAllCause((cause) =>
            Effect.logError("resolveSignature failed; relaying without a signature", cause).pipe(
              Effect.annotateLogs({ tenant }),
              Effect.as(new NoSignature({ reason: TENANT_UNAVAILABLE }))
            )
          )
        )
    }
  })
)
