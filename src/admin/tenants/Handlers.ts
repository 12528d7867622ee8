import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { Effect, Option, Schema } from "effect"
import { TenantRegistry } from "../../actors/TenantRegistry.js"
import { TenantFileInvalid, TenantNotFound } from "../../domain/Errors.js"
import { TenantId } from "../../domain/Tenant.js"
import { formatFileError, TenantFile } from "../../domain/TenantFile.js"
import * as Keys from "../../store/Keys.js"
import { Db } from "../../store/Keys.js"
import { Store } from "../../store/Store.js"
import type { StoreDecodeError, StoreError } from "../../store/StoreError.js"
import { type BatchReport, type ImportSummary, TenantRepo } from "../../store/TenantRepo.js"
import { tenantImport } from "../../actors/TenantImport.js"
import { Api, StoreFailure, storeFailureOf, TenantAlreadyExists, TenantImportRejected, TenantImportReport, TenantSaved, type TenantUpdate } from "../Api.js"
import { auditOp, recordAudit } from "../audit/Audit.js"
import { AccountRepo } from "../../store/AccountRepo.js"
import { DirectoryRepo } from "../../store/DirectoryRepo.js"
import { requireOperator, requireTenantRole } from "../http/Principal.js"
import { fillConnectorPasswords } from "./ConnectorCredentials.js"
import { tenantView } from "./Views.js"

/**
 * Operator handlers for tenants. Creates and updates go through
 * TenantImport.importTenant (decode, check, store), the same path as `imprint tenant import`: it
 * validates the whole tenant, sanitizes templates, checks rules and hashes
 * connector passwords. The relay sees a change on its next connection (the
 * registry checks the store revision before binding), without a restart.
 * Each change records an audit entry (the changed field names, never values:
 * a tenant file carries passwords); a delete keeps the tenant's entries.
 */

const storeFailure = (e: StoreError | StoreDecodeError) => Effect.logError("admin API: store failure", e).pipe(Effect.zipRight(Effect.fail(storeFailureOf(e))))

/** A path id that is not even a valid tenant id names no tenant: 404, like an unknown one. */
const parseId = (raw: string) =>
  Option.match(Schema.decodeUnknownOption(TenantId)(raw), {
    onNone: () => Effect.fail(new TenantNotFound({ tenantId: raw })),
    onSome: Effect.succeed
  })

/** Only the keys the caller sent; `undefined` never overwrites a stored value. */
const definedFields = (update: TenantUpdate): Partial<TenantFile> =>
  Object.fromEntries(Object.entries(update).filter(([, v]) => v !== undefined)) as Partial<TenantFile>

/** Names the connectors that got a generated password (never the password). */
const generatedDetail = (saved: TenantSaved): { detail?: string } =>
  saved.credentials === undefined ? {} : { detail: `generated password for: ${saved.credentials.map((c) => c.username).join(", ")}` }

/**
 * Operators only; a tenant member naming another tenant's id gets 404 (it
 * cannot tell the tenant exists), its own tenant 403.
 */
const asOperator = <A, E, R>(tenantId: string, effect: Effect.Effect<A, E, R>) => Effect.zipRight(requireTenantRole(tenantId, []), effect)

const reportView = (report: BatchReport) =>
  new TenantImportReport({
    ...report,
    tenants: report.tenants.map((t) =>
      t.status === "failed"
        ? t
        : {
            source: t.source,
            tenantId: t.tenantId,
            status: t.status,
            templates: t.summary.templates,
            rules: t.summary.rules,
            users: t.summary.users,
            removed: t.summary.removed.map((r) => ({ templateId: r.templateId, removed: r.removed }))
          }
    )
  })

export const TenantsLive = HttpApiBuilder.group(Api, "tenants", (handlers) =>
  Effect.gen(function* () {
    const repo = yield* TenantRepo
    const imports = tenantImport(repo)
    const registry = yield* TenantRegistry
    const store = yield* Store
    // API writes one at a time, so "create" cannot race another create of the same id into an update
    const writeLock = yield* Effect.makeSemaphore(1)

    const detail = (id: TenantId) =>
      Effect.gen(function* () {
        const tenant = yield* Effect.flatten(repo.getTenant(id)).pipe(Effect.catchTag("NoSuchElementException", () => new TenantNotFound({ tenantId: id })))
        const counts = {
          templates: (yield* repo.templates(id)).length,
          rules: (yield* repo.rules(id)).length,
          users: (yield* store.keys(Db.users, Keys.userPrefix(id))).length
        }
        return tenantView(tenant, counts)
      })

    /**
     * Import a whole tenant given as the decoded file; answers what was
     * written. `stored`: the tenant's current connectors, whose hashes auth
     * connectors sent without a password keep.
     */
    const save = (sent: TenantFile, stored: ReadonlyArray<TenantFile["connectors"][number]>) =>
      Effect.gen(function* () {
        const { connectors, credentials } = yield* fillConnectorPasswords(sent.connectors, stored)
        const file: TenantFile = { ...sent, connectors }
        const encoded = yield* Schema.encode(TenantFile.from)(file).pipe(Effect.mapError((e) => new TenantFileInvalid({ message: formatFileError(e) })))
        const summary: ImportSummary = yield* imports.importTenant(encoded)
        return new TenantSaved({
          // just written: gone already only if deleted concurrently, which the write lock rules out
          tenant: yield* detail(summary.tenantId).pipe(Effect.catchTag("TenantNotFound", Effect.die)),
          created: summary.created,
          removed: summary.removed.map((r) => ({ templateId: r.templateId, removed: r.removed })),
          // the only time a generated password leaves the server
          ...(credentials.length > 0 ? { credentials } : {})
        })
      })

    /** "active" or "suspended" before a suspend/resume, for the audit entry. */
    const suspendedState = (rawId: string) =>
      Effect.gen(function* () {
        const tenant = yield* repo.getTenant(yield* parseId(rawId))
        return Option.isNone(tenant) ? "absent" : tenant.value.suspended ? "suspended" : "active"
      })

    /** Read the stored tenant as a file, overlay the changed fields, import the result. */
    const update = (rawId: string, changes: Partial<TenantFile>) =>
      writeLock.withPermits(1)(
        Effect.gen(function* () {
          const id = yield* parseId(rawId)
          const current = yield* repo.exportTenant(id)
          return yield* save({ ...current, ...changes, id }, current.connectors)
        })
      )

    return handlers
      .handle("list", () =>
        Effect.zipRight(
          requireOperator,
          repo.listTenants().pipe(
            Effect.map((ts) => ts.map((t) => tenantView(t))),
            Effect.catchTags({ StoreError: storeFailure, StoreDecodeError: storeFailure })
          )
        )
      )
      .handle("get", ({ path }) =>
        asOperator(
          path.tenantId,
          parseId(path.tenantId).pipe(Effect.flatMap(detail), Effect.catchTags({ StoreError: storeFailure, StoreDecodeError: storeFailure }))
        )
      )
      .handle("create", ({ payload }) =>
        Effect.zipRight(
          requireOperator,
          writeLock
            .withPermits(1)(
              Effect.gen(function* () {
                if (Option.isSome(yield* repo.getTenant(payload.id))) {
                  return yield* new TenantAlreadyExists({
                    tenantId: payload.id,
                    message: `tenant ${payload.id} already exists; change it with PATCH /tenants/${payload.id}`
                  })
                }
                const saved = yield* save(payload, [])
                yield* recordAudit(payload.id, "tenant.create", `tenant/${payload.id}`, { after: payload.name, ...generatedDetail(saved) })
                return saved
              })
            )
            .pipe(Effect.catchTags({ StoreError: storeFailure, StoreDecodeError: storeFailure }))
        )
      )
      .handle("update", ({ path, payload }) =>
        asOperator(
          path.tenantId,
          update(path.tenantId, definedFields(payload)).pipe(
            Effect.tap((saved) =>
              recordAudit(path.tenantId, "tenant.update", `tenant/${path.tenantId}`, {
                detail: [`fields: ${Object.keys(definedFields(payload)).join(", ") || "(none)"}`, generatedDetail(saved).detail]
                  .filter((x) => x !== undefined)
                  .join("; ")
              })
            ),
            Effect.catchTags({ StoreError: storeFailure, StoreDecodeError: storeFailure })
          )
        )
      )
      .handle("import", ({ payload, urlParams }) =>
        Effect.zipRight(
          requireOperator,
          writeLock
            .withPermits(1)(
              Effect.gen(function* () {
                const mode = urlParams.mode ?? "all-or-nothing"
                const entries = payload.map((input, i) => ({ source: `tenants[${i}]`, input }))
                // each written tenant's audit entry commits with it
                const report = reportView(
                  yield* imports.importBatch(entries, mode, (id, created) =>
                    auditOp(id, created ? "tenant.create" : "tenant.update", `tenant/${id}`, { detail: "batch import" })
                  )
                )
                if (mode === "all-or-nothing" && !report.written && report.failed > 0) {
                  return yield* new TenantImportRejected({
                    message: `${report.failed} of ${payload.length} tenants failed; nothing was written (fix them, or send ?mode=per-tenant to write the valid ones)`,
                    report
                  })
                }
                return report
              })
            )
            .pipe(Effect.catchTags({ StoreError: storeFailure, StoreDecodeError: storeFailure }))
        )
      )
      .handle("suspend", ({ path }) =>
        asOperator(
          path.tenantId,
          Effect.flatMap(suspendedState(path.tenantId), (before) =>
            update(path.tenantId, { suspended: true }).pipe(
              Effect.map((saved) => saved.tenant),
              Effect.tap(() => recordAudit(path.tenantId, "tenant.suspend", `tenant/${path.tenantId}`, { before, after: "suspended" }))
            )
          ).pipe(Effect.catchTags({ StoreError: storeFailure, StoreDecodeError: storeFailure, TenantFileInvalid: Effect.die, TenantConflict: Effect.die }))
        )
      )
      .handle("resume", ({ path }) =>
        asOperator(
          path.tenantId,
          Effect.flatMap(suspendedState(path.tenantId), (before) =>
            update(path.tenantId, { suspended: false }).pipe(
              Effect.map((saved) => saved.tenant),
              Effect.tap(() => recordAudit(path.tenantId, "tenant.resume", `tenant/${path.tenantId}`, { before, after: "active" }))
            )
          ).pipe(Effect.catchTags({ StoreError: storeFailure, StoreDecodeError: storeFailure, TenantFileInvalid: Effect.die, TenantConflict: Effect.die }))
        )
      )
      .handle("delete", ({ path }) =>
        asOperator(
          path.tenantId,
          writeLock
            .withPermits(1)(
              Effect.gen(function* () {
                const id = yield* parseId(path.tenantId)
                if (!(yield* repo.removeTenant(id))) return yield* new TenantNotFound({ tenantId: id })
                // the actor holds the tenant's compiled state; stop it rather than wait for the idle sweep
                yield* registry.stop(id)
                // its members, sessions, trusted devices and API tokens go with it (they live outside tenant/)
                yield* Effect.flatMap(AccountRepo, (accounts) => accounts.removeTenant(id))
                // the directory's status record goes too (its audit entries stay)
                yield* Effect.flatMap(DirectoryRepo, (directory) => directory.forget(id))
                yield* recordAudit(id, "tenant.delete", `tenant/${id}`)
                yield* Effect.logInfo("tenant removed through the admin API").pipe(Effect.annotateLogs({ tenant: id }))
              })
            )
            .pipe(Effect.catchTags({ StoreError: storeFailure, StoreDecodeError: storeFailure }))
        )
      )
  })
)
