import { describe, expect, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import { Client } from "ldapts"
import { ALL_STAFF, BAD_USERS, MAIL_DOMAIN, ROOT_DN, userAttributes, userDn } from "../../perf/LdapDirectory.js"
import { DirectorySync } from "../../src/sync/DirectorySync.js"
import { LdapSourceSettings } from "../../src/domain/SyncSettings.js"
import { cachedMails, lookup, someUser, syncTestLayer, tenantWithSources } from "../sync/SyncHarness.js"
import { ROOT_PASSWORD, slapdUnavailable, startDirectoryPeer } from "./SlapdPeer.js"

/** more users than slapd returns without paging (1,000), read in pages of 300 */
const USERS = 2_500

const unavailable = slapdUnavailable()
if (unavailable !== undefined) console.warn(`skipping the LDAP sync peer specs: ${unavailable}`)

const peerScoped = Effect.acquireRelease(
  Effect.promise(() => startDirectoryPeer(USERS)),
  (p) => Effect.promise(() => p.stop())
)

describe.skipIf(unavailable !== undefined)("directory sync from OpenLDAP (DirectorySync + LdapSource + LMDB)", () => {
  layer(syncTestLayer())("ldap", (it) => {
    it.scoped(
      "a full pass fills the cache; a user deleted at the source goes; a server that is down keeps the cache",
      () =>
        Effect.gen(function* () {
          const peer = yield* peerScoped
          const settings = LdapSourceSettings.make({ name: "ad", ...peer.config({ url: peer.ldapsUrl!, caCert: peer.caCert, pageSize: 300 }) })
          const tenantId = yield* tenantWithSources("ldap-sync", [settings], [{ mail: `stale@${MAIL_DOMAIN}`, displayName: "Stale" }])
          const sync = yield* DirectorySync

          const first = yield* sync.runOnce(tenantId)
          expect(first.state).toBe("idle")
          expect(first.mode).toBe("full")
          // every generated user but the one whose title is markup; the stale cached user removed
          expect(first.counts).toMatchObject({ upserted: USERS - 1, removed: 1, rejected: 1 })
          const mails = yield* cachedMails(tenantId)
          expect(mails).toHaveLength(USERS - 1)
          expect(mails).not.toContain(`stale@${MAIL_DOMAIN}`)
          expect(mails).not.toContain(`user${BAD_USERS.markupTitle}@${MAIL_DOMAIN}`)
          // a proxy address finds the user; groups arrive as names rules can use
          const u8 = someUser(yield* lookup(tenantId, `u8@${MAIL_DOMAIN}`))
          expect(u8).toMatchObject({ mail: `user8@${MAIL_DOMAIN}`, displayName: userAttributes(8).displayName, department: "Sales", co: userAttributes(8).co })
          expect(u8.memberOf).toEqual([ALL_STAFF.cn, "Sales Team", "Sales, EMEA"])

          // removed at the source: gone after the next complete pass
          yield* Effect.promise(async () => {
            const admin = new Client({ url: peer.url })
            try {
              await admin.bind(ROOT_DN, ROOT_PASSWORD)
              await admin.del(userDn(7))
            } finally {
              await admin.unbind()
            }
          })
          const second = yield* sync.runOnce(tenantId)
          expect(second.state).toBe("idle")
          expect(second.counts).toMatchObject({ upserted: 0, removed: 1 })
          expect(Option.isNone(yield* lookup(tenantId, `user7@${MAIL_DOMAIN}`))).toBe(true)

          // the server goes away: the pass fails, recorded, and the last good directory stays in use
          yield* Effect.promise(() => peer.stop())
          const third = yield* sync.runOnce(tenantId)
          expect(third.state).toBe("failed")
          expect(third.lastError).toMatch(/ECONNREFUSED/)
          expect(yield* cachedMails(tenantId)).toHaveLength(USERS - 2)
          expect(Option.isSome(yield* lookup(tenantId, `user9@${MAIL_DOMAIN}`))).toBe(true)
        }),
      180_000
    )
  })
})
