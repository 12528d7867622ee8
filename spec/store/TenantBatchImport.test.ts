import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Schema } from "effect"
import type { TenantId } from "../../src/domain/Tenant.js"
import { Tenant } from "../../src/domain/Tenant.js"
import type { TenantFileJson } from "../../src/domain/TenantFile.js"
import * as Keys from "../../src/store/Keys.js"
import { Db } from "../../src/store/Keys.js"
import { Store, StorePath } from "../../src/store/Store.js"
import { CLAIMS_DB } from "../../src/store/TenantClaims.js"
import { type BatchEntry, TenantRepo } from "../../src/store/TenantRepo.js"
import { acmeFile } from "./TenantFixtures.js"
import { tempDir } from "./TempStore.js"
import { RepoLayer } from "../actors/ActorTestLayer.js"
import { tenantImport } from "../../src/actors/TenantImport.js"

/** A tenant without passwords (no scrypt): a domain of its own, a certificate, a range. */
const tenantFile = (id: string, extra: Partial<TenantFileJson> = {}): TenantFileJson =>
  acmeFile({
    id,
    domains: [`${id}.example`],
    directory: [],
    connectors: [
      { type: "certificate", fingerprint256: Buffer.from(id.padEnd(32, "-")).toString("hex") },
      { type: "cidr", cidrs: ["10.0.0.0/8"] }
    ],
    ...extra
  })

const entries = (...files: ReadonlyArray<unknown>): ReadonlyArray<BatchEntry> => files.map((input, i) => ({ source: `line ${i + 1}`, input }))

const ids = Effect.flatMap(TenantRepo, (repo) => repo.listTenants()).pipe(Effect.map((ts) => ts.map((t) => t.id).sort()))

describe("TenantRepo.importBatch", () => {
  it.scoped("all-or-nothing writes every tenant in one go, and reports each", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      yield* tenantImport(repo).importTenant(tenantFile("old"))
      const report = yield* tenantImport(repo).importBatch(entries(tenantFile("a"), tenantFile("b"), tenantFile("old", { name: "Renamed" })), "all-or-nothing")
      expect(report).toMatchObject({ mode: "all-or-nothing", written: true, created: 2, updated: 1, failed: 0 })
      expect(report.tenants.map((t) => [t.source, t.tenantId, t.status])).toEqual([
        ["line 1", "a", "created"],
        ["line 2", "b", "created"],
        ["line 3", "old", "updated"]
      ])
      expect(yield* ids).toEqual(["a", "b", "old"])
      expect(Option.getOrThrow(yield* repo.getTenant("old" as TenantId)).name).toBe("Renamed")
    }).pipe(Effect.provide(RepoLayer))
  )

  // an all-or-nothing batch holds its writes as the bytes LMDB stores (Store.packOps); they must be the bytes a single import writes
  it.scoped("a batch stores the bytes a single import of the same file stores", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const store = yield* Store
      const file = tenantFile("packed", {
        directory: [{ mail: "ann@packed.example", displayName: "Ann Ö", title: "Chief", proxyAddresses: ["smtp:a@packed.example"], custom: { room: "1" } }]
      })
      const bytes = Effect.forEach([Db.tenants, Db.users, Db.templates, Db.rules, Db.settings, CLAIMS_DB], (db) => store.rawEntries(db, ""))
      expect((yield* tenantImport(repo).importBatch(entries(file), "all-or-nothing")).written).toBe(true)
      const batched = yield* bytes
      expect(batched[1]!.length).toBe(1)
      yield* tenantImport(repo).importTenant(file)
      expect(yield* bytes).toEqual(batched)
      const exported = yield* repo.exportTenant("packed" as TenantId)
      expect(exported.directory?.[0]).toMatchObject({ mail: "ann@packed.example", displayName: "Ann Ö", custom: { room: "1" } })
    }).pipe(Effect.provide(RepoLayer))
  )

  it.scoped("all-or-nothing writes nothing when one tenant fails, and says which and why", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      yield* tenantImport(repo).importTenant(tenantFile("owner"))
      const report = yield* tenantImport(repo).importBatch(
        entries(tenantFile("a"), tenantFile("thief", { domains: ["owner.example"] }), { id: "broken", name: "no domains" }),
        "all-or-nothing"
      )
      expect(report).toMatchObject({ written: false, created: 0, updated: 0, failed: 2 })
      expect(report.tenants[0]).toMatchObject({ tenantId: "a", status: "not-written" })
      expect(report.tenants[1]).toMatchObject({
        tenantId: "thief",
        status: "failed",
        error: "TenantConflict",
        message: expect.stringContaining("domain owner.example already belongs to tenant owner")
      })
      expect(report.tenants[2]).toMatchObject({
        source: "line 3",
        tenantId: "broken",
        status: "failed",
        error: "TenantFileInvalid",
        message: expect.stringContaining("domains")
      })
      expect(yield* ids).toEqual(["owner"])
    }).pipe(Effect.provide(RepoLayer))
  )

  it.scoped("per-tenant writes the valid tenants and reports the others", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      yield* tenantImport(repo).importTenant(tenantFile("owner"))
      const report = yield* tenantImport(repo).importBatch(
        entries(tenantFile("a"), tenantFile("thief", { domains: ["OWNER.example"] }), tenantFile("b")),
        "per-tenant"
      )
      expect(report).toMatchObject({ written: true, created: 2, failed: 1 })
      expect(report.tenants.map((t) => t.status)).toEqual(["created", "failed", "created"])
      expect(yield* ids).toEqual(["a", "b", "owner"])
    }).pipe(Effect.provide(RepoLayer))
  )

  it.scoped("a claim made twice in one batch is a conflict of the second, named as earlier in the import", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const cert = { type: "certificate" as const, fingerprint256: "cd".repeat(32) }
      const report = yield* tenantImport(repo).importBatch(
        entries(
          tenantFile("first", { domains: ["shared.example"] }),
          tenantFile("second", { domains: ["shared.example"] }),
          tenantFile("third", { connectors: [cert] }),
          tenantFile("fourth", { connectors: [cert] }),
          tenantFile("first", { name: "again" })
        ),
        "per-tenant"
      )
      expect(report.tenants.map((t) => t.status)).toEqual(["created", "failed", "created", "failed", "failed"])
      expect(report.tenants[1]).toMatchObject({
        message: expect.stringMatching(
          /^domain shared.example already belongs to tenant first \(earlier in this import\); second and first share the source range 10.0.0.0\/8/
        )
      })
      expect(report.tenants[3]).toMatchObject({ message: expect.stringContaining(`certificate ${"CD:".repeat(31)}CD already belongs to tenant third`) })
      expect(report.tenants[4]).toMatchObject({ message: "tenant first appears twice in this import" })
      expect(yield* ids).toEqual(["first", "third"])
    }).pipe(Effect.provide(RepoLayer))
  )

  it.scoped("a domain moves between tenants in one batch when its owner gives it up first", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      yield* tenantImport(repo).importTenant(tenantFile("a", { domains: ["a.example", "moving.example"] }))
      const report = yield* tenantImport(repo).importBatch(
        entries(tenantFile("a", { domains: ["a.example"] }), tenantFile("b", { domains: ["b.example", "moving.example"] })),
        "all-or-nothing"
      )
      expect(report).toMatchObject({ written: true, failed: 0 })
      // and back, the other way round: the new owner comes later, so it is still a conflict
      const back = yield* tenantImport(repo).importBatch(
        entries(tenantFile("a", { domains: ["a.example", "moving.example"] }), tenantFile("b", { domains: ["b.example"] })),
        "all-or-nothing"
      )
      expect(back.tenants[0]).toMatchObject({ status: "failed", message: expect.stringContaining("domain moving.example already belongs to tenant b") })
    }).pipe(Effect.provide(RepoLayer))
  )
})

describe("the claims index", () => {
  it.scoped("follows updates and deletes: a claim given up or a tenant removed frees it", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const store = yield* Store
      yield* tenantImport(repo).importTenant(acmeFile({ id: "acme", domains: ["acme.example", "old.example"], directory: [] }))
      const conflict = yield* Effect.flip(tenantImport(repo).importTenant(tenantFile("other", { domains: ["old.example"] })))
      expect(conflict).toMatchObject({ _tag: "TenantConflict", otherTenantId: "acme" })
      // update: acme gives old.example up
      yield* tenantImport(repo).importTenant(acmeFile({ id: "acme", domains: ["acme.example"], directory: [] }))
      expect(Option.isNone(yield* store.get(CLAIMS_DB, Schema.String, "domain/old.example"))).toBe(true)
      yield* tenantImport(repo).importTenant(tenantFile("other", { domains: ["old.example"] }))
      expect(yield* store.get(CLAIMS_DB, Schema.String, "domain/old.example")).toEqual(Option.some("other"))
      // the auth username is acme's until acme is removed
      const taken = yield* Effect.flip(tenantImport(repo).importTenant(acmeFile({ id: "third", directory: [] })))
      expect(taken.message).toContain(`auth username "acme-relay" already belongs to tenant acme`)
      expect(yield* repo.removeTenant("acme" as TenantId)).toBe(true)
      expect(Option.isNone(yield* store.get(CLAIMS_DB, Schema.String, "username/acme-relay"))).toBe(true)
      expect(Option.isNone(yield* store.get(CLAIMS_DB, Schema.String, "domain/acme.example"))).toBe(true)
      yield* tenantImport(repo).importTenant(acmeFile({ id: "third", directory: [] }))
      expect(yield* store.get(CLAIMS_DB, Schema.String, "username/acme-relay")).toEqual(Option.some("third"))
    }).pipe(Effect.provide(RepoLayer))
  )

  it.scoped("a store written before the index is indexed when the repository opens it", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const storeAt = Layer.provide(Store.Default, Layer.succeed(StorePath, dir))
      // a tenant record written the old way: no claims
      yield* Effect.flatMap(Store, (store) =>
        store.put(
          Db.tenants,
          Tenant,
          Keys.tenantKey("legacy" as TenantId),
          new Tenant({
            id: "legacy" as TenantId,
            name: "Legacy",
            domains: ["legacy.example"],
            connectors: [],
            suspended: false
          })
        )
      ).pipe(Effect.provide(storeAt), Effect.scoped)
      const conflict = yield* Effect.flatMap(TenantRepo, (repo) =>
        Effect.flip(tenantImport(repo).importTenant(tenantFile("newcomer", { domains: ["legacy.example"] })))
      ).pipe(Effect.provide(TenantRepo.DefaultWithoutDependencies.pipe(Layer.provide(storeAt))), Effect.scoped)
      expect(conflict).toMatchObject({ _tag: "TenantConflict", otherTenantId: "legacy" })
    })
  )
})
