/**
 * Sync specs' layer and helpers: real LMDB in a temp folder, the real tenant
 * registry and actors, SyncRepo with a random credential key, DirectorySync
 * (scheduler off unless asked), and a Graph stand-in per test.
 */
import { Effect, Layer, Option } from "effect"
import { TenantRegistry } from "../../src/actors/TenantRegistry.js"
import { DirectoryWriterLive } from "../../src/actors/DirectoryWriterLive.js"
import type { DirectoryUser } from "../../src/domain/Directory.js"
import type { TenantId } from "../../src/domain/Tenant.js"
import { Store } from "../../src/store/Store.js"
import { TenantRepo } from "../../src/store/TenantRepo.js"
import { SecretKeys } from "../../src/store/SecretCipher.js"
import { DirectorySync, SyncOptions, type SyncOptionsShape } from "../../src/sync/DirectorySync.js"
import { SyncRepo } from "../../src/sync/SyncRepo.js"
import { GraphSourceSettings, type SourceSettings, TenantSyncSettings } from "../../src/domain/SyncSettings.js"
import { acmeFile } from "../store/TenantFixtures.js"
import { TempStorePath } from "../store/TempStore.js"
import { makeSelfSigned } from "../support/Certs.js"
import { CLIENT_ID, CLIENT_SECRET, GraphStandIn, type StandInOptions } from "./GraphStandIn.js"
import { tenantImport } from "../../src/actors/TenantImport.js"
import { PhotoNormaliserLive } from "../../src/images/PhotoNormaliser.js"

export const syncTestLayer = (options: Partial<SyncOptionsShape> = { enabled: false }) =>
  DirectorySync.Default.pipe(
    Layer.provideMerge(DirectoryWriterLive),
    Layer.provide(PhotoNormaliserLive),
    Layer.provideMerge(Layer.mergeAll(TenantRegistry.Default, TenantRepo.Default, Store.Default, SyncRepo.Default)),
    Layer.provide(SyncOptions.layer(options)),
    Layer.provide(SecretKeys.random),
    Layer.provide(TempStorePath)
  )

/** A Graph stand-in for the current scope. */
export const standIn = (options: Partial<StandInOptions> = {}) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const cert = await makeSelfSigned("127.0.0.1")
      return new GraphStandIn({ key: cert.key, cert: cert.cert, ...options }).start()
    }),
    (s) => Effect.promise(() => s.stop())
  )

export const graphSettings = (graph: GraphStandIn, overrides: Partial<ConstructorParameters<typeof GraphSourceSettings>[0]> = {}) =>
  GraphSourceSettings.make({
    name: "entra",
    tokenUrl: graph.tokenUrl,
    graphBaseUrl: graph.base,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    includeGroups: false,
    caCertPem: graph.caCert,
    ...overrides
  })

/** A tenant with the given id, domain contoso.example-like, an empty directory, and these sync sources. */
export const tenantWithSources = (id: string, sources: ReadonlyArray<SourceSettings>, directory: ReadonlyArray<Record<string, unknown>> = []) =>
  Effect.gen(function* () {
    const repo = yield* TenantRepo
    yield* tenantImport(repo).importTenant(acmeFile({ id, name: id, domains: [`${id}.example`], connectors: [], directory: directory as never }))
    const sync = yield* SyncRepo
    yield* sync.putSettings(id, TenantSyncSettings.make({ sources }))
    return id as TenantId
  })

/** The cached directory as the relay sees it (the actor's lookup). */
export const lookup = (tenantId: TenantId, address: string) =>
  Effect.flatMap(TenantRegistry, (r) => Effect.flatMap(r.actor(tenantId), (a) => a.lookupUser(address)))

export const cachedMails = (tenantId: TenantId) =>
  Effect.gen(function* () {
    const repo = yield* TenantRepo
    const file = yield* repo.exportTenant(tenantId)
    return (file.directory ?? []).map((u: DirectoryUser | { mail: string }) => u.mail.toLowerCase()).sort()
  })

export const someUser = (o: Option.Option<DirectoryUser>) => Option.getOrThrow(o)
