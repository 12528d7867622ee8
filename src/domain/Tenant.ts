import { Schema } from "effect"
import { Microsoft365TenantGuid, OnMicrosoftDomain } from "./Microsoft365.js"
import { TenantAccount } from "./TenantAccount.js"
import { TraceSettings } from "./Trace.js"

/**
 * A tenant's relay state: who may send through it (connectors), for which
 * domains, and where its mail goes next (downstream). Signature data
 * (templates, rules, directory) lives beside it in its own schemas.
 */

export const TenantId = Schema.String.pipe(
  Schema.pattern(/^[a-z0-9][a-z0-9-]{0,62}$/, {
    message: () => "a tenant id is 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit"
  }),
  Schema.brand("TenantId")
)
export type TenantId = typeof TenantId.Type

export const Domain = Schema.String.pipe(
  Schema.pattern(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i, {
    message: () => "a domain name such as example.com"
  })
)

/** SMTP AUTH credentials; only the scrypt hash of the password is stored. */
export class AuthConnector extends Schema.TaggedClass<AuthConnector>()("auth", {
  username: Schema.String.pipe(Schema.minLength(1)),
  /** "scrypt$N$r$p$salt-b64$hash-b64" */
  passwordHash: Schema.String
}) {}

/** A TLS client certificate, identified by its SHA-256 fingerprint (hex, colons optional). */
export class CertConnector extends Schema.TaggedClass<CertConnector>()("certificate", {
  fingerprint256: Schema.String.pipe(Schema.pattern(/^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/))
}) {}

/** Source addresses, as CIDRs (IPv4 or IPv6). */
export class CidrConnector extends Schema.TaggedClass<CidrConnector>()("cidr", {
  cidrs: Schema.Array(Schema.String).pipe(Schema.minItems(1))
}) {}

/**
 * Mail from the tenant's Microsoft 365 organisation through Exchange Online's
 * shared addresses: the session passes Microsoft's address or certificate
 * gate, the envelope sender's domain picks the tenant, and each message must
 * prove it comes from this Microsoft 365 tenant (CrossTenant-Id header and
 * the onmicrosoft.com DKIM signature, src/domain/Microsoft365.ts).
 */
export class Microsoft365Connector extends Schema.TaggedClass<Microsoft365Connector>()("microsoft365", {
  /** lower case */
  tenantGuid: Microsoft365TenantGuid,
  /** `<name>.onmicrosoft.com`, lower case */
  domain: OnMicrosoftDomain
}) {}

export const Connector = Schema.Union(AuthConnector, CertConnector, CidrConnector, Microsoft365Connector)
export type Connector = typeof Connector.Type

export const TlsPolicy = Schema.Literal("required", "opportunistic", "none")
export type TlsPolicy = typeof TlsPolicy.Type

/** Where the tenant's relayed mail goes. */
export class Downstream extends Schema.Class<Downstream>("Downstream")({
  host: Schema.String.pipe(Schema.minLength(1)),
  port: Schema.Int.pipe(Schema.between(1, 65535)),
  tls: Schema.optionalWith(TlsPolicy, { default: () => "opportunistic" as const }),
  /** verify the downstream's certificate when TLS is used */
  rejectUnauthorized: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  auth: Schema.optional(Schema.Struct({ user: Schema.String, pass: Schema.String }))
}) {}

export class Tenant extends Schema.Class<Tenant>("Tenant")({
  id: TenantId,
  name: Schema.String,
  domains: Schema.Array(Domain).pipe(Schema.minItems(1)),
  connectors: Schema.Array(Connector),
  /** absent: the server's configured default downstream */
  downstream: Schema.optional(Downstream),
  suspended: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /** who the customer is (admin data; the relay never reads it) — src/domain/TenantAccount.ts */
  account: Schema.optional(TenantAccount),
  /** message trace retention and recipient hashing (src/domain/Trace.ts); absent: the server's defaults */
  trace: Schema.optional(TraceSettings)
}) {}
