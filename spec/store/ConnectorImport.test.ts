import { expect, layer } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import type { TenantId } from "../../src/domain/Tenant.js"
import { Store } from "../../src/store/Store.js"
import { TenantRepo } from "../../src/store/TenantRepo.js"
import { acmeFile } from "./TenantFixtures.js"
import { TempStorePath } from "./TempStore.js"
import { tenantImport } from "../../src/actors/TenantImport.js"

/**
 * Import rules for connectors shared between tenants (issues 20 and 21): the
 * microsoft365 connector, cidr connectors over Exchange Online's addresses, and
 * tenants sharing a cidr, which are told apart by sender domain.
 */

const TestLayer = Layer.mergeAll(TenantRepo.Default, Store.Default).pipe(Layer.provide(TempStorePath))

const importError = (input: unknown) => Effect.flatMap(TenantRepo, (repo) => Effect.flip(tenantImport(repo).importTenant(input)))

const GUID_A = "6F5A3C1E-0B8D-4E2A-9C71-3D2B1A0F9E8D"
const GUID_B = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

const m365 = (id: string, tenantId: string, domain: string) =>
  acmeFile({ id, name: id, domains: [`${id}.example`], connectors: [{ type: "microsoft365", tenantId, domain }] })

layer(TestLayer)("connector import rules", (it) => {
  it.effect("a microsoft365 connector is stored with its tenant id and domain in lower case, and exported as written", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      yield* tenantImport(repo).importTenant(m365("m-one", GUID_A, "Contoso.onmicrosoft.com"))
      const tenant = Option.getOrThrow(yield* repo.getTenant("m-one" as TenantId))
      expect(tenant.connectors).toEqual([
        expect.objectContaining({ _tag: "microsoft365", tenantGuid: GUID_A.toLowerCase(), domain: "contoso.onmicrosoft.com" })
      ])
      const exported = yield* repo.exportTenant("m-one" as TenantId)
      expect(exported.connectors).toEqual([{ type: "microsoft365", tenantId: GUID_A.toLowerCase(), domain: "contoso.onmicrosoft.com" }])
    })
  )

  it.effect("a microsoft365 connector needs a GUID and an onmicrosoft.com domain", () =>
    Effect.gen(function* () {
      const badGuid = yield* importError(m365("m-bad", "contoso", "contoso.onmicrosoft.com"))
      expect(badGuid.message).toMatch(/^connectors\[0\]\.tenantId: a Microsoft 365 tenant id: a GUID/)
      const badDomain = yield* importError(m365("m-bad", GUID_A, "contoso.com"))
      expect(badDomain.message).toMatch(/^connectors\[0\]\.domain: the tenant's initial domain, <name>\.onmicrosoft\.com/)
    })
  )

  it.effect("another tenant's Microsoft 365 tenant id or onmicrosoft.com domain is a conflict naming both tenants", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      yield* tenantImport(repo).importTenant(m365("m-owner", GUID_B, "fabrikam.onmicrosoft.com"))
      const sameGuid = yield* importError(m365("m-thief", GUID_B.toUpperCase(), "other.onmicrosoft.com"))
      expect(sameGuid).toMatchObject({ _tag: "TenantConflict", tenantId: "m-thief", otherTenantId: "m-owner" })
      expect(sameGuid.message).toContain(GUID_B)
      const sameDomain = yield* importError(m365("m-thief", "11111111-2222-4333-8444-555555555555", "FABRIKAM.onmicrosoft.com"))
      expect(sameDomain).toMatchObject({ _tag: "TenantConflict", tenantId: "m-thief", otherTenantId: "m-owner" })
      expect(Option.isNone(yield* repo.getTenant("m-thief" as TenantId))).toBe(true)
    })
  )

  it.effect("a cidr connector over Exchange Online's published ranges is refused, pointing to microsoft365", () =>
    Effect.gen(function* () {
      const file = acmeFile({ id: "m-cidr", domains: ["m-cidr.example"] })
      const inside = yield* importError({ ...file, connectors: [{ type: "cidr", cidrs: ["192.0.2.0/24", "40.107.22.0/24"] }] })
      expect(inside._tag).toBe("TenantFileInvalid")
      expect(inside.message).toBe(
        "connectors[0].cidrs[1]: 40.107.22.0/24 overlaps Exchange Online's published range 40.107.0.0/16, which every Microsoft 365 customer " +
          'sends from; bind Microsoft 365 with a "microsoft365" connector (its tenant id and onmicrosoft.com domain) instead'
      )
      // a range holding one of Microsoft's, and an IPv6 one
      const around = yield* importError({ ...file, connectors: [{ type: "cidr", cidrs: ["104.0.0.0/8"] }] })
      expect(around.message).toMatch(/^connectors\[0\]\.cidrs\[0\]: 104\.0\.0\.0\/8 overlaps Exchange Online's published range 104\.47\.0\.0\/17/)
      const v6 = yield* importError({ ...file, connectors: [{ type: "cidr", cidrs: ["2a01:111:f403:c000::/52"] }] })
      expect(v6.message).toMatch(/microsoft365/)
      // next door is fine
      yield* Effect.flatMap(TenantRepo, (repo) =>
        tenantImport(repo).importTenant({ ...file, connectors: [{ type: "cidr", cidrs: ["40.106.0.0/16", "104.47.128.0/17"] }] })
      )
    })
  )

  it.effect("tenants may share a cidr (the sender's domain tells them apart), but never a domain: that tie is refused naming both", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const shared = (id: string, domains: ReadonlyArray<string>) =>
        acmeFile({ id, name: id, domains: [...domains], connectors: [{ type: "cidr", cidrs: ["198.51.100.0/24"] }] })
      yield* tenantImport(repo).importTenant(shared("s-one", ["one.example"]))
      yield* tenantImport(repo).importTenant(shared("s-two", ["two.example"]))
      const clash = yield* importError(shared("s-three", ["three.example", "ONE.example"]))
      expect(clash).toMatchObject({ _tag: "TenantConflict", tenantId: "s-three", otherTenantId: "s-one" })
      expect(clash.message).toBe(
        "domain one.example already belongs to tenant s-one; s-three and s-one share the source range 198.51.100.0/24, where only the sender's domain tells them apart"
      )
    })
  )
})
