import { expect, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import { TenantRepo } from "../../src/store/TenantRepo.js"
import type { TenantId } from "../../src/domain/Tenant.js"
import { adminTestLayer, createPayload, operatorClient, operatorHeaders, rawRequest, tenantBody } from "./AdminHarness.js"

/** Issue 20 through the admin API: the microsoft365 connector in tenant views, and a cidr over Exchange Online's ranges refused. */
layer(adminTestLayer())("admin API: microsoft365 connectors", (it) => {
  it.effect("create shows the connector's tenant id and onmicrosoft.com domain", () =>
    Effect.gen(function* () {
      const client = yield* operatorClient
      const body = tenantBody("t-m365", "198.51.120.0/24", {
        connectors: [{ type: "microsoft365", tenantId: "6F5A3C1E-0B8D-4E2A-9C71-3D2B1A0F9E8D", domain: "Contoso.onmicrosoft.com" }]
      })
      const saved = yield* client.tenants.create({ payload: createPayload(body) })
      expect(saved.tenant.connectors).toEqual([{ type: "microsoft365", tenantId: "6f5a3c1e-0b8d-4e2a-9c71-3d2b1a0f9e8d", domain: "contoso.onmicrosoft.com" }])
      expect((yield* client.tenants.get({ path: { tenantId: "t-m365" } })).connectors).toEqual(saved.tenant.connectors)
    })
  )

  it.effect("a cidr over Exchange Online's published ranges is 400, pointing to microsoft365, and writes nothing", () =>
    Effect.gen(function* () {
      const headers = yield* operatorHeaders
      const response = yield* rawRequest("POST", "/tenants", { headers, json: tenantBody("t-m365-cidr", "52.100.0.0/14") })
      expect(response.status).toBe(400)
      expect(response.text).toContain("overlaps Exchange Online's published range 52.100.0.0/15")
      expect(response.text).toContain('\\"microsoft365\\" connector')
      const repo = yield* TenantRepo
      expect(Option.isNone(yield* repo.getTenant("t-m365-cidr" as TenantId))).toBe(true)
    })
  )
})
