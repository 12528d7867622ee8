import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as TenantActor from "../../src/actors/TenantActor.js"
import { DirectoryUser } from "../../src/domain/Directory.js"
import type { TenantId } from "../../src/domain/Tenant.js"
import { makePhotoRepo } from "../../src/store/PhotoRepo.js"
import { TenantRepo } from "../../src/store/TenantRepo.js"
import { testPng } from "../support/Images.js"
import { acmeFile } from "../store/TenantFixtures.js"
import { RepoLayer } from "./ActorTestLayer.js"
import { tenantImport } from "../../src/actors/TenantImport.js"
import { normalisePhoto } from "../../src/images/PhotoNormaliser.js"

const acme = "acme" as TenantId

describe("directory photo bytes and the tenant actor", () => {
  it.scoped("storing a photo reloads nothing; the entry naming it is patched in, and the actor reads the bytes from the store", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      yield* tenantImport(repo).importTenant(acmeFile())
      const actor = yield* TenantActor.make(acme)
      const photos = yield* makePhotoRepo
      const photo = yield* photos.save(acme, yield* normalisePhoto(testPng(80, 80)), "spec")
      // the read after a commit catches up with the store: no reload for a photo blob
      expect(yield* actor.lookupUser("nobody@acme.example")).toEqual(Option.none())
      yield* actor.applyDirectoryDelta({ upsert: [new DirectoryUser({ mail: "dora@acme.example", displayName: "Dora", photo })], remove: [] })
      expect(Option.map(yield* actor.lookupUser("dora@acme.example"), (u) => u.photo?.sha256)).toEqual(Option.some(photo.sha256))
      expect(yield* actor.loads).toBe(1)
      expect(photos.bytesSync(acme, photo.sha256)?.length).toBe(photo.bytes)
      // a blob no entry names goes with the sweep; a named one stays
      const orphan = yield* photos.save(acme, yield* normalisePhoto(testPng(30, 30, "#e01b24")), "spec")
      expect(yield* photos.sweep(acme)).toBe(1)
      expect(photos.bytesSync(acme, orphan.sha256)).toBeUndefined()
      expect(photos.bytesSync(acme, photo.sha256)).toBeDefined()
      expect(yield* actor.loads).toBe(1)
    }).pipe(Effect.provide(RepoLayer))
  )
})
