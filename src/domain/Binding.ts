import type { TenantId } from "./Tenant.js"

/**
 * What a session's connection has proven about its tenant before MAIL
 * (invariant 7). Some proofs name one tenant; a source address several tenants
 * share, or Exchange Online's shared gate, names a set, and the envelope
 * sender's domain picks the tenant at MAIL (each domain belongs to one tenant).
 */
export type SessionBinding =
  | { readonly _tag: "Unbound" }
  /** AUTH, a client certificate, or a source range of one tenant */
  | { readonly _tag: "Tenant"; readonly tenantId: TenantId }
  /** equally specific source ranges of several tenants */
  | { readonly _tag: "SharedRange"; readonly tenantIds: ReadonlyArray<TenantId> }
  /** Exchange Online's addresses or certificate: any tenant with a microsoft365 connector, proven per message */
  | { readonly _tag: "Microsoft365" }

export const Unbound: SessionBinding = { _tag: "Unbound" }
export const boundTo = (tenantId: TenantId): SessionBinding => ({ _tag: "Tenant", tenantId })
