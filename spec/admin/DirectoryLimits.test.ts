import { expect, layer } from "@effect/vitest"
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { Effect } from "effect"
import { MAX_IMPORT_BYTES } from "../../src/admin/directory/Api.js"
import { AdminEnv, adminTestLayer, createPayload, operatorClient, tenantBody } from "./AdminHarness.js"

layer(adminTestLayer())("admin API: directory import size limit", (it) => {
  it.effect("a CSV body over MAX_IMPORT_BYTES is 413 ImportTooLarge and writes nothing", () =>
    Effect.gen(function* () {
      const client = yield* operatorClient
      yield* client.tenants.create({ payload: createPayload(tenantBody("d-bytes", "198.51.141.0/24")) })
      const env = yield* AdminEnv
      const http = yield* HttpClient.HttpClient
      const line = "someone@d-bytes.example,A Name\n"
      const body = "mail,displayName\n" + line.repeat(Math.ceil((MAX_IMPORT_BYTES + 1) / line.length))
      expect(body.length).toBeGreaterThan(MAX_IMPORT_BYTES)
      const response = yield* http.execute(
        HttpClientRequest.post(`${env.baseUrl}/tenants/d-bytes/directory/import/csv`).pipe(
          HttpClientRequest.bearerToken(env.token),
          HttpClientRequest.bodyText(body, "text/csv")
        )
      )
      expect(response.status).toBe(413)
      expect(yield* response.text).toContain("50 MB")
      expect((yield* client.directory.status({ path: { tenantId: "d-bytes" } })).users).toBe(1)
    })
  )
})
