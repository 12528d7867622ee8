import { Effect, Option } from "effect"
import type { TLSSocket } from "node:tls"
import { boundTo, type SessionBinding, Unbound } from "../../domain/Binding.js"
import type { Microsoft365Connector, Tenant, TenantId } from "../../domain/Tenant.js"
import type { ControlPlaneApi } from "../../domain/ControlPlane.js"
import { type InboundError, NotBound, SenderNotAllowed, SharedNullSender } from "./InboundError.js"
import type { Microsoft365Gate } from "./Microsoft365Gate.js"

/**
 * One upstream session's binding (invariant 7), as its connection proves
 * more: the source address at connect, the client certificate after STARTTLS,
 * AUTH. A binding shared by several tenants (a range they share, Exchange
 * Online's gate) selects the tenant by the envelope sender's domain at MAIL.
 * Exchange Online wins over a range or certificate connector: its addresses and
 * certificate are every Microsoft 365 customer's, so they never bind one tenant.
 */

export interface Selected {
  readonly tenant: Tenant
  /** a Microsoft 365 session: what each message must prove (Microsoft365Proof) */
  readonly microsoft365: ReadonlyArray<Microsoft365Connector> | undefined
}

const domainOf = (address: string): string => address.slice(address.lastIndexOf("@") + 1).toLowerCase()

export const senderAllowed = (tenant: Tenant, sender: string): boolean => {
  // the null sender (bounces, receipts) carries no domain; the session is bound already
  if (sender === "") return true
  const domain = domainOf(sender)
  return tenant.domains.some((d) => d.toLowerCase() === domain)
}

export class SessionBinder {
  binding: SessionBinding = Unbound
  /** how the session was bound, for the message trace: "address", "certificate", "auth:<username>", "microsoft365", "none" */
  boundBy = "none"
  private exchangeAddress = false
  private exchangeCertificate = false

  constructor(
    private readonly control: ControlPlaneApi,
    private readonly gate: Microsoft365Gate
  ) {}

  connected(ip: string): Effect.Effect<void> {
    this.exchangeAddress = this.gate.addressPasses(ip)
    if (this.exchangeAddress) return Effect.sync(() => this.exchangeGate())
    return Effect.map(this.control.bindBySourceAddress(ip), (b) => {
      this.binding = b
      if (b._tag !== "Unbound") this.boundBy = "address"
    })
  }

  secured(socket: TLSSocket): Effect.Effect<void> {
    const cert = socket.getPeerCertificate?.()
    const present = cert !== undefined && Object.keys(cert).length > 0
    this.exchangeCertificate = present && this.gate.certificatePasses({ authorized: socket.authorized, certificate: cert })
    if (this.exchangeCertificate || this.exchangeAddress) return Effect.sync(() => this.exchangeGate())
    const fingerprint = present && "fingerprint256" in cert ? cert.fingerprint256 : undefined
    if (!fingerprint) return Effect.void
    return Effect.map(this.control.bindByCertificate(fingerprint), (t) => {
      if (Option.isNone(t)) return
      this.binding = boundTo(t.value)
      this.boundBy = "certificate"
    })
  }

  authenticated(tenantId: TenantId, username: string): void {
    this.binding = boundTo(tenantId)
    this.boundBy = `auth:${username}`
  }

  private exchangeGate(): void {
    this.binding = this.gate.passes(this.exchangeAddress, this.exchangeCertificate) ? { _tag: "Microsoft365" } : Unbound
    this.boundBy = this.binding._tag === "Microsoft365" ? "microsoft365" : "none"
  }

  /**
   * At MAIL: the tenant this sender may relay as on this session, and what its messages must prove.
   * Combinators, not Effect.gen: a generator function made per message costs V8 a prototype and an
   * initial map of its own, made in the old generation (perf/issue-16.md, the ninth session).
   */
  select(sender: string): Effect.Effect<Selected, InboundError> {
    const binding = this.binding
    if (binding._tag === "Unbound") return Effect.fail(new NotBound())
    if (binding._tag !== "Tenant" && sender === "") return Effect.fail(new SharedNullSender())
    const control = this.control
    const tenantId = binding._tag === "Tenant" ? Effect.succeed(Option.some(binding.tenantId)) : control.selectBySender(binding, domainOf(sender))
    return Effect.flatMap(tenantId, (id) =>
      Option.isNone(id)
        ? Effect.fail(new SenderNotAllowed({ sender }))
        : Effect.flatMap(control.relayState(id.value), (tenant): Effect.Effect<Selected, InboundError> => {
            if (Option.isNone(tenant)) return Effect.fail(new NotBound())
            if (!senderAllowed(tenant.value, sender)) return Effect.fail(new SenderNotAllowed({ sender }))
            if (binding._tag !== "Microsoft365") return Effect.succeed({ tenant: tenant.value, microsoft365: undefined })
            const connectors = tenant.value.connectors.filter((c): c is Microsoft365Connector => c._tag === "microsoft365")
            // the index said so; the tenant changed since
            if (connectors.length === 0) return Effect.fail(new SenderNotAllowed({ sender }))
            return Effect.succeed({ tenant: tenant.value, microsoft365: connectors })
          })
    )
  }
}
