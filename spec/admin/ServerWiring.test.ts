import { HttpApiClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Either, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Api } from "../../src/admin/Api.js"
import { decodeConfig, type ImprintConfig } from "../../src/config.js"
import { liveLayer, RunningServer, serverLayer } from "../../src/Server.js"
import { makeSelfSigned } from "../support/Certs.js"
import { tempDir } from "../store/TempStore.js"

/**
 * `serverLayer` as `imprint serve` builds it: SMTP and the admin API from one
 * config, over the live layer. Ports are 0, so the real ones come back.
 */

const configAt = (dataDir: string, admin: Record<string, unknown>): ImprintConfig =>
  Either.getOrThrow(decodeConfig({ dataDir, smtp: { host: "127.0.0.1", port: 0 }, admin: { port: 0, ...admin } }))

const serve = (config: ImprintConfig, admin: boolean) =>
  Layer.build(serverLayer(config, { admin })).pipe(Effect.map(Context.get(RunningServer)), Effect.provide(liveLayer(config)))

/** A client for the admin API at `port`, trusting `ca` (or, for the generated certificate, not verifying: tests only). */
const healthz = (port: number, tls: { ca: string } | { rejectUnauthorized: false }) =>
  Effect.gen(function* () {
    const client = yield* HttpApiClient.make(Api, { baseUrl: `https://127.0.0.1:${port}` })
    return yield* client.ops.healthz()
  }).pipe(Effect.provide(NodeHttpClient.layerWithoutAgent.pipe(Layer.provide(NodeHttpClient.makeAgentLayer(tls)))))

describe("serverLayer with the admin API", () => {
  it.scoped("serves HTTPS on admin.port with the SMTP side's generated certificate", () =>
    Effect.gen(function* () {
      const config = configAt(yield* tempDir, {})
      const server = yield* serve(config, true)
      expect(server.port).toBeGreaterThan(0)
      expect(server.adminPort).toBeGreaterThan(0)
      expect(server.adminPort).not.toBe(server.port)
      expect(yield* healthz(server.adminPort!, { rejectUnauthorized: false })).toEqual({ status: "ok" })
      // plain HTTP on the admin port gets no HTTP answer
      const plain = yield* Effect.promise(() =>
        fetch(`http://127.0.0.1:${server.adminPort}/healthz`).then(
          (r) => r.status,
          () => "refused"
        )
      )
      expect(plain).toBe("refused")
    })
  )

  it.scoped("uses admin.tlsKeyFile/tlsCertFile when given (a client trusting only that certificate connects)", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const cert = yield* Effect.promise(() => makeSelfSigned("127.0.0.1"))
      fs.writeFileSync(path.join(dir, "admin.key.pem"), cert.key)
      fs.writeFileSync(path.join(dir, "admin.cert.pem"), cert.cert)
      const config = configAt(dir, { tlsKeyFile: path.join(dir, "admin.key.pem"), tlsCertFile: path.join(dir, "admin.cert.pem") })
      const server = yield* serve(config, true)
      expect(yield* healthz(server.adminPort!, { ca: cert.cert })).toEqual({ status: "ok" })
    })
  )

  it.scoped("is not started when admin.enabled is false, nor unless the caller asks for it", () =>
    Effect.gen(function* () {
      const disabled = yield* serve(configAt(yield* tempDir, { enabled: false }), true)
      expect(disabled.adminPort).toBeUndefined()
      const notAsked = yield* serve(configAt(yield* tempDir, {}), false)
      expect(notAsked.adminPort).toBeUndefined()
    })
  )

  it("admin settings decode with their defaults and reject unknown keys", () => {
    const config = Either.getOrThrow(decodeConfig({}))
    expect(config.admin).toMatchObject({ enabled: true, host: "127.0.0.1", port: 8443, metricsTenantLabels: false })
    const typo = decodeConfig({ admin: { metricTenantLabels: true } })
    expect(Either.isLeft(typo) && typo.left.message).toContain("metricTenantLabels")
  })
})
