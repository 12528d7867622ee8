import { describe, expect, layer } from "@effect/vitest"
import { Effect, Option, Schema } from "effect"
import { Attribute, Change, Client } from "ldapts"
import sharp from "sharp"
import { BAD_USERS, MAIL_DOMAIN, ROOT_DN, userDn } from "../../perf/LdapDirectory.js"
import type { TenantId } from "../../src/domain/Tenant.js"
import * as Keys from "../../src/store/Keys.js"
import { Db } from "../../src/store/Keys.js"
import { Store } from "../../src/store/Store.js"
import { DirectorySync } from "../../src/sync/DirectorySync.js"
import { LdapSourceSettings } from "../../src/domain/SyncSettings.js"
import { testPng } from "../support/Images.js"
import { lookup, someUser, syncTestLayer, tenantWithSources } from "../sync/SyncHarness.js"
import { ROOT_PASSWORD, slapdUnavailable, startDirectoryPeer } from "./SlapdPeer.js"

/** Directory photos from a real slapd (issue 17 item 3): jpegPhoto and thumbnailPhoto, binary attributes, re-encoded only when changed. */

const unavailable = slapdUnavailable()
if (unavailable !== undefined) console.warn(`skipping the LDAP photo peer specs: ${unavailable}`)

const peerScoped = Effect.acquireRelease(
  Effect.promise(() => startDirectoryPeer(6)),
  (p) => Effect.promise(() => p.stop())
)

/** Sets (replaces) a binary attribute of a user, as the directory's admin. */
const setPhoto = (url: string, i: number, type: "jpegPhoto" | "thumbnailPhoto", bytes: Buffer) =>
  Effect.promise(async () => {
    const admin = new Client({ url })
    try {
      await admin.bind(ROOT_DN, ROOT_PASSWORD)
      await admin.modify(userDn(i), new Change({ operation: "replace", modification: new Attribute({ type, values: [bytes] }) }))
    } finally {
      await admin.unbind()
    }
  })

const blobs = (tenantId: TenantId) => Effect.flatMap(Store, (s) => s.keys(Db.photoBlobs, Keys.photoBlobPrefix(tenantId)))
const blob = (tenantId: TenantId, sha256: string) =>
  Effect.flatMap(Store, (s) => s.get(Db.photoBlobs, Schema.Uint8ArrayFromSelf, Keys.photoBlobKey(tenantId, sha256))).pipe(Effect.map(Option.getOrThrow))

describe.skipIf(unavailable !== undefined)("directory photos from OpenLDAP", () => {
  layer(syncTestLayer())("ldap photos", (it) => {
    it.scoped("jpegPhoto and thumbnailPhoto become 96×96 JPEGs; unchanged bytes are not re-encoded; a broken photo leaves the user without one", () =>
      Effect.gen(function* () {
        const peer = yield* peerScoped
        const portrait = yield* Effect.promise(() =>
          sharp(testPng(240, 320, "#26a269"))
            .jpeg({ quality: 90 })
            .toBuffer()
        )
        yield* setPhoto(peer.url, 3, "jpegPhoto", portrait)
        yield* setPhoto(peer.url, 4, "thumbnailPhoto", testPng(96, 96, "#1a5fb4"))
        const settings = LdapSourceSettings.make({ name: "ad", ...peer.config({ photos: true }) })
        const tenantId = yield* tenantWithSources("ldap-photos", [settings])
        const sync = yield* DirectorySync

        const first = yield* sync.runOnce(tenantId)
        expect(first.state).toBe("idle")
        const three = someUser(yield* lookup(tenantId, `user3@${MAIL_DOMAIN}`)).photo!
        expect(three).toMatchObject({ width: 96, height: 96 })
        expect(three.source).toMatch(/^sha256:[0-9a-f]{64}$/)
        const stored = Buffer.from(yield* blob(tenantId, three.sha256))
        const meta = yield* Effect.promise(() => sharp(stored).metadata())
        expect([meta.format, meta.width, meta.height]).toEqual(["jpeg", 96, 96])
        expect(someUser(yield* lookup(tenantId, `user4@${MAIL_DOMAIN}`)).photo?.width).toBe(96)
        // user 2's thumbnailPhoto is a truncated JPEG header: refused, the user synced without a photo
        expect(someUser(yield* lookup(tenantId, `user${BAD_USERS.binaryPhoto}@${MAIL_DOMAIN}`)).photo).toBeUndefined()
        expect(someUser(yield* lookup(tenantId, `user0@${MAIL_DOMAIN}`)).photo).toBeUndefined()
        expect(yield* blobs(tenantId)).toHaveLength(2)

        // the same bytes again: nothing changed, nothing written
        const again = yield* sync.runOnce(tenantId)
        expect(again.counts).toMatchObject({ upserted: 0, removed: 0 })
        expect(someUser(yield* lookup(tenantId, `user3@${MAIL_DOMAIN}`)).photo).toEqual(three)

        // a new photo: re-encoded, the old one swept
        yield* setPhoto(peer.url, 3, "jpegPhoto", testPng(50, 80, "#e01b24"))
        const third = yield* sync.runOnce(tenantId)
        expect(third.counts).toMatchObject({ upserted: 1 })
        const changed = someUser(yield* lookup(tenantId, `user3@${MAIL_DOMAIN}`)).photo!
        expect(changed.sha256).not.toBe(three.sha256)
        const left = yield* blobs(tenantId)
        expect(left).toHaveLength(2)
        expect(left).toContain(Keys.photoBlobKey(tenantId, changed.sha256))
        expect(left).not.toContain(Keys.photoBlobKey(tenantId, three.sha256))
      })
    )

    it.scoped("without photos: true, photo attributes are not requested", () =>
      Effect.gen(function* () {
        const peer = yield* peerScoped
        yield* setPhoto(peer.url, 3, "jpegPhoto", testPng(40, 40))
        const tenantId = yield* tenantWithSources("ldap-nophotos", [LdapSourceSettings.make({ name: "ad", ...peer.config() })])
        const pass = yield* (yield* DirectorySync).runOnce(tenantId)
        expect(pass.state).toBe("idle")
        expect(someUser(yield* lookup(tenantId, `user3@${MAIL_DOMAIN}`)).photo).toBeUndefined()
        expect(yield* blobs(tenantId)).toHaveLength(0)
      })
    )
  })
})
