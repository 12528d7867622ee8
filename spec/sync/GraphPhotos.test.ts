import { expect, layer } from "@effect/vitest"
import { Clock, Effect, Option, Schema } from "effect"
import sharp from "sharp"
import type { TenantId } from "../../src/domain/Tenant.js"
import * as Keys from "../../src/store/Keys.js"
import { Db } from "../../src/store/Keys.js"
import { Store } from "../../src/store/Store.js"
import { DirectorySync } from "../../src/sync/DirectorySync.js"
import { testPng } from "../support/Images.js"
import { graphUser } from "./GraphStandIn.js"
import { graphSettings, lookup, someUser, standIn, syncTestLayer, tenantWithSources } from "./SyncHarness.js"

/** Graph profile photos in the sync pass (issue 17 item 3): read once, skipped while their mediaEtag stays. */

const DOMAIN = "contoso.example"
const live = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.withClock(effect, Clock.make())

const photoBlobs = (tenantId: TenantId) => Effect.flatMap(Store, (store) => store.keys(Db.photoBlobs, Keys.photoBlobPrefix(tenantId)))

const storedPhoto = (tenantId: TenantId, sha256: string) =>
  Effect.flatMap(Store, (store) => store.get(Db.photoBlobs, Schema.Uint8ArrayFromSelf, Keys.photoBlobKey(tenantId, sha256))).pipe(Effect.map(Option.getOrThrow))

layer(syncTestLayer())("directory photos from Microsoft Graph", (it) => {
  it.scoped("fetched in the sync pass, normalised to 96×96 JPEG, and not fetched again while unchanged", () =>
    live(
      Effect.gen(function* () {
        const graph = yield* standIn({ pageSize: 50 })
        for (let i = 0; i < 4; i++) graph.put(graphUser(i, DOMAIN))
        const jpeg = yield* Effect.promise(() =>
          sharp(testPng(300, 400, "#26a269"))
            .jpeg()
            .toBuffer()
        )
        graph.setPhoto(graphUser(0, DOMAIN).id, testPng(200, 200, "#1a5fb4"))
        graph.setPhoto(graphUser(1, DOMAIN).id, jpeg)
        // user 2 has none; user 3's "photo" is markup, refused without failing the pass
        graph.setPhoto(graphUser(3, DOMAIN).id, Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'))
        const tenantId = yield* tenantWithSources("g-photos", [graphSettings(graph, { photos: true })])
        const sync = yield* DirectorySync

        const first = yield* sync.runOnce(tenantId)
        expect(first.state).toBe("idle")
        expect(first.counts).toEqual({ seen: 4, upserted: 4, removed: 0, rejected: 0 })
        expect([graph.counts.photoMeta, graph.counts.photoValue]).toEqual([4, 3])
        const ann = someUser(yield* lookup(tenantId, `user0@${DOMAIN}`)).photo!
        expect(ann).toMatchObject({ width: 96, height: 96, source: `graph:W/"photo-1"` })
        const bytes = yield* storedPhoto(tenantId, ann.sha256)
        const meta = yield* Effect.promise(() => sharp(bytes).metadata())
        expect([meta.format, meta.width, meta.height]).toEqual(["jpeg", 96, 96])
        expect(ann.bytes).toBe(bytes.length)
        expect(someUser(yield* lookup(tenantId, `user1@${DOMAIN}`)).photo?.width).toBe(96)
        expect(someUser(yield* lookup(tenantId, `user2@${DOMAIN}`)).photo).toBeUndefined()
        expect(someUser(yield* lookup(tenantId, `user3@${DOMAIN}`)).photo).toBeUndefined()
        expect(yield* photoBlobs(tenantId)).toHaveLength(2)

        // a full pass over unchanged photos: metadata read, no $value fetched, nothing written
        graph.forgetDeltaLinks()
        const again = yield* sync.runOnce(tenantId)
        expect(again.mode).toBe("full")
        expect(again.counts).toEqual({ seen: 4, upserted: 0, removed: 0, rejected: 0 })
        expect([graph.counts.photoMeta, graph.counts.photoValue]).toEqual([8, 4]) // the refused one is tried again
        expect(someUser(yield* lookup(tenantId, `user0@${DOMAIN}`)).photo).toEqual(ann)

        // a new photo for user 1 and user 0's removed: one fetch, the old blobs swept
        const oldBob = someUser(yield* lookup(tenantId, `user1@${DOMAIN}`)).photo!
        graph.setPhoto(graphUser(1, DOMAIN).id, testPng(64, 64, "#e01b24"))
        graph.setPhoto(graphUser(0, DOMAIN).id, undefined)
        graph.forgetDeltaLinks()
        const third = yield* sync.runOnce(tenantId)
        expect(third.counts).toMatchObject({ seen: 4, upserted: 2 })
        expect(graph.counts.photoValue).toBe(6)
        const newBob = someUser(yield* lookup(tenantId, `user1@${DOMAIN}`)).photo!
        expect(newBob.sha256).not.toBe(oldBob.sha256)
        expect(someUser(yield* lookup(tenantId, `user0@${DOMAIN}`)).photo).toBeUndefined()
        const blobs = yield* photoBlobs(tenantId)
        expect(blobs).toEqual([Keys.photoBlobKey(tenantId, newBob.sha256)])
      })
    )
  )

  it.scoped("a photo Graph refuses (403) does not fail the pass: the user syncs and keeps the cached photo", () =>
    live(
      Effect.gen(function* () {
        const graph = yield* standIn({ pageSize: 50 })
        graph.put(graphUser(0, DOMAIN))
        graph.put(graphUser(1, DOMAIN))
        graph.setPhoto(graphUser(0, DOMAIN).id, testPng(50, 50))
        const tenantId = yield* tenantWithSources("g-photo403", [graphSettings(graph, { photos: true })])
        const sync = yield* DirectorySync
        yield* sync.runOnce(tenantId)
        const cached = someUser(yield* lookup(tenantId, `user0@${DOMAIN}`)).photo!
        graph.photoForbidden.add(graphUser(0, DOMAIN).id)
        graph.photoForbidden.add(graphUser(1, DOMAIN).id)
        graph.forgetDeltaLinks()
        const pass = yield* sync.runOnce(tenantId)
        expect(pass.state).toBe("idle")
        expect(pass.counts).toEqual({ seen: 2, upserted: 0, removed: 0, rejected: 0 })
        expect(someUser(yield* lookup(tenantId, `user0@${DOMAIN}`)).photo).toEqual(cached)
        expect(someUser(yield* lookup(tenantId, `user1@${DOMAIN}`)).photo).toBeUndefined()
      })
    )
  )

  it.scoped("without photos: true no photo is requested", () =>
    live(
      Effect.gen(function* () {
        const graph = yield* standIn({ pageSize: 50 })
        graph.put(graphUser(0, DOMAIN))
        graph.setPhoto(graphUser(0, DOMAIN).id, testPng(20, 20))
        const tenantId = yield* tenantWithSources("g-nophotos", [graphSettings(graph)])
        yield* (yield* DirectorySync).runOnce(tenantId)
        expect(graph.counts.photoMeta + graph.counts.photoValue).toBe(0)
        expect(someUser(yield* lookup(tenantId, `user0@${DOMAIN}`)).photo).toBeUndefined()
      })
    )
  )
})
