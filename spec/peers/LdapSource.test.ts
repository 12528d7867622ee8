import { Chunk, Effect, Either, Option, Stream } from "effect"
import { Client, SizeLimitExceededError } from "ldapts"
import * as net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  ALL_STAFF,
  BAD_TITLE,
  BAD_USERS,
  DEPARTMENTS,
  departmentOf,
  GROUP_MAIL,
  PEOPLE_DN,
  SALES_EMEA,
  SERVICE_DN,
  SERVICE_PASSWORD,
  SUFFIX,
  teamGroup,
  userAttributes,
  userDn
} from "../../perf/LdapDirectory.js"
import { NON_PAGED_LIMIT } from "../../perf/Slapd.js"
import type { DirectoryUser } from "../../src/domain/Directory.js"
import type { DirectorySource, SourceChange, SourceError } from "../../src/sync/DirectorySource.js"
import { makeLdapSource, type LdapSourceConfig, type LdapTimeouts } from "../../src/sync/LdapSource.js"
import { freePort } from "../support/FreePort.js"
import { slapdUnavailable, startDirectoryPeer, type DirectoryPeer } from "./SlapdPeer.js"

/** more than the server returns without paging, so a full pass needs several pages */
const USERS = 3 * NON_PAGED_LIMIT
const PAGE_SIZE = 250

const unavailable = slapdUnavailable()
if (unavailable !== undefined) console.warn(`skipping the LDAP peer specs: ${unavailable}`)

const collect = (source: DirectorySource) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const pass = yield* source.pass(Option.none())
        const changes = Chunk.toReadonlyArray(yield* Stream.runCollect(pass.changes))
        return { mode: pass.mode, cursor: yield* pass.nextCursor, changes }
      })
    )
  )

const failure = async (source: DirectorySource): Promise<SourceError> => {
  const result = await Effect.runPromise(
    Effect.either(
      Effect.scoped(
        Effect.gen(function* () {
          const pass = yield* source.pass(Option.none())
          return yield* Stream.runDrain(pass.changes)
        })
      )
    )
  )
  if (Either.isRight(result)) throw new Error("the pass succeeded")
  return result.left
}

const upserts = (changes: ReadonlyArray<SourceChange>): Array<DirectoryUser> => changes.flatMap((c) => (c._tag === "Upsert" ? [c.user] : []))
const rejected = (changes: ReadonlyArray<SourceChange>) => changes.flatMap((c) => (c._tag === "Rejected" ? [c] : []))
const indexOf = (u: DirectoryUser) => Number(/^user(\d+)@/.exec(u.mail)![1])
const source = (config: LdapSourceConfig, timeouts?: LdapTimeouts) => makeLdapSource(config, timeouts)

describe.skipIf(unavailable !== undefined)("LDAP source against a real OpenLDAP (slapd)", () => {
  let peer: DirectoryPeer

  beforeAll(async () => {
    peer = await startDirectoryPeer(USERS)
  })
  afterAll(async () => {
    await peer?.stop()
  })

  it("the server caps a search without paging, like AD's MaxPageSize (what makes the next spec prove paging)", async () => {
    const client = new Client({ url: peer.url })
    try {
      await client.bind(SERVICE_DN, SERVICE_PASSWORD)
      await expect(client.search(SUFFIX, { scope: "sub", filter: "(mail=*)", attributes: ["mail"] })).rejects.toBeInstanceOf(SizeLimitExceededError)
    } finally {
      await client.unbind()
    }
  })

  it("a full pass pages through every user and maps each one, multi-valued attributes included", async () => {
    const { mode, cursor, changes } = await collect(source(peer.config({ pageSize: PAGE_SIZE })))
    expect(mode).toBe("full")
    expect(Option.isNone(cursor)).toBe(true)
    const users = upserts(changes)
    // every generated user once, except the one whose title is markup; not the mail-enabled group, not the person without mail
    expect(users).toHaveLength(USERS - 1)
    expect(new Set(users.map((u) => u.mail)).size).toBe(USERS - 1)
    expect(users.some((u) => u.mail === GROUP_MAIL)).toBe(false)
    for (const user of users) {
      const i = indexOf(user)
      const want = userAttributes(i)
      expect({ ...user }).toEqual({
        mail: want.mail,
        displayName: want.displayName,
        givenName: want.givenName,
        sn: want.sn,
        title: want.title,
        department: want.department,
        company: want.company,
        telephoneNumber: want.telephoneNumber,
        mobile: want.mobile,
        physicalDeliveryOfficeName: want.physicalDeliveryOfficeName,
        l: want.l,
        ...(want.st === undefined ? {} : { st: want.st }),
        postalCode: want.postalCode,
        co: want.co,
        // smtp addresses kept with their prefix, the X500 one dropped
        proxyAddresses: want.proxyAddresses.filter((p) => /^smtp:/i.test(p)),
        // group DNs become CNs, escapes undone
        memberOf: want.memberOf.map((g) => g.cn),
        custom: {}
      })
    }
    const sales = users.find((u) => u.department === "Sales")!
    expect(sales.memberOf).toEqual([ALL_STAFF.cn, teamGroup("Sales").cn, "Sales, EMEA"])
    expect(users.find((u) => u.mail === "user2@corp.example")?.givenName).toBe("Zoë")
  })

  it("an entry with bad data is rejected with its DN and a reason, and the pass goes on", async () => {
    const { changes } = await collect(source(peer.config({ pageSize: PAGE_SIZE })))
    const bad = rejected(changes)
    expect(bad).toHaveLength(1)
    expect(bad[0].ref).toBe(userDn(BAD_USERS.markupTitle))
    expect(bad[0].reason).toMatch(/title .*markup/)
    expect(BAD_TITLE).toContain("<b>")
  })

  it("a binary value in a mapped attribute rejects that entry, not the pass", async () => {
    const { changes } = await collect(source(peer.config({ mapping: { "custom.photo": "thumbnailPhoto" } })))
    const bad = rejected(changes)
    expect(bad.map((r) => r.ref).sort()).toEqual([userDn(BAD_USERS.markupTitle), userDn(BAD_USERS.binaryPhoto)].sort())
    expect(bad.find((r) => r.ref === userDn(BAD_USERS.binaryPhoto))!.reason).toMatch(/thumbnailPhoto holds binary data/)
    expect(upserts(changes)).toHaveLength(USERS - 2)
  })

  it("mapping overrides: a custom attribute added, a default removed, memberOf as DNs", async () => {
    const { changes } = await collect(source(peer.config({ mapping: { "custom.account": "uid", title: "" }, groupNames: "dn" })))
    const users = upserts(changes)
    // without the title mapping the markup entry is a user like the others
    expect(users).toHaveLength(USERS)
    expect(rejected(changes)).toHaveLength(0)
    for (const user of users) {
      const i = indexOf(user)
      expect(user.custom).toEqual({ account: `user${i}` })
      expect(user.title).toBeUndefined()
      expect(user.memberOf).toEqual(userAttributes(i).memberOf.map((g) => g.dn))
    }
    expect(users.find((u) => u.department === "Sales")!.memberOf).toContain(SALES_EMEA.dn)
  })

  it("the filter and the base DN decide which entries are read", async () => {
    const expected = (dept: string) => Array.from({ length: USERS }, (_, i) => i).filter((i) => departmentOf(i) === dept && i !== BAD_USERS.markupTitle)
    const finance = upserts((await collect(source(peer.config({ filter: "(&(objectClass=person)(mail=*)(department=Finance))" })))).changes)
    expect(finance.map(indexOf).sort((a, b) => a - b)).toEqual(expected("Finance"))
    const engineering = upserts((await collect(source(peer.config({ baseDn: `ou=Engineering,${PEOPLE_DN}` })))).changes)
    expect(engineering.map(indexOf).sort((a, b) => a - b)).toEqual(expected("Engineering"))
    expect(DEPARTMENTS).toContain("Engineering")
  })

  it("a consumer that stops early ends the pass (the connection is released with the scope)", async () => {
    const taken = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const pass = yield* source(peer.config({ pageSize: 50 })).pass(Option.none())
          return Chunk.toReadonlyArray(yield* Stream.runCollect(Stream.take(pass.changes, 120)))
        })
      )
    )
    expect(taken).toHaveLength(120)
  })

  it("bad credentials: not retryable, the message names the bind DN and never the password", async () => {
    const e = await failure(source(peer.config({ password: "wrong-Password-9" })))
    expect(e._tag).toBe("SourceError")
    expect(e.retryable).toBe(false)
    expect(e.message).toContain(SERVICE_DN)
    expect(e.message).toMatch(/invalid credentials \(LDAP 49/)
    expect(e.message).not.toContain("wrong-Password-9")
    expect(e.source).toBe(`ldap:127.0.0.1:${peer.port}`)
  })

  it("a base DN that does not exist: not retryable", async () => {
    const e = await failure(source(peer.config({ baseDn: `ou=nowhere,${SUFFIX}` })))
    expect(e.retryable).toBe(false)
    expect(e.message).toContain(`ou=nowhere,${SUFFIX}`)
  })

  it("LDAPS with the server's CA reads the directory; without it the certificate is refused, not retryable", async () => {
    const small = { baseDn: `ou=Support,${PEOPLE_DN}`, filter: "(&(objectClass=person)(mail=*)(|(uid=user3)(uid=user7)(uid=user11)))" }
    const ok = await collect(source(peer.config({ ...small, url: peer.ldapsUrl!, caCert: peer.caCert })))
    expect(
      upserts(ok.changes)
        .map(indexOf)
        .sort((a, b) => a - b)
    ).toEqual([3, 7, 11])
    const e = await failure(source(peer.config({ ...small, url: peer.ldapsUrl! })))
    expect(e.retryable).toBe(false)
    expect(e.message).toMatch(/certificate .*caCert/)
  })

  it("StartTLS on ldap:// with the CA reads the directory; without it the certificate is refused", async () => {
    const ok = await collect(source(peer.config({ startTls: true, caCert: peer.caCert, baseDn: `ou=Sales,${PEOPLE_DN}` })))
    expect(upserts(ok.changes).every((u) => u.department === "Sales")).toBe(true)
    expect(upserts(ok.changes)).toHaveLength(USERS / DEPARTMENTS.length)
    const e = await failure(source(peer.config({ startTls: true })))
    expect(e.retryable).toBe(false)
    expect(e.message).toMatch(/StartTLS/)
  })
})

describe.skipIf(unavailable !== undefined)("LDAP source: a server that is down or stops answering", () => {
  it("nothing listening: retryable", async () => {
    const port = await freePort()
    const e = await failure(source({ url: `ldap://127.0.0.1:${port}`, bindDn: SERVICE_DN, password: SERVICE_PASSWORD, baseDn: SUFFIX }))
    expect(e.retryable).toBe(true)
    expect(e.message).toMatch(/ECONNREFUSED/)
  })

  it("a server that accepts but never answers: the operation timeout gives a retryable error", async () => {
    const sockets = new Set<net.Socket>()
    const silent = net.createServer((s) => {
      sockets.add(s)
      s.on("error", () => undefined)
    })
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r))
    try {
      const port = (silent.address() as net.AddressInfo).port
      const e = await failure(
        source({ url: `ldap://127.0.0.1:${port}`, bindDn: SERVICE_DN, password: SERVICE_PASSWORD, baseDn: SUFFIX }, { connectMs: 2_000, operationMs: 300 })
      )
      expect(e.retryable).toBe(true)
      expect(e.message).toMatch(/timed out/)
    } finally {
      for (const s of sockets) s.destroy()
      await new Promise((r) => silent.close(r))
    }
  })

  it("the server goes away in the middle of a pass: the pass fails, retryable (nothing partial is reported as complete)", async () => {
    const peer = await startDirectoryPeer(1_500)
    let seen = 0
    try {
      const result = await Effect.runPromise(
        Effect.either(
          Effect.scoped(
            Effect.gen(function* () {
              const pass = yield* source(peer.config({ pageSize: 100 })).pass(Option.none())
              yield* Stream.runForEach(pass.changes, () =>
                Effect.promise(async () => {
                  if (++seen === 150) await peer.stop()
                })
              )
            })
          )
        )
      )
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) expect(result.left.retryable).toBe(true)
      expect(seen).toBeGreaterThanOrEqual(150)
      expect(seen).toBeLessThan(1_500)
    } finally {
      await peer.stop()
    }
  })
})
