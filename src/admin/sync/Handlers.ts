import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { Duration, Effect, Option, Schema } from "effect"
import { TenantNotFound } from "../../domain/Errors.js"
import { TenantId } from "../../domain/Tenant.js"
import { TenantRepo } from "../../store/TenantRepo.js"
import { DirectorySync } from "../../sync/DirectorySync.js"
import { settingsProblem } from "../../sync/Sources.js"
import { SyncRepo } from "../../sync/SyncRepo.js"
import {
  FileSourceSettings,
  GRAPH_DEFAULT_BASE_URL,
  GraphSourceSettings,
  LdapSourceSettings,
  MIN_SYNC_INTERVAL_SECONDS,
  SECRET_SET,
  type SourceSettings,
  type SyncStatus,
  TenantSyncSettings
} from "../../domain/SyncSettings.js"
import { Api, StoreFailure, storeFailureOf } from "../Api.js"
import { recordAudit } from "../audit/Audit.js"
import { requireTenantRole } from "../http/Principal.js"
import { ADMIN_ROLES, READ_ROLES } from "../../domain/Role.js"
import { type SourceInput, SourcesInvalid, SourcesView, SyncNotConfigured, SyncStatusView } from "./Api.js"

/** Directory sync endpoints (src/admin/sync/Api.ts). Secrets go in, never out. */

const storeFailure = (what: string) => (e: { readonly message: string }) =>
  Effect.logError(`admin API: ${what} failed`, e).pipe(Effect.zipRight(Effect.fail(storeFailureOf(e))))

const statusView = (s: SyncStatus) => SyncStatusView.make({ ...s })

/** The stored settings as an answer: "(set)" for every secret. */
const sourceView = (s: SourceSettings) => {
  switch (s._tag) {
    case "graph": {
      const { _tag, clientSecret, ...rest } = s
      return { type: "graph" as const, ...rest, clientSecret: SECRET_SET as typeof SECRET_SET }
    }
    case "ldap": {
      const { _tag, password, ...rest } = s
      return { type: "ldap" as const, ...rest, password: SECRET_SET as typeof SECRET_SET }
    }
    case "file":
      return { type: "file" as const, name: s.name, ...(s.mapping === undefined ? {} : { mapping: s.mapping }) }
  }
}

/** An update's source → stored settings; a secret left out (or "(set)") is the stored one of the same name. */
const toSettings = (input: SourceInput, previous: ReadonlyArray<SourceSettings>): Effect.Effect<SourceSettings, SourcesInvalid> =>
  Effect.gen(function* () {
    const before = previous.find((p) => p.name === input.name)
    const invalid = (message: string) => new SourcesInvalid({ message: `source ${input.name}: ${message}` })
    const decode = <A>(make: () => A) =>
      Effect.try({
        try: make,
        catch: (e) =>
          invalid(
            String((e as Error).message)
              .split("\n")
              .slice(0, 6)
              .join(" ")
          )
      })
    switch (input.type) {
      case "graph": {
        const { type, clientSecret, ...rest } = input
        const secret = clientSecret !== undefined && clientSecret !== SECRET_SET ? clientSecret : before?._tag === "graph" ? before.clientSecret : undefined
        if (secret === undefined || secret === "") return yield* invalid("clientSecret is required for a new Graph source")
        return yield* decode(() =>
          GraphSourceSettings.make({
            ...rest,
            graphBaseUrl: rest.graphBaseUrl ?? GRAPH_DEFAULT_BASE_URL,
            includeGroups: rest.includeGroups ?? false,
            clientSecret: secret
          })
        )
      }
      case "ldap": {
        const { type, password, ...rest } = input
        const secret = password !== undefined && password !== SECRET_SET ? password : before?._tag === "ldap" ? before.password : undefined
        if (secret === undefined || secret === "") return yield* invalid("password is required for a new LDAP source")
        const settings = yield* decode(() => LdapSourceSettings.make({ ...rest, password: secret }))
        const problem = settingsProblem(settings)
        return problem === undefined ? settings : yield* new SourcesInvalid({ message: problem })
      }
      case "file":
        return yield* decode(() => FileSourceSettings.make({ name: input.name, ...(input.mapping === undefined ? {} : { mapping: input.mapping }) }))
    }
  })

export const SyncLive = HttpApiBuilder.group(Api, "sync", (handlers) =>
  Effect.gen(function* () {
    const sync = yield* DirectorySync
    const repo = yield* SyncRepo
    const tenants = yield* TenantRepo

    /** The path's tenant must exist (operators may name any id; a malformed id exists nowhere). */
    const requireTenant = (tenantId: string) =>
      Effect.gen(function* () {
        const id = yield* Schema.decodeUnknown(TenantId)(tenantId).pipe(Effect.mapError(() => new TenantNotFound({ tenantId })))
        const found = yield* tenants.getTenant(id).pipe(Effect.catchAll(storeFailure("tenant read")))
        if (Option.isNone(found)) return yield* new TenantNotFound({ tenantId })
      })

    const sourcesView = (settings: Option.Option<TenantSyncSettings>) => {
      const interval = Option.flatMap(settings, (s) => Option.fromNullable(s.intervalSeconds))
      return SourcesView.make({
        sources: Option.match(settings, { onNone: () => [], onSome: (s) => s.sources.map(sourceView) }),
        intervalSeconds: Option.getOrUndefined(interval),
        effectiveIntervalSeconds: Option.getOrElse(interval, () => Math.round(Duration.toSeconds(sync.defaultInterval)))
      })
    }

    return handlers
      .handle("status", ({ path }) =>
        Effect.gen(function* () {
          yield* requireTenantRole(path.tenantId, READ_ROLES)
          yield* requireTenant(path.tenantId)
          return statusView(yield* sync.status(path.tenantId).pipe(Effect.catchAll(storeFailure("sync status read"))))
        })
      )
      .handle("syncNow", ({ path }) =>
        Effect.gen(function* () {
          yield* requireTenantRole(path.tenantId, ADMIN_ROLES)
          yield* requireTenant(path.tenantId)
          const status = yield* sync.syncNow(path.tenantId).pipe(
            Effect.catchTag("NoSourceConfigured", (e) => Effect.fail(new SyncNotConfigured({ message: e.message }))),
            Effect.catchTag("StoreError", "StoreDecodeError", storeFailure("sync status read"))
          )
          yield* recordAudit(path.tenantId, "directory.sync", "directory/sync")
          return statusView(status)
        })
      )
      .handle("getSources", ({ path }) =>
        Effect.gen(function* () {
          yield* requireTenantRole(path.tenantId, ADMIN_ROLES)
          yield* requireTenant(path.tenantId)
          return sourcesView(yield* repo.getSettings(path.tenantId).pipe(Effect.catchAll(storeFailure("sync settings read"))))
        })
      )
      .handle("putSources", ({ path, payload }) =>
        Effect.gen(function* () {
          yield* requireTenantRole(path.tenantId, ADMIN_ROLES)
          yield* requireTenant(path.tenantId)
          const names = payload.sources.map((s) => s.name)
          const duplicate = names.find((n, i) => names.indexOf(n) !== i)
          if (duplicate !== undefined) return yield* new SourcesInvalid({ message: `two sources are named ${duplicate}; names must be unique` })
          if (payload.intervalSeconds !== undefined && payload.intervalSeconds < MIN_SYNC_INTERVAL_SECONDS) {
            return yield* new SourcesInvalid({ message: `intervalSeconds must be at least ${MIN_SYNC_INTERVAL_SECONDS}` })
          }
          // a stored secret that no longer decrypts is as good as absent: the update must then give it again
          const previous = yield* repo.getSettings(path.tenantId).pipe(Effect.orElseSucceed(() => Option.none<TenantSyncSettings>()))
          const sources: Array<SourceSettings> = []
          for (const input of payload.sources) {
            sources.push(yield* toSettings(input, Option.match(previous, { onNone: () => [], onSome: (p) => p.sources })))
          }
          const settings = TenantSyncSettings.make({ sources, intervalSeconds: payload.intervalSeconds })
          yield* repo.putSettings(path.tenantId, settings).pipe(Effect.catchAll(storeFailure("sync settings write")))
          yield* sync.reschedule(path.tenantId).pipe(Effect.catchAll(storeFailure("sync reschedule")))
          yield* recordAudit(path.tenantId, "directory.sources.update", "directory/sources", {
            before: Option.match(previous, { onNone: () => "", onSome: (p) => p.sources.map((s) => `${s._tag}:${s.name}`).join(",") }),
            after: sources.map((s) => `${s._tag}:${s.name}`).join(",")
          })
          return sourcesView(Option.some(settings))
        })
      )
  })
)
