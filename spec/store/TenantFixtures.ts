import type { TenantFileJson } from "../../src/domain/TenantFile.js"

/** A tenant file as an operator writes it (plaintext password, mixed-case aliases). */
export const acmeFile = (overrides: Partial<TenantFileJson> = {}): TenantFileJson => ({
  id: "acme",
  name: "Acme Corp",
  // per id: two tenants may not share a domain
  domains: [`${overrides.id ?? "acme"}.example`, `${(overrides.id ?? "acme").toUpperCase()}-Mail.example`],
  connectors: [
    { type: "auth", username: "acme-relay", password: "s3cret-relay-password" },
    { type: "certificate", fingerprint256: "ab".repeat(32) },
    { type: "cidr", cidrs: ["192.0.2.0/24", "2001:db8:ac::/48"] }
  ],
  downstream: { host: "127.0.0.1", port: 2525 },
  templates: [{ id: "default", name: "Default", html: "<p>{{displayName}}</p>" }],
  rules: [{ id: "all", name: "Everyone", templateId: "default" }],
  directory: [
    { mail: "Alice@acme.example", displayName: "Alice", proxyAddresses: ["SMTP:alice@acme.example", "smtp:Ally@Acme-Mail.example", "X500:/o=acme/cn=alice"] },
    { mail: "bob@acme.example", displayName: "Bob", title: "Engineer" }
  ],
  settings: { skipIfPresent: ["-- sent from Acme"] },
  ...overrides
})
