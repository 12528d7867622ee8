import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import { TenantRegistry } from "../../src/actors/TenantRegistry.js"
import { GENERATED_PASSWORD_BYTES } from "../../src/admin/tenants/ConnectorCredentials.js"
import type { TenantId } from "../../src/domain/Tenant.js"
import { decodeTenantFile, encodeTenantFile } from "../../src/domain/TenantFile.js"
import { TenantRepo } from "../../src/store/TenantRepo.js"
import { adminTestLayer, createPayload, operatorClient, operatorHeaders, rawRequest, tenantBody, updatePayload } from "./AdminHarness.js"

const tid = (s: string) => s as TenantId

const account = {
  firstName: "Ada",
  lastName: "Lovelace",
  fullName: "Ada Lovelace",
  company: "Analytical Engines Ltd",
  telephone: "+44 (0)20 7946-0958 ext. 12",
  email: "billing@analytical.example",
  addressLine1: "12 Babbage Street",
  addressLine2: "Floor 3",
  city: "London",
  postcode: "EC1A 1BB",
  country: "United Kingdom"
}

layer(adminTestLayer())("admin API: tenant account data", (it) => {
  it.effect("create stores the account; get, update and the tenant file carry it", () =>
    Effect.gen(function* () {
      const client = yield* operatorClient
      const saved = yield* client.tenants.create({
        payload: createPayload(tenantBody("t-acct", "198.51.120.0/24", { account: { ...account, city: "  London  " } }))
      })
      // values are trimmed on the way in
      expect(saved.tenant.account).toEqual(account)
      expect((yield* client.tenants.get({ path: { tenantId: "t-acct" } })).account).toEqual(account)

      const repo = yield* TenantRepo
      const file = yield* repo.exportTenant(tid("t-acct"))
      expect(file.account).toEqual(account)
      // the exported file imports again as it is
      const again = yield* decodeTenantFile(yield* encodeTenantFile(file))
      expect(again.account).toEqual(account)

      // update replaces the whole account struct
      const updated = yield* client.tenants.update({ path: { tenantId: "t-acct" }, payload: updatePayload({ account: { company: "New Co" } }) })
      expect(updated.tenant.account).toEqual({ company: "New Co" })
      // a tenant without account data shows none
      const plain = yield* client.tenants.create({ payload: createPayload(tenantBody("t-noacct", "198.51.121.0/24")) })
      expect(plain.tenant.account).toBeUndefined()
    })
  )

  it.effect("bad account values are 400 naming the field, and write nothing", () =>
    Effect.gen(function* () {
      const headers = yield* operatorHeaders
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ email: "not-an-address" }, "account.email"],
        [{ email: "a@b@c.example" }, "account.email"],
        [{ telephone: "<b>0800</b>" }, "account.telephone"],
        [{ telephone: "call me" }, "account.telephone"],
        [{ telephone: "12" }, "account.telephone"],
        [{ company: "x".repeat(201) }, "account.company"],
        [{ fullName: "<script>alert(1)</script>" }, "account.fullName"],
        [{ addressLine1: "line\nbreak" }, "account.addressLine1"],
        [{ postcode: "1".repeat(21) }, "account.postcode"],
        [{ firstname: "typo" }, "account.firstname"]
      ]
      for (const [bad, field] of cases) {
        const res = yield* rawRequest("POST", "/tenants", { headers, json: tenantBody("t-badacct", "198.51.122.0/24", { account: bad }) })
        expect(res.status, JSON.stringify(bad)).toBe(400)
        expect(res.text, JSON.stringify(bad)).toContain(JSON.stringify(field.split(".")))
      }
      const repo = yield* TenantRepo
      expect(Option.isNone(yield* repo.getTenant(tid("t-badacct")))).toBe(true)
    })
  )
})

layer(adminTestLayer())("admin API: generated connector credentials", (it) => {
  it.effect("an auth connector without a password gets one generated, shown once, stored as a hash, and it binds", () =>
    Effect.gen(function* () {
      const client = yield* operatorClient
      const registry = yield* TenantRepo.pipe(Effect.zipRight(TenantRegistry))
      const body = tenantBody("t-gen", "198.51.123.0/24", { connectors: [{ type: "auth", username: "t-gen-relay" }] })
      const saved = yield* client.tenants.create({ payload: createPayload(body) })
      expect(saved.credentials?.length).toBe(1)
      const { username, password } = saved.credentials![0]!
      expect(username).toBe("t-gen-relay")
      expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/)
      expect(Buffer.from(password, "base64url").length).toBe(GENERATED_PASSWORD_BYTES)
      expect(yield* registry.bindByCredentials("t-gen-relay", password)).toEqual(Option.some(tid("t-gen")))

      // never again: not on get, not in the store, not in the file
      const get = yield* client.tenants.get({ path: { tenantId: "t-gen" } })
      expect(JSON.stringify(get)).not.toContain(password)
      const repo = yield* TenantRepo
      const file = yield* repo.exportTenant(tid("t-gen"))
      expect(JSON.stringify(yield* encodeTenantFile(file))).not.toContain(password)
      expect(file.connectors[0]).toMatchObject({ type: "auth", passwordHash: expect.stringMatching(/^scrypt\$/) })
      // the audit entry names the connector, not the password
      const audit = yield* client.audit.list({ path: { tenantId: "t-gen" }, urlParams: {} })
      expect(audit.entries[0]!.detail).toContain("t-gen-relay")
      expect(JSON.stringify(audit)).not.toContain(password)

      // a PATCH repeating the username without a password keeps the stored one; a new username gets its own
      const patched = yield* client.tenants.update({
        path: { tenantId: "t-gen" },
        payload: updatePayload({
          connectors: [
            { type: "auth", username: "t-gen-relay" },
            { type: "auth", username: "t-gen-second" }
          ]
        })
      })
      expect(patched.credentials?.map((c) => c.username)).toEqual(["t-gen-second"])
      const second = patched.credentials![0]!.password
      expect(second).not.toBe(password)
      expect(yield* registry.bindByCredentials("t-gen-relay", password)).toEqual(Option.some(tid("t-gen")))
      expect(yield* registry.bindByCredentials("t-gen-second", second)).toEqual(Option.some(tid("t-gen")))

      // an update that sends no connectors generates nothing
      const renamed = yield* client.tenants.update({ path: { tenantId: "t-gen" }, payload: updatePayload({ name: "Renamed" }) })
      expect(renamed.credentials).toBeUndefined()
    })
  )

  it.effect("password and passwordHash together are still refused", () =>
    Effect.gen(function* () {
      const headers = yield* operatorHeaders
      const both = tenantBody("t-both", "198.51.124.0/24", {
        connectors: [{ type: "auth", username: "u", password: "a-password", passwordHash: "scrypt$16384$8$1$c2FsdA==$aGFzaA==" }]
      })
      const res = yield* rawRequest("POST", "/tenants", { headers, json: both })
      expect(res.status).toBe(400)
      expect(res.text).toContain("not both")
    })
  )
})

describe("tenant file (CLI) keeps requiring a password or hash", () => {
  it("a connector with neither is refused by decodeTenantFile", async () => {
    const result = await Effect.runPromise(
      Effect.either(
        decodeTenantFile({
          id: "cli",
          name: "Cli",
          domains: ["cli.example"],
          connectors: [{ type: "auth", username: "u" }]
        })
      )
    )
    expect(result._tag).toBe("Left")
  })
})
