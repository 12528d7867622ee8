import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { UNAUTHORIZED_MESSAGE } from "../../src/admin/Api.js"
import { AuditRepo } from "../../src/store/AuditRepo.js"
import { AccountRepo, API_TOKEN_PREFIX } from "../../src/store/AccountRepo.js"
import { apiClient, operatorClient } from "./AdminHarness.js"
import { authTestLayer, PASSWORD, rawCall, seedTenant, seedUser, signIn } from "./AuthHarness.js"

/** Users and API token endpoints: each role's rights, owner rules, tenant isolation, removal with the tenant. */

type Client = Effect.Effect.Success<ReturnType<typeof apiClient>>
const tagOf = <A, E extends { _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.either(effect), (e) => (e._tag === "Right" ? "ok" : e.left._tag))

/** A tenant with one member per role, each signed in through the real flow. */
const team = (tenantId: string, cidr: string) =>
  Effect.gen(function* () {
    yield* seedTenant(tenantId, cidr)
    const clients: Record<"owner" | "admin" | "editor" | "auditor", Client> = {} as never
    const ids: Record<string, string> = {}
    for (const role of ["owner", "admin", "editor", "auditor"] as const) {
      const email = `${role}@${tenantId}.example`
      ids[role] = (yield* seedUser(tenantId, email, role)).id
      clients[role] = yield* apiClient((yield* signIn(email)).sessionToken)
    }
    return { clients, ids }
  })

layer(authTestLayer(), { excludeTestServices: true })("admin API: users and API tokens", (it) => {
  it.effect("role matrix on the users and api-tokens endpoints", () =>
    Effect.gen(function* () {
      const { clients, ids } = yield* team("t-roles", "192.0.2.0/28")
      const t = { tenantId: "t-roles" }
      const results: Record<string, Record<string, string>> = {}
      let n = 0
      for (const role of ["owner", "admin", "editor", "auditor"] as const) {
        const c = clients[role]
        n++
        results[role] = {
          listUsers: yield* tagOf(c.users.list({ path: t })),
          getUser: yield* tagOf(c.users.get({ path: { ...t, userId: ids.editor } })),
          createEditor: yield* tagOf(
            c.users.create({ path: t, payload: { email: `new${n}@t-roles.example`, name: "New", role: "editor", password: PASSWORD } })
          ),
          createOwner: yield* tagOf(c.users.create({ path: t, payload: { email: `own${n}@t-roles.example`, name: "Own", role: "owner", password: PASSWORD } })),
          renameAuditor: yield* tagOf(c.users.update({ path: { ...t, userId: ids.auditor }, payload: { name: `Aud ${n}` } })),
          renameOwner: yield* tagOf(c.users.update({ path: { ...t, userId: ids.owner }, payload: { name: `Boss ${n}` } })),
          listTokens: yield* tagOf(c.apiTokens.list({ path: t })),
          mintEditorToken: yield* tagOf(c.apiTokens.create({ path: t, payload: { name: `ci-${n}`, role: "editor" } })),
          mintOwnerToken: yield* tagOf(c.apiTokens.create({ path: t, payload: { name: `root-${n}`, role: "owner" } }))
        }
      }
      const allowed = { listUsers: "ok", getUser: "ok", createEditor: "ok", renameAuditor: "ok", listTokens: "ok", mintEditorToken: "ok" }
      const forbidden = Object.fromEntries(Object.keys(results.owner).map((k) => [k, "Forbidden"]))
      expect(results.owner).toEqual({ ...allowed, createOwner: "ok", renameOwner: "ok", mintOwnerToken: "ok" })
      expect(results.admin).toEqual({ ...allowed, createOwner: "Forbidden", renameOwner: "Forbidden", mintOwnerToken: "Forbidden" })
      expect(results.editor).toEqual(forbidden)
      expect(results.auditor).toEqual(forbidden)
      // what the refusals say
      const refused = yield* Effect.flip(clients.editor.users.list({ path: t }))
      expect(refused.message).toBe("the editor role may not do this; it needs one of: owner, admin")
    })
  )

  it.effect("only owners promote, demote or remove owners; the last enabled owner stays", () =>
    Effect.gen(function* () {
      const { clients, ids } = yield* team("t-owners", "192.0.2.16/28")
      const t = { tenantId: "t-owners" }
      expect(yield* tagOf(clients.admin.users.update({ path: { ...t, userId: ids.editor }, payload: { role: "owner" } }))).toBe("Forbidden")
      expect(yield* tagOf(clients.admin.users.delete({ path: { ...t, userId: ids.owner } }))).toBe("Forbidden")
      expect(yield* tagOf(clients.admin.users.update({ path: { ...t, userId: ids.owner }, payload: { disabled: true } }))).toBe("Forbidden")
      // the only owner cannot step down, be disabled or be removed, not even by itself or an operator
      const operator = yield* operatorClient
      for (const attempt of [
        clients.owner.users.update({ path: { ...t, userId: ids.owner }, payload: { role: "admin" } }),
        clients.owner.users.update({ path: { ...t, userId: ids.owner }, payload: { disabled: true } }),
        clients.owner.users.delete({ path: { ...t, userId: ids.owner } }),
        operator.users.delete({ path: { ...t, userId: ids.owner } })
      ]) {
        const e = yield* Effect.flip(attempt)
        expect(e._tag).toBe("LastOwnerRequired")
      }
      // with a second owner, the first may go
      const second = yield* clients.owner.users.update({ path: { ...t, userId: ids.admin }, payload: { role: "owner" } })
      expect(second.role).toBe("owner")
      yield* clients.owner.users.update({ path: { ...t, userId: ids.owner }, payload: { role: "editor" } })
      expect((yield* operator.users.get({ path: { ...t, userId: ids.owner } })).role).toBe("editor")
      // the demotion applies to the open session at once
      expect(yield* tagOf(clients.owner.users.list({ path: t }))).toBe("Forbidden")
    })
  )

  it.effect("removing or disabling a member ends their sessions; a removed login name is free again", () =>
    Effect.gen(function* () {
      const { clients, ids } = yield* team("t-remove", "192.0.2.32/28")
      const t = { tenantId: "t-remove" }
      yield* clients.admin.users.update({ path: { ...t, userId: ids.auditor }, payload: { disabled: true } })
      expect(yield* Effect.flip(clients.auditor.auth.me())).toMatchObject({ _tag: "Unauthorized", message: UNAUTHORIZED_MESSAGE })
      yield* clients.admin.users.delete({ path: { ...t, userId: ids.editor } })
      expect((yield* Effect.flip(clients.editor.auth.me()))._tag).toBe("Unauthorized")
      expect((yield* Effect.flip(clients.admin.users.get({ path: { ...t, userId: ids.editor } })))._tag).toBe("UserNotFound")
      const again = yield* clients.admin.users.create({
        path: t,
        payload: { email: "EDITOR@t-remove.example", name: "Back", role: "editor", password: PASSWORD }
      })
      expect(again.id).not.toBe(ids.editor)
    })
  )

  it.effect("login names are unique across tenants, case-insensitively; a common password is refused; an unknown tenant is 404", () =>
    Effect.gen(function* () {
      yield* seedTenant("t-uniq-a", "192.0.2.48/28")
      yield* seedTenant("t-uniq-b", "192.0.2.64/28")
      yield* seedUser("t-uniq-a", "sam@shared.example", "owner")
      const operator = yield* operatorClient
      const taken = yield* Effect.flip(
        operator.users.create({ path: { tenantId: "t-uniq-b" }, payload: { email: "SAM@Shared.example", name: "Sam", role: "owner", password: PASSWORD } })
      )
      expect(taken._tag).toBe("LoginNameTaken")
      const weak = yield* Effect.flip(
        operator.users.create({
          path: { tenantId: "t-uniq-b" },
          payload: { email: "tia@t-uniq-b.example", name: "Tia", role: "owner", password: "Password123" }
        })
      )
      expect(weak._tag).toBe("PasswordRejected")
      expect(weak.message).toContain("not a common one")
      const noTenant = yield* Effect.flip(
        operator.users.create({ path: { tenantId: "t-nobody" }, payload: { email: "x@t-nobody.example", name: "X", role: "owner", password: PASSWORD } })
      )
      expect(noTenant._tag).toBe("TenantNotFound")
    })
  )

  it.effect("passwords: self with the current one, admins for non-owners, policy applies, other sessions end", () =>
    Effect.gen(function* () {
      const { clients, ids } = yield* team("t-pw", "192.0.2.80/28")
      const t = { tenantId: "t-pw" }
      const NEW = "Harbour9Lights"
      // self without or with a wrong current password: refused
      expect(yield* tagOf(clients.editor.users.setPassword({ path: { ...t, userId: ids.editor }, payload: { password: NEW } }))).toBe("Forbidden")
      expect(
        yield* tagOf(clients.editor.users.setPassword({ path: { ...t, userId: ids.editor }, payload: { password: NEW, currentPassword: "Wrong7Password" } }))
      ).toBe("Forbidden")
      // policy, with what to fix
      const weak = yield* Effect.flip(
        clients.editor.users.setPassword({ path: { ...t, userId: ids.editor }, payload: { password: "short", currentPassword: PASSWORD } })
      )
      expect(weak._tag).toBe("PasswordRejected")
      expect(weak.message).toContain("use at least 10 characters")
      // a second session of the editor ends with the change; the one that made it stays
      const other = yield* apiClient((yield* signIn(`editor@t-pw.example`)).sessionToken)
      yield* clients.editor.users.setPassword({ path: { ...t, userId: ids.editor }, payload: { password: NEW, currentPassword: PASSWORD } })
      expect((yield* clients.editor.auth.me())._tag).toBe("TenantMember")
      expect((yield* Effect.flip(other.auth.me()))._tag).toBe("Unauthorized")
      expect((yield* signIn("editor@t-pw.example", NEW)).status).toBe("session")
      // an editor may not set someone else's; an admin may not set an owner's; an owner may
      expect(yield* tagOf(clients.editor.users.setPassword({ path: { ...t, userId: ids.auditor }, payload: { password: NEW } }))).toBe("Forbidden")
      expect(yield* tagOf(clients.admin.users.setPassword({ path: { ...t, userId: ids.owner }, payload: { password: NEW } }))).toBe("Forbidden")
      yield* clients.admin.users.setPassword({ path: { ...t, userId: ids.auditor }, payload: { password: NEW } })
      expect((yield* Effect.flip(clients.auditor.auth.me()))._tag).toBe("Unauthorized")
      yield* clients.owner.users.setPassword({ path: { ...t, userId: ids.admin }, payload: { password: NEW } })
      expect((yield* Effect.flip(clients.admin.auth.me()))._tag).toBe("Unauthorized")
    })
  )

  it.effect("API tokens: shown once, listed without secrets, scoped to tenant and role, revoked at once", () =>
    Effect.gen(function* () {
      const { clients } = yield* team("t-tok", "192.0.2.96/28")
      yield* seedTenant("t-tok-b", "192.0.2.112/28")
      const bUser = yield* seedUser("t-tok-b", "owner@t-tok-b.example", "owner")
      const t = { tenantId: "t-tok" }
      const created = yield* clients.admin.apiTokens.create({ path: t, payload: { name: "deploy", role: "admin" } })
      expect(created.token.startsWith(API_TOKEN_PREFIX)).toBe(true)
      expect(Buffer.from(created.token.slice(API_TOKEN_PREFIX.length), "base64url").length).toBe(32)
      expect(created.apiToken).toMatchObject({ name: "deploy", role: "admin", createdBy: "user:admin@t-tok.example" })
      const listed = yield* clients.owner.apiTokens.list({ path: t })
      expect(JSON.stringify(listed)).not.toContain(created.token.slice(API_TOKEN_PREFIX.length, 20))

      const bot = yield* apiClient(created.token)
      expect(yield* bot.auth.me()).toMatchObject({ _tag: "TenantMember", tenantId: "t-tok", role: "admin", via: "apiToken", label: "deploy" })
      expect((yield* bot.users.list({ path: t })).length).toBe(4)
      // another tenant's id and user ids: 404, as if they did not exist
      expect(yield* tagOf(bot.users.list({ path: { tenantId: "t-tok-b" } }))).toBe("TenantNotFound")
      expect(yield* tagOf(bot.users.get({ path: { tenantId: "t-tok", userId: bUser.id } }))).toBe("UserNotFound")
      // the token's role bounds it: an admin token cannot mint owners
      expect(yield* tagOf(bot.apiTokens.create({ path: t, payload: { name: "root", role: "owner" } }))).toBe("Forbidden")
      const editorToken = yield* bot.apiTokens.create({ path: t, payload: { name: "writer", role: "editor" } })
      expect(yield* tagOf((yield* apiClient(editorToken.token)).users.list({ path: t }))).toBe("Forbidden")
      // an admin cannot revoke an owner's token; revoking works at once
      const ownerToken = yield* clients.owner.apiTokens.create({ path: t, payload: { name: "root", role: "owner" } })
      expect(yield* tagOf(clients.admin.apiTokens.revoke({ path: { ...t, tokenId: ownerToken.apiToken.id } }))).toBe("Forbidden")
      yield* clients.admin.apiTokens.revoke({ path: { ...t, tokenId: created.apiToken.id } })
      expect(yield* Effect.flip(bot.auth.me())).toMatchObject({ _tag: "Unauthorized", message: UNAUTHORIZED_MESSAGE })
      expect(yield* tagOf(clients.admin.apiTokens.revoke({ path: { ...t, tokenId: created.apiToken.id } }))).toBe("ApiTokenNotFound")
      // the owner of tenant B cannot revoke A's token, even knowing its id
      const bClient = yield* apiClient((yield* signIn("owner@t-tok-b.example")).sessionToken)
      expect(yield* tagOf(bClient.apiTokens.revoke({ path: { tenantId: "t-tok-b", tokenId: ownerToken.apiToken.id } }))).toBe("ApiTokenNotFound")
      expect(yield* tagOf(bClient.apiTokens.revoke({ path: { tenantId: "t-tok", tokenId: ownerToken.apiToken.id } }))).toBe("TenantNotFound")
    })
  )

  it.effect("tenant A's session against tenant B's user ids: 404 on every users endpoint", () =>
    Effect.gen(function* () {
      yield* seedTenant("t-iso-a", "192.0.2.128/28")
      yield* seedTenant("t-iso-b", "192.0.2.144/28")
      yield* seedUser("t-iso-a", "owner@t-iso-a.example", "owner")
      const victim = yield* seedUser("t-iso-b", "owner@t-iso-b.example", "owner")
      const a = yield* apiClient((yield* signIn("owner@t-iso-a.example")).sessionToken)
      for (const tenantId of ["t-iso-a", "t-iso-b"]) {
        const path = { tenantId, userId: victim.id }
        const expected = tenantId === "t-iso-a" ? "UserNotFound" : "TenantNotFound"
        expect(yield* tagOf(a.users.get({ path })), tenantId).toBe(expected)
        expect(yield* tagOf(a.users.update({ path, payload: { role: "auditor" } })), tenantId).toBe(expected)
        expect(yield* tagOf(a.users.delete({ path })), tenantId).toBe(expected)
        expect(yield* tagOf(a.users.setPassword({ path, payload: { password: "Harbour9Lights" } })), tenantId).toBe(expected)
      }
      const operator = yield* operatorClient
      expect((yield* operator.users.get({ path: { tenantId: "t-iso-b", userId: victim.id } })).role).toBe("owner")
      // B's owner can still sign in with the old password: nothing was changed
      expect((yield* signIn("owner@t-iso-b.example")).status).toBe("session")
    })
  )

  it.effect("deleting a tenant removes its members, sessions and API tokens", () =>
    Effect.gen(function* () {
      const { clients } = yield* team("t-bye", "192.0.2.160/28")
      const token = (yield* clients.owner.apiTokens.create({ path: { tenantId: "t-bye" }, payload: { name: "ci", role: "editor" } })).token
      const operator = yield* operatorClient
      yield* operator.tenants.delete({ path: { tenantId: "t-bye" } })
      expect((yield* Effect.flip(clients.owner.auth.me()))._tag).toBe("Unauthorized")
      expect((yield* Effect.flip((yield* apiClient(token)).auth.me()))._tag).toBe("Unauthorized")
      const login = yield* rawCall("POST", "/auth/login", { json: { email: "owner@t-bye.example", password: PASSWORD } })
      expect(login.status).toBe(401)
      const accounts = yield* AccountRepo
      expect(yield* accounts.listUsers("t-bye")).toEqual([])
      expect(yield* accounts.listApiTokens("t-bye")).toEqual([])
    })
  )

  it.effect("changes are in the audit log, with the member as actor and no secrets", () =>
    Effect.gen(function* () {
      const { clients, ids } = yield* team("t-audit", "192.0.2.176/28")
      yield* clients.owner.users.update({ path: { tenantId: "t-audit", userId: ids.editor }, payload: { role: "auditor" } })
      const minted = yield* clients.admin.apiTokens.create({ path: { tenantId: "t-audit" }, payload: { name: "ci", role: "editor" } })
      const audit = yield* AuditRepo
      const entries = (yield* audit.list("t-audit", {})).entries
      const actions = entries.map((e) => `${e.actor} ${e.action} ${e.target}`)
      expect(actions).toEqual(
        expect.arrayContaining([
          "operator:spec operator user.create user/owner@t-audit.example",
          "user:owner@t-audit.example login.success user/owner@t-audit.example",
          "user:owner@t-audit.example user.update user/editor@t-audit.example",
          `user:admin@t-audit.example token.create api-token/${minted.apiToken.id}`
        ])
      )
      expect(entries.find((e) => e.action === "user.update")).toMatchObject({ before: "editor", after: "auditor" })
      const wire = JSON.stringify(entries)
      for (const secret of [minted.token, PASSWORD, "scrypt$"]) expect(wire).not.toContain(secret)
    })
  )
})
