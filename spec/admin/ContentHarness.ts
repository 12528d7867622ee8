/**
 * Helpers for the template, rule, preview and test-stamp specs: a tenant with
 * signature content created through the API, and clients acting as a tenant
 * member with one role (a tenant API token made through the AccountRepo).
 */
import { Effect } from "effect"
import type { Role } from "../../src/domain/Role.js"
import { AccountRepo } from "../../src/store/AccountRepo.js"
import { apiClient, createPayload, operatorClient, tenantBody } from "./AdminHarness.js"

/** A tenant "id" on its own documentation-range CIDR, with two templates, two rules and two directory users. */
export const contentTenant = (id: string, cidr: string) =>
  tenantBody(id, cidr, {
    templates: [
      { id: "sig", name: "Signature", html: "<p>{{displayName}} | {{title}}</p>", text: "{{displayName}} | {{title}}" },
      { id: "disc", name: "Disclaimer", html: "<p>Confidential</p>" }
    ],
    rules: [
      { id: "external", name: "External disclaimer", templateId: "disc", conditions: { recipientScope: "external" } },
      { id: "everyone", name: "Everyone", templateId: "sig" }
    ],
    directory: [
      { mail: `alice@${id}.example`, displayName: "Alice Example", title: "Engineer", proxyAddresses: [`smtp:al@${id}.example`] },
      { mail: `bob@${id}.example`, displayName: "Bob Example", title: "Sales" }
    ]
  })

export const createContentTenant = (id: string, cidr: string) =>
  Effect.flatMap(operatorClient, (client) => client.tenants.create({ payload: createPayload(contentTenant(id, cidr)) }))

/** The typed client acting as a member of `tenantId` with `role` (a tenant API token). */
export const memberClient = (tenantId: string, role: Role) =>
  Effect.gen(function* () {
    const accounts = yield* AccountRepo
    const { token } = yield* accounts.createApiToken(tenantId, `spec ${role}`, role, "spec")
    return yield* apiClient(token)
  })
