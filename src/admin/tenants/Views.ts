import type { Connector, Tenant } from "../../domain/Tenant.js"
import { type ConnectorView, TenantView } from "../Api.js"

/**
 * Tenants as the API shows them. Credentials stay in the server: an auth
 * connector shows its username (not its hash), a downstream its user (not its
 * password).
 */

const connectorView = (c: Connector): ConnectorView => {
  switch (c._tag) {
    case "auth":
      return { type: "auth", username: c.username }
    case "certificate":
      return { type: "certificate", fingerprint256: c.fingerprint256 }
    case "cidr":
      return { type: "cidr", cidrs: c.cidrs }
    case "microsoft365":
      return { type: "microsoft365", tenantId: c.tenantGuid, domain: c.domain }
  }
}

export interface TenantCounts {
  readonly templates: number
  readonly rules: number
  readonly users: number
}

export const tenantView = (t: Tenant, counts?: TenantCounts): TenantView =>
  new TenantView({
    id: t.id,
    name: t.name,
    domains: t.domains,
    connectors: t.connectors.map(connectorView),
    downstream: t.downstream && {
      host: t.downstream.host,
      port: t.downstream.port,
      tls: t.downstream.tls,
      rejectUnauthorized: t.downstream.rejectUnauthorized,
      ...(t.downstream.auth ? { authUser: t.downstream.auth.user } : {})
    },
    suspended: t.suspended,
    ...(t.account !== undefined ? { account: t.account } : {}),
    ...(t.trace !== undefined ? { trace: t.trace } : {}),
    ...(counts ? { counts } : {})
  })
