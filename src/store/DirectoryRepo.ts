import { Effect, Option, Schema } from "effect"
import { DirectoryUser } from "../domain/Directory.js"
import { DEFAULT_DIRECTORY_PAGE, MAX_DIRECTORY_PAGE } from "../domain/Paging.js"
import type { TenantId } from "../domain/Tenant.js"
import * as Keys from "./Keys.js"
import { Db } from "./Keys.js"
import { StoreDecodeError } from "./StoreError.js"
import { Store } from "./Store.js"

/**
 * Reading a tenant's cached directory for the admin API (pages, search, one
 * entry, a count) and the directory's status record. Writes do not happen
 * here: they go through the tenant actor (ReplaceDirectory /
 * ApplyDirectoryDelta), so the actor's next message sees them.
 *
 * The status record (last change: when, what, by whom) is admin data the
 * relay never reads, so it lives in its own database under
 * `directory-status/<tenantId>`, outside `tenant/`: writing it does not make
 * the tenant's actor reload its state.
 */

export const DIRECTORY_STATUS_DB = "directory_status"
const STATUS_ROOT = "directory-status/"
const statusKey = (tenantId: string) => `${STATUS_ROOT}${tenantId}`

/** the attributes `q` searches */
export const SEARCHED_ATTRIBUTES = ["mail", "displayName", "givenName", "sn", "department", "title"] as const

export class DirectoryStatusRecord extends Schema.Class<DirectoryStatusRecord>("DirectoryStatusRecord")({
  /** epoch ms of the last change made through the admin API (an import, an upsert, a delete) */
  lastChangeAt: Schema.Number,
  /** "directory.import", "directory.upsert", "directory.delete", … */
  lastChange: Schema.String,
  /** principalLabel() of who made it */
  lastChangeBy: Schema.String,
  /** epoch ms of the last bulk import, when there was one */
  lastImportAt: Schema.optional(Schema.Number)
}) {}

export interface DirectoryPage {
  readonly users: ReadonlyArray<DirectoryUser>
  /** pass as `cursor` for the next page; absent on the last page */
  readonly next?: string
}

const PAGE_FULL_KEY = "\u0000page-full"
const PAGE_FULL = new StoreDecodeError({ db: Db.users, key: PAGE_FULL_KEY, message: "page full" })

/** Does a stored (msgpack-decoded) entry match `q` (already lower case)? Plain function: runs per entry of a scan. */
const matches = (raw: unknown, q: string): boolean => {
  if (typeof raw !== "object" || raw === null) return false
  const entry = raw as Record<string, unknown>
  for (const attribute of SEARCHED_ATTRIBUTES) {
    const value = entry[attribute]
    if (typeof value === "string" && value.toLowerCase().includes(q)) return true
  }
  return false
}

const make = Effect.gen(function* () {
  const store = yield* Store

  /**
   * Users in mail order, `limit` at a time after `cursor` (the last mail of
   * the previous page), filtered by `q` (case-insensitive substring of mail,
   * displayName, givenName, sn, department or title). The scan stops once the
   * page is full; only the page's entries are decoded with Schema.
   */
  const page = Effect.fn("DirectoryRepo.page")(function* (
    tenantId: TenantId,
    options: { readonly limit?: number | undefined; readonly cursor?: string | undefined; readonly q?: string | undefined } = {}
  ) {
    const limit = Math.max(1, Math.min(options.limit ?? DEFAULT_DIRECTORY_PAGE, MAX_DIRECTORY_PAGE))
    const after = options.cursor === undefined || options.cursor === "" ? undefined : Keys.userKey(tenantId, options.cursor)
    const q = options.q?.trim().toLowerCase() || undefined
    const found: Array<{ key: string; raw: unknown }> = []
    let more = false
    yield* store
      .forEachRaw(Db.users, Keys.userPrefix(tenantId), (key, raw) => {
        if (after !== undefined && key <= after) return
        if (q !== undefined && !matches(raw, q)) return
        if (found.length === limit) {
          more = true
          throw PAGE_FULL
        }
        found.push({ key, raw })
      })
      .pipe(
        Effect.catchIf(
          (e) => e._tag === "StoreDecodeError" && e.key === PAGE_FULL_KEY,
          () => Effect.succeed(0)
        )
      )
    const users: Array<DirectoryUser> = []
    for (const { key, raw } of found) {
      users.push(
        yield* Schema.decodeUnknown(DirectoryUser)(raw).pipe(
          Effect.mapError((e) => new StoreDecodeError({ db: Db.users, key, message: `${Db.users}:${key} does not decode: ${e.message}` }))
        )
      )
    }
    const last = users.at(-1)
    return (more && last !== undefined ? { users, next: last.mail.toLowerCase() } : { users }) satisfies DirectoryPage
  })

  /** One entry by its mail (any case). */
  const get = Effect.fn("DirectoryRepo.get")(function* (tenantId: TenantId, mail: string) {
    return yield* store.get(Db.users, DirectoryUser, Keys.userKey(tenantId, mail))
  })

  const count = Effect.fn("DirectoryRepo.count")(function* (tenantId: TenantId) {
    return (yield* store.keys(Db.users, Keys.userPrefix(tenantId))).length
  })

  const status = Effect.fn("DirectoryRepo.status")(function* (tenantId: TenantId) {
    return yield* store.get(DIRECTORY_STATUS_DB, DirectoryStatusRecord, statusKey(tenantId))
  })

  /** Records a change (and, for imports, the import time); other writers of the directory (a sync) may call it too. */
  const markChanged = Effect.fn("DirectoryRepo.markChanged")(function* (
    tenantId: TenantId,
    change: { readonly at: number; readonly action: string; readonly by: string; readonly isImport: boolean }
  ) {
    const previous = Option.getOrUndefined(yield* status(tenantId).pipe(Effect.orElseSucceed(() => Option.none())))
    const lastImportAt = change.isImport ? change.at : previous?.lastImportAt
    yield* store.put(
      DIRECTORY_STATUS_DB,
      DirectoryStatusRecord,
      statusKey(tenantId),
      new DirectoryStatusRecord({
        lastChangeAt: change.at,
        lastChange: change.action,
        lastChangeBy: change.by,
        ...(lastImportAt !== undefined ? { lastImportAt } : {})
      })
    )
  })

  /** Forgets the status record (the tenant was deleted). */
  const forget = Effect.fn("DirectoryRepo.forget")(function* (tenantId: TenantId) {
    yield* store.remove(DIRECTORY_STATUS_DB, statusKey(tenantId))
  })

  return { page, get, count, status, markChanged, forget } as const
})

export class DirectoryRepo extends Effect.Service<DirectoryRepo>()("imprint/DirectoryRepo", { effect: make, dependencies: [Store.Default] }) {}
