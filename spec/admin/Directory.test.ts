import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { TenantRegistry } from "../../src/actors/TenantRegistry.js"
import { MAX_IMPORT_ROWS } from "../../src/admin/directory/Api.js"
import type { Role } from "../../src/domain/Role.js"
import type { TenantId } from "../../src/domain/Tenant.js"
import { AccountRepo } from "../../src/store/AccountRepo.js"
import { element, envelope, header } from "../actors/SignatureFixtures.js"
import { apiClient, adminTestLayer, createPayload, operatorClient, operatorHeaders, rawRequest, tenantBody } from "./AdminHarness.js"

const tid = (s: string) => s as TenantId

/** A tenant with `n` directory users u00..u(n-1); u-even are in Sales, u-odd in Engineering. */
const directoryTenant = (id: string, cidr: string, n: number) =>
  Effect.flatMap(operatorClient, (client) =>
    client.tenants.create({
      payload: createPayload(
        tenantBody(id, cidr, {
          directory: Array.from({ length: n }, (_, i) => ({
            mail: `u${String(i).padStart(2, "0")}@${id}.example`,
            displayName: `User ${i}`,
            department: i % 2 === 0 ? "Sales" : "Engineering",
            title: i === 3 ? "Chief Whatever Officer" : "Staff"
          }))
        })
      )
    })
  )

/** The typed client as a member of `tenantId` with `role` (a tenant API token from the AccountRepo). */
const memberClient = (tenantId: string, role: Role) =>
  Effect.gen(function* () {
    const accounts = yield* AccountRepo
    const { token } = yield* accounts.createApiToken(tenantId, `spec ${role}`, role, "spec")
    return yield* apiClient(token)
  })

layer(adminTestLayer())("admin API: directory", (it) => {
  it.effect("pages in mail order with a cursor, and searches mail/displayName/department/title case-insensitively", () =>
    Effect.gen(function* () {
      yield* directoryTenant("d-page", "198.51.130.0/24", 7)
      const client = yield* operatorClient
      const path = { tenantId: "d-page" }
      const seen: Array<string> = []
      let cursor: string | undefined
      let pages = 0
      do {
        const page = yield* client.directory.list({ path, urlParams: { limit: 3, cursor } })
        expect(page.users.length).toBeLessThanOrEqual(3)
        seen.push(...page.users.map((u) => u.mail))
        cursor = page.next
        pages++
      } while (cursor !== undefined && pages < 10)
      expect(pages).toBe(3)
      expect(seen).toEqual(Array.from({ length: 7 }, (_, i) => `u0${i}@d-page.example`))

      const mails = (q: string) => client.directory.list({ path, urlParams: { q } }).pipe(Effect.map((p) => p.users.map((u) => u.mail.slice(0, 3))))
      expect(yield* mails("sALes")).toEqual(["u00", "u02", "u04", "u06"])
      expect(yield* mails("whatever")).toEqual(["u03"])
      expect(yield* mails("U05@")).toEqual(["u05"])
      expect(yield* mails("user 6")).toEqual(["u06"])
      expect(yield* mails("nobody")).toEqual([])
      // search pages too
      const first = yield* client.directory.list({ path, urlParams: { q: "engineering", limit: 2 } })
      expect(first.users.map((u) => u.mail.slice(0, 3))).toEqual(["u01", "u03"])
      const second = yield* client.directory.list({ path, urlParams: { q: "engineering", limit: 2, cursor: first.next } })
      expect(second.users.map((u) => u.mail.slice(0, 3))).toEqual(["u05"])
      expect(second.next).toBeUndefined()
    })
  )

  it.effect("one user by mail (any case); another tenant's user and a missing one are 404", () =>
    Effect.gen(function* () {
      yield* directoryTenant("d-get", "198.51.131.0/24", 2)
      yield* directoryTenant("d-other", "198.51.132.0/24", 2)
      const client = yield* operatorClient
      expect((yield* client.directory.get({ path: { tenantId: "d-get", mail: "U01@D-GET.example" } })).displayName).toBe("User 1")
      const foreign = yield* Effect.flip(client.directory.get({ path: { tenantId: "d-get", mail: "u01@d-other.example" } }))
      expect(foreign._tag).toBe("DirectoryUserNotFound")
      const missing = yield* Effect.flip(client.directory.get({ path: { tenantId: "d-get", mail: "nobody@d-get.example" } }))
      expect(missing._tag).toBe("DirectoryUserNotFound")
      const noTenant = yield* Effect.flip(client.directory.get({ path: { tenantId: "d-none", mail: "a@d-none.example" } }))
      expect(noTenant._tag).toBe("TenantNotFound")
    })
  )

  it.effect("PUT upserts through the actor: the next ResolveSignature signs with the new values; audit and status record it", () =>
    Effect.gen(function* () {
      yield* directoryTenant("d-put", "198.51.133.0/24", 1)
      const client = yield* operatorClient
      const registry = yield* TenantRegistry
      const actor = yield* registry.actor(tid("d-put"))
      const sign = (mail: string) => Effect.map(actor.resolveSignature(envelope(mail, ["x@customer.example"]), header()), (d) => element(d, "all").html)
      expect(yield* sign("u00@d-put.example")).toContain("User 0")

      const path = { tenantId: "d-put", mail: "u00@d-put.example" }
      // a PUT replaces the whole entry: department and title, not sent, are gone
      const updated = yield* client.directory.put({
        path,
        payload: { mail: "u00@d-put.example", displayName: "Renamed Zero", proxyAddresses: [], memberOf: [], custom: {} }
      })
      expect(updated.created).toBe(false)
      expect(yield* sign("u00@d-put.example")).toContain("Renamed Zero")

      const created = yield* client.directory.put({
        path: { tenantId: "d-put", mail: "new@d-put.example" },
        payload: { mail: "new@d-put.example", displayName: "  Newcomer  ", proxyAddresses: [], memberOf: [], custom: {} }
      })
      expect(created.created).toBe(true)
      expect(created.user.displayName).toBe("Newcomer")
      expect(yield* sign("new@d-put.example")).toContain("Newcomer")

      const audit = yield* client.audit.list({ path: { tenantId: "d-put" }, urlParams: { limit: 2 } })
      expect(audit.entries[0]).toMatchObject({
        action: "directory.upsert",
        target: "user/new@d-put.example",
        before: "absent",
        after: "present",
        actor: "operator:spec operator"
      })
      expect(audit.entries[1]).toMatchObject({
        action: "directory.upsert",
        target: "user/u00@d-put.example",
        before: "present",
        detail: "changed: department, displayName, title"
      })

      const status = yield* client.directory.status({ path: { tenantId: "d-put" } })
      expect(status.users).toBe(2)
      expect(status.lastChange).toBe("directory.upsert")
      expect(status.lastChangeBy).toBe("operator:spec operator")
      expect(status.lastChangeAt).toBeTypeOf("number")
      expect(status.lastImportAt).toBeUndefined()
    })
  )

  it.effect("PUT refuses a body whose mail is not the path's, markup in a phone, and a control character", () =>
    Effect.gen(function* () {
      yield* directoryTenant("d-bad", "198.51.134.0/24", 1)
      const client = yield* operatorClient
      const put = (mail: string, body: Record<string, unknown>) =>
        Effect.flip(
          client.directory.put({ path: { tenantId: "d-bad", mail }, payload: { mail, proxyAddresses: [], memberOf: [], custom: {}, ...body } as never })
        )
      const mismatch = yield* put("a@d-bad.example", { mail: "b@d-bad.example" })
      expect(mismatch).toMatchObject({ _tag: "DirectoryUserInvalid", message: expect.stringContaining("same user") })
      expect(yield* put("a@d-bad.example", { telephoneNumber: "<a href=x>0800</a>" })).toMatchObject({
        _tag: "DirectoryUserInvalid",
        message: expect.stringContaining("markup")
      })
      expect(yield* put("a@d-bad.example", { mobile: "0800\u0000" })).toMatchObject({
        _tag: "DirectoryUserInvalid",
        message: expect.stringContaining("control")
      })
      expect((yield* client.directory.status({ path: { tenantId: "d-bad" } })).users).toBe(1)
    })
  )

  it.effect("DELETE removes through the actor; a second delete is 404; audited", () =>
    Effect.gen(function* () {
      yield* directoryTenant("d-del", "198.51.135.0/24", 2)
      const client = yield* operatorClient
      const registry = yield* TenantRegistry
      const path = { tenantId: "d-del", mail: "U01@d-del.example" }
      yield* client.directory.delete({ path })
      expect((yield* Effect.flip(client.directory.get({ path })))._tag).toBe("DirectoryUserNotFound")
      expect((yield* Effect.flip(client.directory.delete({ path })))._tag).toBe("DirectoryUserNotFound")
      const actor = yield* registry.actor(tid("d-del"))
      expect((yield* actor.resolveSignature(envelope("u01@d-del.example"), header()))._tag).toBe("NoSignature")
      const audit = yield* client.audit.list({ path: { tenantId: "d-del" }, urlParams: { limit: 1 } })
      expect(audit.entries[0]).toMatchObject({ action: "directory.delete", target: "user/u01@d-del.example", before: "present", after: "absent" })
    })
  )

  it.effect("deleting the tenant forgets the directory status but keeps the audit entries", () =>
    Effect.gen(function* () {
      yield* directoryTenant("d-gone", "198.51.142.0/24", 1)
      const client = yield* operatorClient
      yield* client.directory.delete({ path: { tenantId: "d-gone", mail: "u00@d-gone.example" } })
      expect((yield* client.directory.status({ path: { tenantId: "d-gone" } })).lastChange).toBe("directory.delete")
      yield* client.tenants.delete({ path: { tenantId: "d-gone" } })
      expect((yield* Effect.flip(client.directory.status({ path: { tenantId: "d-gone" } })))._tag).toBe("TenantNotFound")
      yield* directoryTenant("d-gone", "198.51.142.0/24", 1)
      const fresh = yield* client.directory.status({ path: { tenantId: "d-gone" } })
      expect(fresh.users).toBe(1)
      expect(fresh.lastChange).toBeUndefined()
      const log = yield* client.audit.list({ path: { tenantId: "d-gone" }, urlParams: {} })
      expect(log.entries.map((e) => e.action)).toEqual(["tenant.create", "tenant.delete", "directory.delete", "tenant.create"])
    })
  )

  describe("imports", () => {
    it.effect("JSON merge upserts the valid rows and reports the rejected ones with their position", () =>
      Effect.gen(function* () {
        yield* directoryTenant("d-jm", "198.51.136.0/24", 2)
        const client = yield* operatorClient
        const report = yield* client.directory.importJson({
          path: { tenantId: "d-jm" },
          urlParams: {},
          payload: [
            { mail: "u00@d-jm.example", displayName: "Zero v2" },
            { mail: "nope" },
            { mail: "x@d-jm.example", telephoneNumber: "<b>1</b>" },
            { mail: "c@d-jm.example" }
          ]
        })
        expect(report).toMatchObject({ mode: "merge", accepted: 2, rejectedCount: 2, usersBefore: 2, usersAfter: 3 })
        expect(report.rejected.map((r) => r.row)).toEqual([2, 3])
        expect((yield* client.directory.get({ path: { tenantId: "d-jm", mail: "u00@d-jm.example" } })).displayName).toBe("Zero v2")
        const status = yield* client.directory.status({ path: { tenantId: "d-jm" } })
        expect(status).toMatchObject({ users: 3, lastChange: "directory.import" })
        expect(status.lastImportAt).toBe(status.lastChangeAt)
        const audit = yield* client.audit.list({ path: { tenantId: "d-jm" }, urlParams: { limit: 1 } })
        expect(audit.entries[0]).toMatchObject({
          action: "directory.import",
          before: "2 users",
          after: "3 users",
          detail: "json, mode=merge: 2 accepted, 2 rejected"
        })
      })
    )

    it.effect("CSV replace with a bad row writes nothing (422 with the report) unless allowPartial=true", () =>
      Effect.gen(function* () {
        yield* directoryTenant("d-csv", "198.51.137.0/24", 3)
        const client = yield* operatorClient
        const registry = yield* TenantRegistry
        const path = { tenantId: "d-csv" }
        const text =
          "\ufeffmail,displayName,telephoneNumber,memberOf\r\n" +
          'ann@d-csv.example,"Lovelace, Ada",+44 20 7946 0958,Sales;Everyone\r\n' +
          ",No Mail,,\r\n" +
          'bob@d-csv.example,"Bob\nSmith",,\r\n'
        const refused = yield* Effect.flip(client.directory.importCsv({ path, urlParams: { mode: "replace" }, payload: text }))
        expect(refused._tag).toBe("DirectoryImportRejected")
        expect(refused).toMatchObject({ accepted: 2, rejectedCount: 1, rejected: [{ row: 3, reason: expect.stringContaining("no mail") }] })
        expect((yield* client.directory.status({ path })).users).toBe(3)

        const report = yield* client.directory.importCsv({ path, urlParams: { mode: "replace", allowPartial: true }, payload: text })
        expect(report).toMatchObject({ mode: "replace", accepted: 2, rejectedCount: 1, usersBefore: 3, usersAfter: 2 })
        const page = yield* client.directory.list({ path, urlParams: {} })
        expect(page.users.map((u) => [u.mail, u.displayName, u.memberOf])).toEqual([
          ["ann@d-csv.example", "Lovelace, Ada", ["Sales", "Everyone"]],
          ["bob@d-csv.example", "Bob Smith", []]
        ])
        // the actor signs from the imported directory at once
        const actor = yield* registry.actor(tid("d-csv"))
        expect(element(yield* actor.resolveSignature(envelope("ann@d-csv.example"), header()), "all").html).toContain("Lovelace, Ada")
        expect((yield* actor.resolveSignature(envelope("u00@d-csv.example"), header()))._tag).toBe("NoSignature")

        // a header with a wrong column name refuses the file
        const typo = yield* Effect.flip(client.directory.importCsv({ path, urlParams: { mode: "replace" }, payload: "mail,titel\r\nx@d-csv.example,Boss\r\n" }))
        expect(typo).toMatchObject({ _tag: "DirectoryImportRejected", rejected: [{ row: 1, reason: expect.stringContaining('"titel"') }] })
        expect((yield* client.directory.status({ path })).users).toBe(2)
      })
    )

    it.effect("a body that is not a JSON array is 400; more than MAX_IMPORT_ROWS rows is 413", () =>
      Effect.gen(function* () {
        yield* directoryTenant("d-big", "198.51.138.0/24", 1)
        const headers = yield* operatorHeaders
        const object = yield* rawRequest("POST", "/tenants/d-big/directory/import/json", { headers, json: { mail: "a@d-big.example" } })
        expect(object.status).toBe(400)
        expect(object.text).toContain("JSON array")
        const rows = Array.from({ length: MAX_IMPORT_ROWS + 1 }, () => ({}))
        const big = yield* rawRequest("POST", "/tenants/d-big/directory/import/json", { headers, json: rows })
        expect(big.status).toBe(413)
        expect(big.text).toContain(`${MAX_IMPORT_ROWS} rows`)
        const client = yield* operatorClient
        expect((yield* client.directory.status({ path: { tenantId: "d-big" } })).users).toBe(1)
      })
    )
  })

  describe("roles", () => {
    it.effect("every member role reads; owner and admin write; editor and auditor get 403; another tenant's member gets 404", () =>
      Effect.gen(function* () {
        yield* directoryTenant("d-role", "198.51.139.0/24", 1)
        yield* directoryTenant("d-role2", "198.51.140.0/24", 1)
        const path = { tenantId: "d-role", mail: "u00@d-role.example" }
        const payload = { mail: "u00@d-role.example", displayName: "By Role", proxyAddresses: [], memberOf: [], custom: {} }
        for (const role of ["owner", "admin", "editor", "auditor"] as const) {
          const member = yield* memberClient("d-role", role)
          expect((yield* member.directory.get({ path })).mail).toBe("u00@d-role.example")
          expect((yield* member.directory.status({ path: { tenantId: "d-role" } })).users).toBe(1)
          const write = yield* Effect.either(member.directory.put({ path, payload }))
          if (role === "owner" || role === "admin") expect(write._tag).toBe("Right")
          else expect(write._tag === "Left" && write.left._tag).toBe("Forbidden")
          const imported = yield* Effect.either(member.directory.importJson({ path: { tenantId: "d-role" }, urlParams: {}, payload: [] }))
          expect(imported._tag === "Left" ? imported.left._tag : "ok").toBe(role === "owner" || role === "admin" ? "ok" : "Forbidden")
        }
        const editorAudit = yield* Effect.flip((yield* memberClient("d-role", "editor")).audit.list({ path: { tenantId: "d-role" }, urlParams: {} }))
        expect(editorAudit._tag).toBe("Forbidden")
        const auditor = yield* memberClient("d-role", "auditor")
        const log = yield* auditor.audit.list({ path: { tenantId: "d-role" }, urlParams: {} })
        expect(log.entries.filter((e) => e.action === "directory.upsert").map((e) => e.actor)).toEqual(["api-token:spec admin", "api-token:spec owner"])

        const outsider = yield* memberClient("d-role2", "owner")
        expect((yield* Effect.flip(outsider.directory.get({ path })))._tag).toBe("TenantNotFound")
        expect((yield* Effect.flip(outsider.directory.put({ path, payload })))._tag).toBe("TenantNotFound")
        expect((yield* Effect.flip(outsider.audit.list({ path: { tenantId: "d-role" }, urlParams: {} })))._tag).toBe("TenantNotFound")
      })
    )
  })
})
