import { Effect, Either } from "effect"
import type { TenantId } from "../domain/Tenant.js"
import { decodeTenantFile } from "../domain/TenantFile.js"
import { checkTenantFile } from "../signature/TenantContent.js"
import type { WriteOp } from "../store/Store.js"
import { type BatchEntry, type CheckedBatchEntry, type ImportMode, TenantRepo } from "../store/TenantRepo.js"

/**
 * Tenant imports, checked before they are stored: every path that imports a
 * tenant file (`imprint tenant import`, POST /tenants/import and the batch
 * endpoint, demo seeding) comes through here. The file is decoded (errors name
 * the wrong key), its templates sanitized and compiled and its rules checked
 * (signature/TenantContent), then TenantRepo stores it. The tenant actors
 * reload from the store's change feed.
 */

/** Decodes and checks one tenant file as parsed JSON. */
export const checkTenantInput = (input: unknown) =>
  Effect.flatMap(decodeTenantFile(input), (file) => Either.match(checkTenantFile(file), { onLeft: Effect.fail, onRight: Effect.succeed }))

/** Each entry with its check, made lazily: importBatch pulls `entries` a chunk at a time. */
function* checkedEntries(entries: Iterable<BatchEntry>): Generator<CheckedBatchEntry> {
  for (const entry of entries) yield { ...entry, checked: checkTenantInput(entry.input) }
}

/** The checked imports over one TenantRepo (handlers build it once, as they take their repositories). */
export const tenantImport = (repo: TenantRepo) => ({
  /** Imports a parsed JSON value: decoded and checked here, stored by TenantRepo.importFile. */
  importTenant: (input: unknown) => Effect.flatMap(checkTenantInput(input), repo.importFile).pipe(Effect.withSpan("TenantImport.importTenant")),
  /** Many tenants in one call (TenantRepo.importBatch), each decoded and checked when its chunk is prepared. */
  importBatch: <R = never>(
    entries: Iterable<BatchEntry>,
    mode: ImportMode,
    /** writes to commit with each tenant (the admin API's audit entry) */
    alongside?: (tenantId: TenantId, created: boolean) => Effect.Effect<WriteOp, never, R>
  ) => repo.importBatch(checkedEntries(entries), mode, alongside)
})

/** importTenant over the TenantRepo in context. */
export const importTenant = (input: unknown) => Effect.flatMap(TenantRepo, (repo) => tenantImport(repo).importTenant(input))

/** importBatch over the TenantRepo in context. */
export const importBatch = <R = never>(
  entries: Iterable<BatchEntry>,
  mode: ImportMode,
  alongside?: (tenantId: TenantId, created: boolean) => Effect.Effect<WriteOp, never, R>
) => Effect.flatMap(TenantRepo, (repo) => tenantImport(repo).importBatch(entries, mode, alongside))
