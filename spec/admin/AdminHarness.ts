/**
 * A real admin API for specs: HTTPS on 127.0.0.1 port 0 with a self-signed
 * certificate the test client trusts as its CA, real LMDB in a temp folder,
 * the real TenantRepo/TenantRegistry/AdminRepo, and operator tokens created
 * through the AdminRepo as `imprint admin token create` does.
 */
import { HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Context, Effect, Layer, Option, Schema } from "effect"
import { TenantRegistry } from "../../src/actors/TenantRegistry.js"
import { adminListenerLayer } from "../../src/AdminRoot.js"
import { AdminListener } from "../../src/Listeners.js"
import { Api, TenantCreate, TenantUpdate } from "../../src/admin/Api.js"
import { AdminRepo } from "../../src/store/AdminRepo.js"
import type { AccountConfigShape } from "../../src/domain/AccountSettings.js"
import { AccountRepo } from "../../src/store/AccountRepo.js"
import { SessionRepo } from "../../src/store/SessionRepo.js"
import { AuditRepo } from "../../src/store/AuditRepo.js"
import { DirectoryRepo } from "../../src/store/DirectoryRepo.js"
import { Store } from "../../src/store/Store.js"
import { TenantRepo } from "../../src/store/TenantRepo.js"
import { SecretKeys } from "../../src/store/SecretCipher.js"
import { DirectorySync, SyncOptions } from "../../src/sync/DirectorySync.js"
import { DirectoryWriterLive } from "../../src/actors/DirectoryWriterLive.js"
import { SyncRepo } from "../../src/sync/SyncRepo.js"
import { makeSelfSigned, type SelfSigned } from "../support/Certs.js"
import { tempDir, TempStorePath, traceStoreAt } from "../store/TempStore.js"
import { TraceHashKey, TraceSearch } from "../../src/trace/TraceSearch.js"
import { PhotoNormaliserLive } from "../../src/images/PhotoNormaliser.js"

export class TestCert extends Context.Tag("spec/admin/TestCert")<TestCert, SelfSigned>() {}

export interface AdminEnvShape {
  readonly baseUrl: string
  /** a live operator token */
  readonly token: string
  /** a token that existed and was revoked */
  readonly revokedToken: string
}
export class AdminEnv extends Context.Tag("spec/admin/AdminEnv")<AdminEnv, AdminEnvShape>() {}

const CertLayer = Layer.effect(
  TestCert,
  Effect.promise(() => makeSelfSigned("127.0.0.1"))
)

/** Directory sync for the sync endpoints: a random credential key, no scheduler. */
const SyncLayers = DirectorySync.Default.pipe(
  Layer.provideMerge(SyncRepo.Default),
  Layer.provide(DirectoryWriterLive.pipe(Layer.provideMerge(TenantRegistry.Default))),
  Layer.provide(PhotoNormaliserLive),
  Layer.provide(SyncOptions.layer({ enabled: false })),
  Layer.provide(SecretKeys.random)
)

/** The message trace's store (its own temp folder) and search; specs write records through TraceStore. */
const TraceLayers = TraceSearch.Default.pipe(
  Layer.provideMerge(Layer.unwrapScoped(Effect.map(tempDir, traceStoreAt))),
  Layer.provideMerge(Layer.succeed(TraceHashKey, Buffer.alloc(32, 1)))
)

const StoreLayers = Layer.mergeAll(
  SyncLayers,
  Store.Default,
  TenantRepo.Default,
  TenantRegistry.Default,
  AdminRepo.Default,
  AuditRepo.Default,
  DirectoryRepo.Default,
  SessionRepo.Default,
  AccountRepo.Default,
  TraceLayers
).pipe(Layer.provide(TempStorePath))

/** Node's https agent trusting only the test certificate: verification stays on. */
const ClientLayer = Layer.unwrapEffect(
  Effect.map(TestCert, (c) => NodeHttpClient.layerWithoutAgent.pipe(Layer.provide(NodeHttpClient.makeAgentLayer({ ca: c.cert }))))
)

/** Sign-in settings for the server (a mail sink's port, short expiries); provide it around adminTestLayer. */
export class AdminTestAccounts extends Context.Tag("spec/admin/AdminTestAccounts")<AdminTestAccounts, AccountConfigShape>() {}

/** The admin server as the composition root builds it (AdminRoot.ts adminListenerLayer), with the test certificate. */
const ListenerLayer = (metricsTenantLabels: boolean) =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const cert = yield* TestCert
      const accounts = Option.getOrUndefined(yield* Effect.serviceOption(AdminTestAccounts))
      return adminListenerLayer({ host: "127.0.0.1", port: 0, tls: cert, metricsTenantLabels, accounts })
    })
  )

const ServerLayer = (metricsTenantLabels: boolean) =>
  Layer.scoped(
    AdminEnv,
    Effect.gen(function* () {
      const server = yield* AdminListener
      const admin = yield* AdminRepo
      const { token } = yield* admin.createOperatorToken("spec operator")
      const revoked = yield* admin.createOperatorToken("revoked operator")
      yield* admin.revokeOperatorToken(revoked.record.id)
      return { baseUrl: server.url, token, revokedToken: revoked.token }
    })
  ).pipe(Layer.provide(ListenerLayer(metricsTenantLabels)))

export const adminTestLayer = (options: { readonly metricsTenantLabels?: boolean } = {}) =>
  ServerLayer(options.metricsTenantLabels ?? false).pipe(
    Layer.provideMerge(StoreLayers),
    Layer.provideMerge(ClientLayer),
    Layer.provideMerge(CertLayer),
    Layer.orDie
  )

/** The typed client; `token` undefined sends no Authorization header. */
export const apiClient = (token: string | undefined) =>
  Effect.gen(function* () {
    const env = yield* AdminEnv
    return yield* HttpApiClient.make(Api, {
      baseUrl: env.baseUrl,
      transformClient: token === undefined ? undefined : HttpClient.mapRequest(HttpClientRequest.bearerToken(token))
    })
  })

/** The operator's client. */
export const operatorClient = Effect.flatMap(AdminEnv, (env) => apiClient(env.token))

/**
 * A raw request (status, headers and body as sent), for what the typed client
 * hides or refuses to send (bodies that do not match the contract).
 */
export const rawRequest = (method: "GET" | "POST", path: string, options: { headers?: Record<string, string>; json?: unknown } = {}) =>
  Effect.gen(function* () {
    const env = yield* AdminEnv
    const client = yield* HttpClient.HttpClient
    let request = HttpClientRequest.make(method)(`${env.baseUrl}${path}`).pipe(HttpClientRequest.setHeaders(options.headers ?? {}))
    if (options.json !== undefined) request = yield* HttpClientRequest.bodyJson(request, options.json)
    const response = yield* client.execute(request)
    return { status: response.status, headers: response.headers, text: yield* response.text }
  })

/** Operator bearer header for raw requests. */
export const operatorHeaders = Effect.map(AdminEnv, (env) => ({ authorization: `Bearer ${env.token}` }))

/** A JSON body as the typed client takes it (decoded, so the client can encode it back). */
export const createPayload = (body: unknown) => Schema.decodeUnknownSync(TenantCreate)(body)
export const updatePayload = (body: unknown) => Schema.decodeUnknownSync(TenantUpdate)(body)

/** A tenant file bound by a documentation-range CIDR, so specs never collide with each other's addresses. */
export const tenantBody = (id: string, cidr: string, extra: Record<string, unknown> = {}) => ({
  id,
  name: `Tenant ${id}`,
  domains: [`${id}.example`],
  connectors: [
    { type: "auth" as const, username: `${id}-relay`, password: `relay-password-of-${id}` },
    { type: "cidr" as const, cidrs: [cidr] }
  ],
  downstream: { host: "127.0.0.1", port: 2525, auth: { user: "down-user", pass: "down-secret-pass" } },
  templates: [{ id: "default", name: "Default", html: "<p>{{displayName}}</p>" }],
  rules: [{ id: "all", name: "Everyone", templateId: "default" }],
  directory: [{ mail: `alice@${id}.example`, displayName: "Alice" }],
  ...extra
})
