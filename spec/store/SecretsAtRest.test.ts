/**
 * Issue 13 item 14: the downstream SMTP password is sealed at rest with the
 * same cipher as sync credentials (src/store/SecretCipher.ts), plaintext
 * records written before keep working and are sealed by the start-up pass,
 * and a rotated-out key still opens what it sealed.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { randomBytes } from "node:crypto"
import { encodeTenantFile } from "../../src/domain/TenantFile.js"
import { Tenant, type TenantId } from "../../src/domain/Tenant.js"
import { Db, TENANT_KEY_ROOT, tenantKey } from "../../src/store/Keys.js"
import { SecretKeys } from "../../src/store/SecretCipher.js"
import { Store } from "../../src/store/Store.js"
import { StorePath } from "../../src/store/Store.js"
import { TenantRepo } from "../../src/store/TenantRepo.js"
import { GraphSourceSettings, TenantSyncSettings } from "../../src/domain/SyncSettings.js"
import { SyncRepo } from "../../src/sync/SyncRepo.js"
import { acmeFile } from "./TenantFixtures.js"
import { tempDir } from "./TempStore.js"
import { tenantImport } from "../../src/actors/TenantImport.js"

const PASSWORD = "down-relay-Pa55word"
const withAuth = (overrides: Record<string, unknown> = {}) =>
  acmeFile({ downstream: { host: "127.0.0.1", port: 2525, auth: { user: "relay", pass: PASSWORD } }, ...overrides })

const acme = "acme" as TenantId

/** Store and TenantRepo on `dir`, with these keys; closed when `effect` ends. */
const withRepo = <A, E>(dir: string, keys: { current: Buffer; previous?: ReadonlyArray<Buffer> }, effect: Effect.Effect<A, E, TenantRepo | Store>) =>
  effect.pipe(
    Effect.provide(
      Layer.mergeAll(TenantRepo.Default, Store.Default).pipe(
        Layer.provide(Layer.succeed(StorePath, dir)),
        Layer.provide(SecretKeys.layer(keys.current, keys.previous ?? []))
      )
    ),
    Effect.scoped
  )

/** every byte of the tenants database, as text (msgpack keeps strings as UTF-8) */
const rawTenants = Effect.gen(function* () {
  const store = yield* Store
  const entries = yield* store.rawEntries(Db.tenants, TENANT_KEY_ROOT)
  return entries.map((e) => Buffer.from(e.bytes).toString("latin1")).join("\n")
})

const downstreamPass = Effect.gen(function* () {
  const tenant = Option.getOrThrow(yield* (yield* TenantRepo).getTenant(acme))
  return tenant.downstream?.auth?.pass
})

describe("secrets at rest", () => {
  it.scoped("the downstream password is not in the stored bytes, and reads back in plaintext", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const key = randomBytes(32)
      yield* withRepo(
        dir,
        { current: key },
        Effect.gen(function* () {
          yield* tenantImport(yield* TenantRepo).importTenant(withAuth())
          const raw = yield* rawTenants
          expect(raw).not.toContain(PASSWORD)
          expect(raw).toContain("aesgcm:v1:")
          expect(yield* downstreamPass).toBe(PASSWORD)
          // re-importing the same file writes the same bytes (the nonce is synthetic)
          yield* tenantImport(yield* TenantRepo).importTenant(withAuth())
          expect(yield* rawTenants).toBe(raw)
        })
      )
    })
  )

  it.scoped("an export carries the sealed password; importing it back changes no byte; another tenant cannot use it", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      yield* withRepo(
        dir,
        { current: randomBytes(32) },
        Effect.gen(function* () {
          const repo = yield* TenantRepo
          yield* tenantImport(repo).importTenant(withAuth())
          const before = yield* rawTenants
          const json = JSON.parse(JSON.stringify(yield* encodeTenantFile(yield* repo.exportTenant(acme))))
          expect(JSON.stringify(json)).not.toContain(PASSWORD)
          expect(json.downstream.auth.pass).toMatch(/^aesgcm:v1:/)
          yield* tenantImport(repo).importTenant(json)
          expect(yield* rawTenants).toBe(before)
          const moved = yield* Effect.flip(tenantImport(repo).importTenant({ ...json, id: "other", name: "Other", domains: ["other.example"], connectors: [] }))
          expect(moved._tag).toBe("TenantFileInvalid")
          expect(moved.message).toContain("give the password in plaintext")
        })
      )
    })
  )

  it.scoped("a plaintext record from before is read, and the start-up pass seals it", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      yield* withRepo(
        dir,
        { current: randomBytes(32) },
        Effect.gen(function* () {
          const repo = yield* TenantRepo
          yield* tenantImport(repo).importTenant(withAuth())
          // what an older version wrote: the plain schema, password as given
          const legacy = Option.getOrThrow(yield* repo.getTenant(acme))
          yield* (yield* Store).put(Db.tenants, Tenant, tenantKey(acme), legacy)
          expect(yield* rawTenants).toContain(PASSWORD)
          expect(yield* downstreamPass).toBe(PASSWORD)
          expect(yield* repo.resealSecrets()).toEqual(["acme"])
          expect(yield* rawTenants).not.toContain(PASSWORD)
          expect(yield* downstreamPass).toBe(PASSWORD)
          // nothing left to do
          expect(yield* repo.resealSecrets()).toEqual([])
        })
      )
    })
  )

  it.scoped("key rotation: a previous key still opens, the start-up pass re-seals with the new key, then the old key can go", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const oldKey = randomBytes(32)
      const newKey = randomBytes(32)
      yield* withRepo(
        dir,
        { current: oldKey },
        Effect.flatMap(TenantRepo, (repo) => tenantImport(repo).importTenant(withAuth()))
      )
      // the new key alone cannot open it: the read fails and says what to do
      const refused = yield* withRepo(dir, { current: newKey }, Effect.flip(downstreamPass))
      expect(String(refused)).toContain("sync.previousCredentialKeys")
      const sealedByOld = yield* withRepo(
        dir,
        { current: newKey, previous: [oldKey] },
        Effect.gen(function* () {
          const before = yield* rawTenants
          expect(yield* downstreamPass).toBe(PASSWORD)
          expect(yield* (yield* TenantRepo).resealSecrets()).toEqual(["acme"])
          expect(yield* rawTenants).not.toBe(before)
          return before
        })
      )
      expect(sealedByOld).toContain("aesgcm:v1:")
      yield* withRepo(
        dir,
        { current: newKey },
        Effect.gen(function* () {
          expect(yield* downstreamPass).toBe(PASSWORD)
          expect(yield* rawTenants).not.toContain(PASSWORD)
        })
      )
    })
  )

  it.scoped("sync credentials use the same cipher and rotate the same way", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const oldKey = randomBytes(32)
      const newKey = randomBytes(32)
      const SECRET = "graph-client-Secret-42"
      const source = GraphSourceSettings.make({ name: "entra", tokenUrl: "https://login.example/token", clientId: "c", clientSecret: SECRET })
      const withSync = <A, E>(keys: { current: Buffer; previous?: ReadonlyArray<Buffer> }, effect: Effect.Effect<A, E, SyncRepo>) =>
        effect.pipe(
          Effect.provide(
            SyncRepo.Default.pipe(Layer.provide(Layer.succeed(StorePath, dir)), Layer.provide(SecretKeys.layer(keys.current, keys.previous ?? [])))
          ),
          Effect.scoped
        )
      const raw = Effect.flatMap(SyncRepo, (sync) => sync.rawEntries("acme")).pipe(
        Effect.map((entries) => entries.map((e) => Buffer.from(e.bytes).toString("latin1")).join(""))
      )
      const secret = Effect.flatMap(SyncRepo, (sync) => sync.getSettings("acme")).pipe(
        Effect.map((s) => (Option.getOrThrow(s).sources[0] as GraphSourceSettings).clientSecret)
      )
      yield* withSync(
        { current: oldKey },
        Effect.gen(function* () {
          yield* (yield* SyncRepo).putSettings("acme", TenantSyncSettings.make({ sources: [source] }))
          expect(yield* raw).not.toContain(SECRET)
        })
      )
      yield* withSync(
        { current: newKey, previous: [oldKey] },
        Effect.gen(function* () {
          expect(yield* secret).toBe(SECRET)
          expect(yield* (yield* SyncRepo).resealSecrets("acme")).toBe(true)
          expect(yield* (yield* SyncRepo).resealSecrets("acme")).toBe(false)
        })
      )
      yield* withSync(
        { current: newKey },
        Effect.gen(function* () {
          expect(yield* secret).toBe(SECRET)
          expect(yield* raw).not.toContain(SECRET)
        })
      )
    })
  )
})
