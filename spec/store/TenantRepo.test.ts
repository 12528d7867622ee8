import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { encodeTenantFile, type TenantFileJson } from "../../src/domain/TenantFile.js"
import type { TenantId } from "../../src/domain/Tenant.js"
import { Db, tenantPrefix, userPrefix } from "../../src/store/Keys.js"
import { DirectoryUser } from "../../src/domain/Directory.js"
import * as PasswordHash from "../../src/store/PasswordHash.js"
import { Store } from "../../src/store/Store.js"
import { TenantRepo } from "../../src/store/TenantRepo.js"
import { acmeFile } from "./TenantFixtures.js"
import { TempStorePath } from "./TempStore.js"
import { tenantImport } from "../../src/actors/TenantImport.js"

const TestLayer = Layer.mergeAll(TenantRepo.Default, Store.Default).pipe(Layer.provide(TempStorePath))

/** Every stored byte of a tenant, across all entity databases. */
const snapshot = (id: string) =>
  Effect.gen(function* () {
    const store = yield* Store
    const out: Record<string, string> = {}
    for (const db of Object.values(Db)) {
      for (const { key, bytes } of yield* store.rawEntries(db, tenantPrefix(id as TenantId))) {
        out[`${db}:${key}`] = Buffer.from(bytes).toString("hex")
      }
    }
    return out
  })

const importError = (input: unknown) => Effect.flatMap(TenantRepo, (repo) => Effect.flip(tenantImport(repo).importTenant(input)))

layer(TestLayer)("TenantRepo", (it) => {
  it.effect("imports a file: password stored only as a hash, connectors converted, domains lowercased", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const summary = yield* tenantImport(repo).importTenant(acmeFile())
      expect(summary).toEqual({ tenantId: "acme", created: true, templates: 1, rules: 1, users: 2, removed: [] })
      const tenant = Option.getOrThrow(yield* repo.getTenant("acme" as TenantId))
      expect(tenant.domains).toEqual(["acme.example", "acme-mail.example"])
      expect(tenant.connectors.map((c) => c._tag)).toEqual(["auth", "certificate", "cidr"])
      const auth = tenant.connectors[0]
      if (auth._tag !== "auth") throw new Error("expected auth")
      expect(JSON.stringify(yield* snapshot("acme"))).not.toContain(Buffer.from("s3cret-relay-password").toString("hex"))
      expect(yield* PasswordHash.verify("s3cret-relay-password", auth.passwordHash)).toBe(true)
      const cert = tenant.connectors[1]
      expect(cert._tag === "certificate" && cert.fingerprint256).toBe(Array(32).fill("AB").join(":"))
      expect((yield* repo.listTenants()).map((t) => t.id)).toContain("acme")
    })
  )

  it.effect("re-importing the same file changes no stored byte", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      yield* tenantImport(repo).importTenant(acmeFile())
      const before = yield* snapshot("acme")
      const summary = yield* tenantImport(repo).importTenant(acmeFile())
      expect(summary.created).toBe(false)
      expect(yield* snapshot("acme")).toEqual(before)
    })
  )

  it.effect("a changed password gets a new hash", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      yield* tenantImport(repo).importTenant(acmeFile())
      const before = yield* snapshot("acme")
      const file = acmeFile()
      yield* tenantImport(repo).importTenant({
        ...file,
        connectors: [{ type: "auth", username: "acme-relay", password: "another-one" }, ...file.connectors.slice(1)]
      })
      const auth = Option.getOrThrow(yield* repo.getTenant("acme" as TenantId)).connectors[0]
      expect(auth._tag === "auth" && (yield* PasswordHash.verify("another-one", auth.passwordHash))).toBe(true)
      expect((yield* snapshot("acme"))["tenants:tenant/acme/tenant"]).not.toBe(before["tenants:tenant/acme/tenant"])
    })
  )

  it.effect("export round-trips: hashes only, and importing the export changes nothing", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      yield* tenantImport(repo).importTenant(acmeFile())
      const before = yield* snapshot("acme")
      const json = JSON.parse(JSON.stringify(yield* encodeTenantFile(yield* repo.exportTenant("acme" as TenantId))))
      expect(JSON.stringify(json)).not.toContain("s3cret")
      expect(json.connectors[0]).toEqual({ type: "auth", username: "acme-relay", passwordHash: expect.stringMatching(/^scrypt\$/) })
      expect(json.directory.map((u: { mail: string }) => u.mail)).toEqual(["Alice@acme.example", "bob@acme.example"])
      yield* tenantImport(repo).importTenant(json)
      expect(yield* snapshot("acme")).toEqual(before)
    })
  )

  it.effect("an import replaces templates, rules and directory wholesale", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      yield* tenantImport(repo).importTenant(acmeFile())
      yield* tenantImport(repo).importTenant(
        acmeFile({
          templates: [{ id: "new", name: "New", html: "<p>new</p>" }],
          rules: [{ id: "r2", name: "R2", templateId: "new" }],
          directory: [{ mail: "carol@acme.example" }]
        })
      )
      const keys = Object.keys(yield* snapshot("acme")).sort()
      expect(keys).toEqual([
        "rules:tenant/acme/rules",
        "settings:tenant/acme/settings",
        "templates:tenant/acme/template/new",
        "tenants:tenant/acme/tenant",
        "users:tenant/acme/user/carol@acme.example"
      ])
      expect((yield* repo.templates("acme" as TenantId)).map((t) => t.id)).toEqual(["new"])
      expect((yield* repo.rules("acme" as TenantId)).map((r) => r.id)).toEqual(["r2"])
    })
  )

  it.effect("bad files are refused with the wrong key named", () =>
    Effect.gen(function* () {
      const file = acmeFile()
      const missingPassword = yield* importError({ ...file, connectors: [{ type: "auth", username: "x" }] })
      expect(missingPassword._tag).toBe("TenantFileInvalid")
      expect(missingPassword.message).toBe("connectors[0].password: an auth connector needs exactly one of password or passwordHash")

      const typo = yield* importError({ ...file, conectors: [] })
      expect(typo.message).toMatch(/^conectors: is unexpected/)

      const badDomain = yield* importError({ ...file, domains: ["acme.example", "not a domain"] })
      expect(badDomain.message).toBe("domains[1]: a domain name such as example.com")

      const badCidr = yield* importError({ ...file, connectors: [{ type: "cidr", cidrs: ["10.0.0.0/33"] }] })
      expect(badCidr.message).toMatch(/^connectors\[0\]\.cidrs\[0\]: "10\.0\.0\.0\/33" is not a CIDR/)

      const danglingRule = yield* importError({ ...file, rules: [{ id: "r", name: "R", templateId: "nope" }] })
      expect(danglingRule.message).toBe('rules[0].templateId: no template "nope" in this file')

      const badUser = yield* importError({ ...file, directory: [{ mail: "alice@acme.example" }, { mail: "nobody" }] })
      // one line: the noise of the optional field's "undefined" alternative (which would print the whole directory) is dropped
      expect(badUser.message).toBe("directory[1].mail: mail must be an address like a@example.com")

      const dupUser = yield* importError({ ...file, directory: [{ mail: "a@acme.example" }, { mail: "A@acme.example" }] })
      expect(dupUser.message).toBe('directory[1]: duplicate mail "a@acme.example"')

      const badId = yield* importError({ ...file, id: "Acme Corp" })
      expect(badId.message).toMatch(/^id: a tenant id is/)
    })
  )

  it.effect("a domain, auth username or certificate owned by another tenant is a conflict", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      yield* tenantImport(repo).importTenant(acmeFile())
      const eu = (connectors: TenantFileJson["connectors"], domains = ["acme-eu.example"]) =>
        Effect.flip(tenantImport(repo).importTenant(acmeFile({ id: "acme-eu", domains, connectors })))
      const clash = yield* eu([{ type: "auth", username: "acme-relay", password: "x" }])
      expect(clash).toMatchObject({ _tag: "TenantConflict", otherTenantId: "acme" })
      expect(clash.message).toContain("acme-relay")
      const certClash = yield* eu([{ type: "certificate", fingerprint256: "AB:".repeat(31) + "AB" }])
      expect(certClash).toMatchObject({ _tag: "TenantConflict", otherTenantId: "acme" })
      const domainClash = yield* eu([], ["acme-eu.example", "ACME.example"])
      expect(domainClash).toMatchObject({ _tag: "TenantConflict", otherTenantId: "acme" })
      expect(domainClash.message).toBe("domain acme.example already belongs to tenant acme")
      expect(Option.isNone(yield* repo.getTenant("acme-eu" as TenantId))).toBe(true)
    })
  )

  it.effect("directory syncs: a full replace and a delta, each reaching only this tenant", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const store = yield* Store
      yield* tenantImport(repo).importTenant(acmeFile())
      yield* tenantImport(repo).importTenant(acmeFile({ id: "acme2", connectors: [] }))
      const other = yield* snapshot("acme2")
      const mails = () => store.keys(Db.users, userPrefix("acme" as TenantId))
      yield* repo.replaceDirectory("acme" as TenantId, [new DirectoryUser({ mail: "Dan@acme.example" }), new DirectoryUser({ mail: "eve@acme.example" })])
      expect(yield* mails()).toEqual(["tenant/acme/user/dan@acme.example", "tenant/acme/user/eve@acme.example"])
      yield* repo.applyDirectoryDelta("acme" as TenantId, { upsert: [new DirectoryUser({ mail: "fay@acme.example" })], remove: ["DAN@acme.example"] })
      expect(yield* mails()).toEqual(["tenant/acme/user/eve@acme.example", "tenant/acme/user/fay@acme.example"])
      expect(yield* snapshot("acme2")).toEqual(other)
      const missing = yield* Effect.flip(repo.replaceDirectory("nobody" as TenantId, []))
      expect(missing._tag).toBe("TenantNotFound")
    })
  )

  it.effect("removing a tenant leaves a tenant whose id extends it untouched", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      yield* tenantImport(repo).importTenant(acmeFile({ id: "gamma", connectors: [] }))
      yield* tenantImport(repo).importTenant(acmeFile({ id: "gamma2", connectors: [] }))
      const other = yield* snapshot("gamma2")
      expect(yield* repo.removeTenant("gamma" as TenantId)).toBe(true)
      expect(yield* snapshot("gamma")).toEqual({})
      expect(yield* snapshot("gamma2")).toEqual(other)
      const missing = yield* Effect.flip(repo.exportTenant("gamma" as TenantId))
      expect(missing._tag).toBe("TenantNotFound")
    })
  )
})
