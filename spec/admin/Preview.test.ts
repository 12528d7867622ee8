import { expect, layer } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { PreviewRequest } from "../../src/admin/rules/PreviewApi.js"
import { RuleCreate } from "../../src/admin/rules/Api.js"
import { adminTestLayer, apiClient, operatorClient, operatorHeaders, rawRequest } from "./AdminHarness.js"
import { createContentTenant, memberClient } from "./ContentHarness.js"

const errorOf = <A, E>(effect: Effect.Effect<A, E>) => Effect.flip(effect)
const preview = (body: unknown) => Schema.decodeUnknownSync(PreviewRequest)(body)

layer(adminTestLayer())("admin API: preview (rules tester)", (it) => {
  it.effect("the winning rule per recipient group, why the earlier rules did not match, and the rendered signature", () =>
    Effect.gen(function* () {
      yield* createContentTenant("pre-a", "203.0.113.0/28")
      const client = yield* operatorClient
      const answer = yield* client.preview.preview({
        path: { tenantId: "pre-a" },
        payload: preview({ sender: "alice@pre-a.example", recipients: ["bob@pre-a.example", "carol@customer.example"], subject: "Figures" })
      })
      expect(answer.kind).toBe("new")
      const bob = answer.recipients.find((r) => r.recipient === "bob@pre-a.example")!
      expect(bob.applied).toEqual(["everyone"])
      expect(bob.outcomes[0].ruleId).toBe("external")
      expect(bob.outcomes[0].verdict._tag).toBe("ConditionFailed")
      expect(bob.outcomes[0].summary).toMatch(/^skipped: /)
      expect(bob.outcomes[1].summary).toBe("applied")
      const carol = answer.recipients.find((r) => r.recipient === "carol@customer.example")!
      expect(carol.applied).toEqual(["external"])
      expect(carol.outcomes[1].verdict._tag).toBe("NotReached")

      expect(answer.groups).toHaveLength(2)
      const internal = answer.groups.find((g) => g.recipients.includes("bob@pre-a.example"))!
      expect(internal.ruleIds).toEqual(["everyone"])
      expect(internal.html).toContain("<p>Alice Example | Engineer</p>")
      expect(internal.text).toBe("Alice Example | Engineer")
      const external = answer.groups.find((g) => g.recipients.includes("carol@customer.example"))!
      expect(external.html).toContain("Confidential")
      expect(Number.isNaN(Date.parse(answer.at))).toBe(false)
    })
  )

  it.effect("kind and the evaluation time come from the request: a date-windowed reply rule wins only inside its window", () =>
    Effect.gen(function* () {
      yield* createContentTenant("pre-w", "203.0.113.16/28")
      const client = yield* operatorClient
      yield* client.rules.create({
        path: { tenantId: "pre-w" },
        payload: Schema.decodeUnknownSync(RuleCreate)({
          id: "xmas",
          name: "Christmas replies",
          templateId: "disc",
          at: 0,
          conditions: { kinds: ["reply"], dateWindow: { start: "2026-12-20T00:00", end: "2026-12-27T00:00", timeZone: "Europe/Berlin" } }
        })
      })
      const ask = (body: Record<string, unknown>) =>
        client.preview.preview({
          path: { tenantId: "pre-w" },
          payload: preview({ sender: "alice@pre-w.example", recipients: ["bob@pre-w.example"], ...body })
        })
      const inside = yield* ask({ kind: "reply", at: "2026-12-24T12:00:00Z" })
      expect(inside.kind).toBe("reply")
      expect(inside.at).toBe("2026-12-24T12:00:00.000Z")
      expect(inside.recipients[0].applied).toEqual(["xmas"])
      const after = yield* ask({ kind: "reply", at: "2027-01-02T12:00:00Z" })
      expect(after.recipients[0].applied).toEqual(["everyone"])
      expect(after.recipients[0].outcomes[0].verdict._tag).toBe("ConditionFailed")
      // kind read from the subject when not given
      const bySubject = yield* ask({ subject: "Re: plans", at: "2026-12-24T12:00:00Z" })
      expect(bySubject.kind).toBe("reply")
      expect(bySubject.recipients[0].applied).toEqual(["xmas"])
      const fresh = yield* ask({ kind: "new", at: "2026-12-24T12:00:00Z" })
      expect(fresh.recipients[0].applied).toEqual(["everyone"])
    })
  )

  it.effect("a sender not in the directory gets no signature, with the reason", () =>
    Effect.gen(function* () {
      yield* createContentTenant("pre-n", "203.0.113.32/28")
      const client = yield* operatorClient
      const answer = yield* client.preview.preview({
        path: { tenantId: "pre-n" },
        payload: preview({ sender: "zed@pre-n.example", recipients: ["bob@pre-n.example"] })
      })
      expect(answer.decision).toMatchObject({ _tag: "NoSignature", reason: "sender-not-in-directory" })
      expect(answer.groups).toEqual([])
    })
  )

  it.effect("payload errors are 400; an auditor may not preview, an editor may; no token is 401; another tenant is 404", () =>
    Effect.gen(function* () {
      yield* createContentTenant("pre-r", "203.0.113.48/28")
      yield* createContentTenant("pre-r2", "203.0.113.64/28")
      const headers = yield* operatorHeaders
      const empty = yield* rawRequest("POST", "/tenants/pre-r/preview", { headers, json: { sender: "alice@pre-r.example", recipients: [] } })
      expect(empty.status).toBe(400)
      const badKind = yield* rawRequest("POST", "/tenants/pre-r/preview", {
        headers,
        json: { sender: "a@pre-r.example", recipients: ["b@x.example"], kind: "fax" }
      })
      expect(badKind.status).toBe(400)
      expect(badKind.text).toContain("kind")
      const badAt = yield* rawRequest("POST", "/tenants/pre-r/preview", {
        headers,
        json: { sender: "a@pre-r.example", recipients: ["b@x.example"], at: "someday" }
      })
      expect(badAt.status).toBe(400)

      const payload = preview({ sender: "alice@pre-r.example", recipients: ["bob@pre-r.example"] })
      const auditor = yield* memberClient("pre-r", "auditor")
      expect((yield* errorOf(auditor.preview.preview({ path: { tenantId: "pre-r" }, payload })))._tag).toBe("Forbidden")
      const editor = yield* memberClient("pre-r", "editor")
      expect((yield* editor.preview.preview({ path: { tenantId: "pre-r" }, payload })).recipients[0].applied).toEqual(["everyone"])
      const anonymous = yield* apiClient(undefined)
      expect((yield* errorOf(anonymous.preview.preview({ path: { tenantId: "pre-r" }, payload })))._tag).toBe("Unauthorized")
      const outsider = yield* memberClient("pre-r2", "owner")
      expect((yield* errorOf(outsider.preview.preview({ path: { tenantId: "pre-r" }, payload })))._tag).toBe("TenantNotFound")
    })
  )
})
