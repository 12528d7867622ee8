import { expect, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import { DirectorySync } from "../../src/sync/DirectorySync.js"
import { SyncRepo } from "../../src/sync/SyncRepo.js"
import { adminTestLayer, apiClient, createPayload, operatorClient, operatorHeaders, rawRequest, tenantBody } from "../admin/AdminHarness.js"
import { CLIENT_ID, CLIENT_SECRET, graphUser } from "./GraphStandIn.js"
import { standIn } from "./SyncHarness.js"

const errorOf = <A, E>(effect: Effect.Effect<A, E>) => Effect.flip(effect)

const graphInput = (graph: { tokenUrl: string; base: string; caCert: string }, extra: Record<string, unknown> = {}) => ({
  type: "graph" as const,
  name: "entra",
  tokenUrl: graph.tokenUrl,
  graphBaseUrl: graph.base,
  clientId: CLIENT_ID,
  clientSecret: CLIENT_SECRET,
  caCertPem: graph.caCert,
  ...extra
})

/** A tenant and a member token of that tenant with `role`. */
const tenantWithMember = (id: string, cidr: string, role: "owner" | "admin" | "editor" | "auditor") =>
  Effect.gen(function* () {
    const client = yield* operatorClient
    yield* client.tenants.create({ payload: createPayload(tenantBody(id, cidr, { directory: [] })) })
    const created = yield* client.apiTokens.create({ path: { tenantId: id }, payload: { name: `${role}-token`, role } })
    return created.token
  })

layer(adminTestLayer())("admin API: directory sync", (it) => {
  it.scoped("sources are saved with the secret write-only; sync now runs a pass and the status shows it", () =>
    Effect.gen(function* () {
      const graph = yield* standIn({ pageSize: 4 })
      for (let i = 0; i < 10; i++) graph.put(graphUser(i, "s-api.example"))
      const adminToken = yield* tenantWithMember("s-api", "198.51.110.0/24", "admin")
      const client = yield* apiClient(adminToken)

      const saved = yield* client.sync.putSources({ path: { tenantId: "s-api" }, payload: { sources: [graphInput(graph)], intervalSeconds: 3600 } })
      expect(saved.sources[0]).toMatchObject({ type: "graph", name: "entra", clientSecret: "(set)", clientId: CLIENT_ID })
      expect(saved.effectiveIntervalSeconds).toBe(3600)
      const headers = yield* operatorHeaders
      for (const path of ["/tenants/s-api/directory/sources", "/tenants/s-api/directory/sync"]) {
        const raw = yield* rawRequest("GET", path, { headers })
        expect(raw.status).toBe(200)
        expect(raw.text).not.toContain(CLIENT_SECRET)
      }
      const stored = yield* (yield* SyncRepo).rawEntries("s-api")
      for (const e of stored) expect(Buffer.from(e.bytes).includes(Buffer.from(CLIENT_SECRET))).toBe(false)

      expect((yield* client.sync.status({ path: { tenantId: "s-api" } })).state).toBe("idle")
      const started = yield* client.sync.syncNow({ path: { tenantId: "s-api" } })
      expect(started.state).toBe("running")
      const running = yield* (yield* DirectorySync).running("s-api")
      if (Option.isSome(running)) yield* running.value
      const status = yield* client.sync.status({ path: { tenantId: "s-api" } })
      expect(status).toMatchObject({ state: "idle", mode: "full", counts: { seen: 10, upserted: 10, removed: 0, rejected: 0 } })
      expect(status.lastSuccessAt).toBeDefined()

      // an update without the secret keeps it: the next pass still authenticates
      const kept = yield* client.sync.putSources({
        path: { tenantId: "s-api" },
        payload: { sources: [graphInput(graph, { clientSecret: undefined, includeGroups: false })] }
      })
      expect(kept.sources[0]).toMatchObject({ clientSecret: "(set)" })
      expect(kept.effectiveIntervalSeconds).toBe(86_400)
      const again = yield* (yield* DirectorySync).runOnce("s-api")
      expect(again.state).toBe("idle")

      // a new source without its secret, two sources with one name: 400, nothing changed
      const missing = yield* errorOf(
        client.sync.putSources({ path: { tenantId: "s-api" }, payload: { sources: [graphInput(graph, { name: "other", clientSecret: undefined })] } })
      )
      expect(missing._tag).toBe("SourcesInvalid")
      expect((missing as { message: string }).message).toContain("clientSecret is required")
      const twice = yield* errorOf(client.sync.putSources({ path: { tenantId: "s-api" }, payload: { sources: [graphInput(graph), graphInput(graph)] } }))
      expect((twice as { message: string }).message).toContain("named entra")
      expect((yield* client.sync.getSources({ path: { tenantId: "s-api" } })).sources.map((s) => s.name)).toEqual(["entra"])

      const audit = yield* client.audit.list({ path: { tenantId: "s-api" }, urlParams: {} })
      const actions = audit.entries.map((e) => e.action)
      expect(actions).toContain("directory.sync")
      expect(actions.filter((a) => a === "directory.sources.update")).toHaveLength(2)
      expect(JSON.stringify(audit)).not.toContain(CLIENT_SECRET)
    })
  )

  it.scoped("sync now without a source is 409 with what to do", () =>
    Effect.gen(function* () {
      const token = yield* tenantWithMember("s-none", "198.51.111.0/24", "owner")
      const client = yield* apiClient(token)
      const error = yield* errorOf(client.sync.syncNow({ path: { tenantId: "s-none" } }))
      expect(error._tag).toBe("SyncNotConfigured")
      expect((error as { message: string }).message).toContain("PUT /tenants/s-none/directory/sources")
    })
  )

  it.scoped("roles: every member reads the status, owners and admins alone sync and see sources; other tenants get 404", () =>
    Effect.gen(function* () {
      const editor = yield* apiClient(yield* tenantWithMember("s-roles", "198.51.112.0/24", "editor"))
      const operator = yield* operatorClient
      const auditor = yield* apiClient((yield* operator.apiTokens.create({ path: { tenantId: "s-roles" }, payload: { name: "aud", role: "auditor" } })).token)
      expect((yield* editor.sync.status({ path: { tenantId: "s-roles" } })).state).toBe("idle")
      expect((yield* auditor.sync.status({ path: { tenantId: "s-roles" } })).state).toBe("idle")
      for (const call of <ReadonlyArray<Effect.Effect<unknown, { readonly _tag: string }>>>[
        editor.sync.syncNow({ path: { tenantId: "s-roles" } }),
        editor.sync.getSources({ path: { tenantId: "s-roles" } }),
        auditor.sync.putSources({ path: { tenantId: "s-roles" }, payload: { sources: [] } })
      ])
        expect((yield* errorOf(call))._tag).toBe("Forbidden")

      const outsider = yield* apiClient(yield* tenantWithMember("s-other", "198.51.113.0/24", "owner"))
      for (const call of <ReadonlyArray<Effect.Effect<unknown, { readonly _tag: string }>>>[
        outsider.sync.status({ path: { tenantId: "s-roles" } }),
        outsider.sync.syncNow({ path: { tenantId: "s-roles" } }),
        outsider.sync.getSources({ path: { tenantId: "s-roles" } }),
        outsider.sync.putSources({ path: { tenantId: "s-roles" }, payload: { sources: [] } })
      ])
        expect((yield* errorOf(call))._tag).toBe("TenantNotFound")
      expect((yield* errorOf(operator.sync.status({ path: { tenantId: "no-such-tenant" } })))._tag).toBe("TenantNotFound")
    })
  )
})
