import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as TenantActor from "../../src/actors/TenantActor.js"
import type { TenantId } from "../../src/domain/Tenant.js"
import { Db, userPrefix } from "../../src/store/Keys.js"
import { Store } from "../../src/store/Store.js"
import { TenantRepo } from "../../src/store/TenantRepo.js"
import { acmeFile } from "../store/TenantFixtures.js"
import { RepoLayer } from "./ActorTestLayer.js"
import { element, envelope, header } from "./SignatureFixtures.js"
import { tenantImport } from "../../src/actors/TenantImport.js"

const USERS = 100_000

describe("a 100,000-user directory", () => {
  it.scoped("imports one entry per key, is looked up by mail and alias case-insensitively, and stamps a user", () =>
    Effect.gen(function* () {
      const repo = yield* TenantRepo
      const store = yield* Store
      const directory = Array.from({ length: USERS }, (_, i) => ({
        mail: `User${i}@big.example`,
        displayName: `User ${i}`,
        department: `Dept ${i % 50}`,
        proxyAddresses: [`SMTP:user${i}@big.example`, `smtp:Alias${i}@Big-Alias.example`]
      }))
      const started = Date.now()
      const summary = yield* tenantImport(repo).importTenant(acmeFile({ id: "big", connectors: [], domains: ["big.example"], directory }))
      const imported = Date.now()
      expect(summary.users).toBe(USERS)
      expect((yield* store.keys(Db.users, userPrefix("big" as TenantId))).length).toBe(USERS)

      const heapBefore = process.memoryUsage().heapUsed
      const actor = yield* TenantActor.make("big" as TenantId)
      const loaded = Date.now()
      const heapAfter = process.memoryUsage().heapUsed
      for (const i of [0, 1, 4242, 54321, USERS - 1]) {
        const byMail = yield* actor.lookupUser(`USER${i}@BIG.EXAMPLE`)
        expect(Option.map(byMail, (u) => u.displayName)).toEqual(Option.some(`User ${i}`))
        const byAlias = yield* actor.lookupUser(`alias${i}@big-alias.example`)
        expect(Option.map(byAlias, (u) => u.mail)).toEqual(Option.some(`User${i}@big.example`))
      }
      expect(yield* actor.lookupUser(`user${USERS}@big.example`)).toEqual(Option.none())
      // a signature for one of them, found by an alias, rendered from its entry
      const decision = yield* actor.resolveSignature(envelope(`Alias54321@big-alias.example`, ["someone@customer.example"]), header())
      expect(element(decision, "all").text).toBe("User 54321")
      expect(yield* actor.resolveSignature(envelope(`user${USERS}@big.example`), header())).toMatchObject({
        _tag: "NoSignature",
        reason: "sender-not-in-directory"
      })
      // measured, not asserted (speed belongs to perf/)
      console.log(
        `100k directory: import ${imported - started} ms, actor load ${loaded - imported} ms, ` +
          `heap across the load +${Math.round((heapAfter - heapBefore) / 1e6)} MB (no forced GC: an upper bound)`
      )
    }).pipe(Effect.provide(RepoLayer))
  )
})
