import { describe, expect, layer } from "@effect/vitest"
import { Clock, Effect, Fiber, Option } from "effect"
import { TenantRegistry } from "../../src/actors/TenantRegistry.js"
import { DirectorySync } from "../../src/sync/DirectorySync.js"
import { APPLY_BATCH_SIZE } from "../../src/sync/SyncPass.js"
import { SyncRepo } from "../../src/sync/SyncRepo.js"
import { envelope, header } from "../actors/SignatureFixtures.js"
import { graphUser } from "./GraphStandIn.js"
import { cachedMails, graphSettings, lookup, someUser, standIn, syncTestLayer, tenantWithSources } from "./SyncHarness.js"

const DOMAIN = "contoso.example"
/** the real clock: Retry-After waits and the relay loop's pauses must pass in real time */
const live = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.withClock(effect, Clock.make())

layer(syncTestLayer())("directory sync from Microsoft Graph", (it) => {
  it.scoped("a full pass pages through /users/delta, then a delta pass applies changes and @removed entries", () =>
    Effect.gen(function* () {
      const graph = yield* standIn({ pageSize: 7 })
      for (let i = 0; i < 30; i++) graph.put(graphUser(i, DOMAIN))
      const tenantId = yield* tenantWithSources("g-full", [graphSettings(graph)], [{ mail: `stale@${DOMAIN}`, displayName: "Stale" }])
      const sync = yield* DirectorySync

      const first = yield* sync.runOnce(tenantId)
      expect(first.state).toBe("idle")
      expect(first.mode).toBe("full")
      expect(first.counts).toEqual({ seen: 30, upserted: 30, removed: 1, rejected: 0 })
      expect(graph.counts.deltaPages).toBe(5) // 30 users / 7 per page
      expect(graph.counts.token).toBe(1)
      const mails = yield* cachedMails(tenantId)
      expect(mails).toHaveLength(30)
      expect(mails).not.toContain(`stale@${DOMAIN}`)
      const u3 = someUser(yield* lookup(tenantId, `u3@${DOMAIN}`)) // a proxy address finds the user
      expect(u3).toMatchObject({ mail: `user3@${DOMAIN}`, sn: "3", title: "Engineer", telephoneNumber: "+1 555 0003", l: "Redmond" })

      // changes at the source: one edited, one removed, one added
      graph.put({ ...graphUser(4, DOMAIN), jobTitle: "Director" })
      graph.remove(graphUser(5, DOMAIN).id)
      graph.put(graphUser(100, DOMAIN))
      const pagesBefore = graph.counts.deltaPages
      const second = yield* sync.runOnce(tenantId)
      expect(second.mode).toBe("delta")
      expect(second.counts).toEqual({ seen: 2, upserted: 2, removed: 1, rejected: 0 })
      expect(graph.counts.deltaPages - pagesBefore).toBe(1)
      // a delta entry carries only what changed: the user was read whole, so nothing else was lost
      expect(someUser(yield* lookup(tenantId, `user4@${DOMAIN}`))).toMatchObject({ title: "Director", displayName: "User 4", l: "Redmond" })
      expect(Option.isNone(yield* lookup(tenantId, `user5@${DOMAIN}`))).toBe(true)
      expect(Option.isSome(yield* lookup(tenantId, `user100@${DOMAIN}`))).toBe(true)
      expect(graph.counts.token).toBe(1) // the cached token was reused

      // nothing changed: an empty delta
      const third = yield* sync.runOnce(tenantId)
      expect(third.counts).toEqual({ seen: 0, upserted: 0, removed: 0, rejected: 0 })
      expect(yield* cachedMails(tenantId)).toHaveLength(30)
    })
  )

  it.scoped("an unchanged full pass writes nothing; a user whose mail changed loses the old address", () =>
    Effect.gen(function* () {
      const graph = yield* standIn({ pageSize: 50 })
      for (let i = 0; i < 10; i++) graph.put(graphUser(i, DOMAIN))
      const tenantId = yield* tenantWithSources("g-rename", [graphSettings(graph)])
      const sync = yield* DirectorySync
      yield* sync.runOnce(tenantId)
      graph.forgetDeltaLinks() // the next pass falls back to a full one
      const again = yield* sync.runOnce(tenantId)
      expect(again.mode).toBe("full")
      expect(again.counts).toEqual({ seen: 10, upserted: 0, removed: 0, rejected: 0 })
      expect(graph.counts.gone).toBe(1)

      graph.put({ ...graphUser(2, DOMAIN), mail: `renamed@${DOMAIN}`, proxyAddresses: [`SMTP:renamed@${DOMAIN}`] })
      const delta = yield* sync.runOnce(tenantId)
      expect(delta.mode).toBe("delta")
      expect(delta.counts).toMatchObject({ upserted: 1, removed: 1 })
      expect(Option.isNone(yield* lookup(tenantId, `user2@${DOMAIN}`))).toBe(true)
      expect(someUser(yield* lookup(tenantId, `renamed@${DOMAIN}`)).displayName).toBe("User 2")
    })
  )

  it.scoped("throttling (429, 503 with Retry-After) is waited out and an expired token is replaced", () =>
    Effect.gen(function* () {
      const graph = yield* standIn({ pageSize: 5 })
      for (let i = 0; i < 12; i++) graph.put(graphUser(i, DOMAIN))
      const tenantId = yield* tenantWithSources("g-throttle", [graphSettings(graph)])
      const sync = yield* DirectorySync
      graph.inject({ status: 429, retryAfter: "1" }, { status: 503, retryAfter: "0" })
      const first = yield* sync.runOnce(tenantId)
      expect(first.state).toBe("idle")
      expect(first.counts.seen).toBe(12)
      expect(graph.counts.throttled).toBe(2)

      graph.expireTokens()
      graph.put({ ...graphUser(1, DOMAIN), department: "Sales" })
      const second = yield* sync.runOnce(tenantId)
      expect(second.state).toBe("idle")
      expect(graph.counts.unauthorized).toBe(1)
      expect(graph.counts.token).toBe(2)
      expect(someUser(yield* lookup(tenantId, `user1@${DOMAIN}`)).department).toBe("Sales")
    }).pipe(live)
  )

  it.scoped("source down or refusing credentials: the cache is kept, the status is failed with the error", () =>
    Effect.gen(function* () {
      const graph = yield* standIn({ pageSize: 4 })
      for (let i = 0; i < 9; i++) graph.put(graphUser(i, DOMAIN))
      const tenantId = yield* tenantWithSources("g-down", [graphSettings(graph)])
      const sync = yield* DirectorySync
      const ok = yield* sync.runOnce(tenantId)
      expect(ok.lastSuccessAt).toBeDefined()

      graph.forgetDeltaLinks() // a full pass this time: the one that could remove everyone
      graph.down = true
      const failed = yield* sync.runOnce(tenantId)
      expect(failed.state).toBe("failed")
      expect(failed.lastError).toMatch(/graph:entra: .*500/)
      expect(failed.lastSuccessAt).toBe(ok.lastSuccessAt)
      expect(yield* cachedMails(tenantId)).toHaveLength(9)

      const refused = yield* tenantWithSources("g-badcred", [graphSettings(graph, { clientSecret: "wrong" })], [{ mail: `keep@${DOMAIN}` }])
      const bad = yield* sync.runOnce(refused)
      expect(bad.state).toBe("failed")
      expect(bad.lastError).toMatch(/refused the client credentials.*invalid_client/)
      expect(yield* cachedMails(refused)).toEqual([`keep@${DOMAIN}`])
    })
  )

  it.scoped("a full pass failing on a later page applies nothing; the delta link is kept for the next pass", () =>
    Effect.gen(function* () {
      const graph = yield* standIn({ pageSize: 3 })
      for (let i = 0; i < 9; i++) graph.put(graphUser(i, DOMAIN))
      const tenantId = yield* tenantWithSources("g-partial", [graphSettings(graph)], [{ mail: `old@${DOMAIN}`, displayName: "Old" }])
      const sync = yield* DirectorySync
      graph.breakAfter(2) // two pages answer, the third does not
      const failed = yield* sync.runOnce(tenantId)
      expect(failed.state).toBe("failed")
      expect(failed.lastError).toMatch(/500/)
      expect(failed.counts.seen).toBe(6)
      expect(yield* cachedMails(tenantId)).toEqual([`old@${DOMAIN}`])
      expect(Option.isNone(yield* (yield* SyncRepo).getCursor(tenantId, "entra"))).toBe(true)

      graph.down = false
      const ok = yield* sync.runOnce(tenantId)
      expect(ok.state).toBe("idle")
      expect(ok.mode).toBe("full")
      expect(ok.lastError).toBeUndefined()
      expect(yield* cachedMails(tenantId)).toHaveLength(9)
      expect(Option.isSome(yield* (yield* SyncRepo).getCursor(tenantId, "entra"))).toBe(true)
    })
  )

  it.scoped("a relayed message during a sync sees each sender's entry either old or new", () =>
    Effect.gen(function* () {
      // more than two apply batches (APPLY_BATCH_SIZE), so the relay reads between batches too
      const USERS = 2 * APPLY_BATCH_SIZE + 1_000
      const graph = yield* standIn({ pageSize: 999 })
      for (let i = 0; i < USERS; i++) graph.put(graphUser(i, DOMAIN))
      const tenantId = yield* tenantWithSources("g-relay", [graphSettings(graph)])
      const sync = yield* DirectorySync
      yield* sync.runOnce(tenantId)
      for (let i = 0; i < USERS; i++) graph.put({ ...graphUser(i, DOMAIN), jobTitle: "New title", displayName: `New ${i}` })
      graph.forgetDeltaLinks()
      const registry = yield* TenantRegistry
      const actor = yield* registry.actor(tenantId)
      const pass = yield* Effect.fork(sync.runOnce(tenantId))
      const seen = new Set<string>()
      let resolves = 0
      // resolve senders until the pass finished (bounded)
      for (let n = 0; n < 20_000 && pass.unsafePoll() === null; n++) {
        const i = n % USERS
        const user = someUser(yield* actor.lookupUser(`user${i}@${DOMAIN}`))
        // both fields change together: a half-written entry would pair an old one with a new one
        seen.add(`${user.displayName === `New ${i}`}/${user.title === "New title"}`)
        yield* actor.resolveSignature(envelope(`user${i}@${DOMAIN}`, [`x@${DOMAIN}`]), header())
        resolves++
        yield* Effect.sleep("1 millis") // lets the pass's I/O and batches in
      }
      const result = yield* Fiber.join(pass)
      expect(result.state).toBe("idle")
      expect(result.counts.upserted).toBe(USERS)
      expect(resolves).toBeGreaterThan(0)
      expect(Array.from(seen).every((s) => s === "true/true" || s === "false/false")).toBe(true)
      expect(someUser(yield* lookup(tenantId, `user${USERS - 1}@${DOMAIN}`)).title).toBe("New title")
    }).pipe(live)
  )

  it.scoped("group membership: names into memberOf; a group filter keeps members only and a delta removes leavers", () =>
    Effect.gen(function* () {
      const graph = yield* standIn({ pageSize: 10 })
      for (let i = 0; i < 6; i++) graph.put(graphUser(i, DOMAIN))
      const sales = { id: "g-sales", displayName: "Sales" }
      const all = { id: "g-all", displayName: "Everyone" }
      for (let i = 0; i < 6; i++) graph.groups.set(graphUser(i, DOMAIN).id, i % 2 === 0 ? [all, sales] : [all])
      const tenantId = yield* tenantWithSources("g-groups", [graphSettings(graph, { includeGroups: true, groupFilter: "g-sales" })])
      const sync = yield* DirectorySync
      const first = yield* sync.runOnce(tenantId)
      expect(first.state).toBe("idle")
      expect(yield* cachedMails(tenantId)).toEqual([0, 2, 4].map((i) => `user${i}@${DOMAIN}`))
      expect(someUser(yield* lookup(tenantId, `user2@${DOMAIN}`)).memberOf).toEqual(["Everyone", "Sales"])

      graph.groups.set(graphUser(2, DOMAIN).id, [all])
      graph.put({ ...graphUser(2, DOMAIN), jobTitle: "Moved" })
      const second = yield* sync.runOnce(tenantId)
      expect(second.counts.removed).toBe(1)
      expect(yield* cachedMails(tenantId)).toEqual([0, 4].map((i) => `user${i}@${DOMAIN}`))
    })
  )

  it.scoped("sync now joins a running pass instead of starting a second one; a tenant without sources is refused", () =>
    Effect.gen(function* () {
      const graph = yield* standIn({ pageSize: 2 })
      for (let i = 0; i < 6; i++) graph.put(graphUser(i, DOMAIN))
      const tenantId = yield* tenantWithSources("g-now", [graphSettings(graph)])
      const sync = yield* DirectorySync
      graph.inject({ status: 429, retryAfter: "1" })
      const started = yield* sync.syncNow(tenantId)
      expect(started.state).toBe("running")
      const again = yield* sync.syncNow(tenantId)
      expect(again.state).toBe("running")
      const running = yield* sync.running(tenantId)
      const final = yield* Option.getOrThrow(running)
      expect(final.state).toBe("idle")
      expect(graph.counts.token).toBe(1)
      expect(graph.counts.deltaPages).toBe(3) // 6 users, 2 per page: one pass only
      expect(graph.counts.throttled).toBe(1)

      const none = yield* tenantWithSources("g-none", [])
      const refused = yield* Effect.flip(sync.syncNow(none))
      expect(refused._tag).toBe("NoSourceConfigured")
      expect(refused.message).toContain("PUT /tenants/g-none/directory/sources")
    }).pipe(live)
  )

  describe("credentials at rest", () => {
    it.scoped("the stored bytes do not contain the secret, and another tenant's key material does not decrypt it", () =>
      Effect.gen(function* () {
        const graph = yield* standIn()
        const secret = "a-very-recognisable-client-secret-9876"
        const tenantId = yield* tenantWithSources("g-secret", [graphSettings(graph, { clientSecret: secret })])
        const repo = yield* SyncRepo
        const entries = yield* repo.rawEntries(tenantId)
        expect(entries.length).toBeGreaterThan(0)
        for (const e of entries) {
          const bytes = Buffer.from(e.bytes)
          expect(bytes.includes(Buffer.from(secret))).toBe(false)
          expect(bytes.includes(Buffer.from(secret, "utf16le"))).toBe(false)
        }
        const decrypted = Option.getOrThrow(yield* repo.getSettings(tenantId)).sources[0]
        expect(decrypted._tag === "graph" && decrypted.clientSecret).toBe(secret)
      })
    )
  })
})
