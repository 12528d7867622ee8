import { Context, type Effect, type Option } from "effect"
import type { SessionBinding } from "./Binding.js"
import type { HeaderSummary, MessageEnvelope, SignatureDecision } from "./Signature.js"
import type { Tenant, TenantId } from "./Tenant.js"

/**
 * What the data plane asks the control plane (the tenant actors). Everything
 * here is a small serialisable request: message bytes never cross it, so the
 * actors can later live on other nodes without the pipeline changing.
 */
export interface ControlPlaneApi {
  /** one tenant's range, the tenants sharing the most specific range, or Unbound */
  readonly bindBySourceAddress: (address: string) => Effect.Effect<SessionBinding>
  /** the tenant a shared binding selects for the envelope sender's domain (ConnectorIndex.selectBySender) */
  readonly selectBySender: (binding: SessionBinding, domain: string) => Effect.Effect<Option.Option<TenantId>>
  readonly bindByCertificate: (fingerprint256: string) => Effect.Effect<Option.Option<TenantId>>
  readonly bindByCredentials: (username: string, password: string) => Effect.Effect<Option.Option<TenantId>>
  /** the tenant's current relay state (domains, connectors, downstream); None when gone or suspended */
  readonly relayState: (tenant: TenantId) => Effect.Effect<Option.Option<Tenant>>
  readonly resolveSignature: (tenant: TenantId, envelope: MessageEnvelope, header: HeaderSummary) => Effect.Effect<SignatureDecision>
}

export class ControlPlane extends Context.Tag("imprint/ControlPlane")<ControlPlane, ControlPlaneApi>() {}
