import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Clock, Effect, Option, Schema } from "effect"
import { TenantRegistry } from "../../actors/TenantRegistry.js"
import type { TenantActorUnavailable } from "../../actors/TenantProtocol.js"
import { parseDirectoryCsv } from "../../directory/CsvImport.js"
import { attachPhotos } from "../../directory/ImportPhotos.js"
import { checkRecord, jsonRecord, type ParsedRows, parseJsonUsers } from "../../directory/UserRows.js"
import { DirectoryUser } from "../../domain/Directory.js"
import { TenantNotFound } from "../../domain/Errors.js"
import type { TenantId } from "../../domain/Tenant.js"
import { DirectoryRepo } from "../../store/DirectoryRepo.js"
import { makePhotoRepo } from "../../store/PhotoRepo.js"
import { TenantRepo } from "../../store/TenantRepo.js"
import { Api, NotReady } from "../Api.js"
import { recordAudit } from "../audit/Audit.js"
import {
  DirectoryImportInvalid,
  DirectoryImportRejected,
  DirectoryImportReport,
  DirectoryStatus,
  DirectoryUserInvalid,
  DirectoryUserNotFound,
  DirectoryUserPage,
  DirectoryUserSaved,
  type ImportMode,
  type ImportTooLarge,
  importTooLarge,
  MAX_IMPORT_BYTES,
  MAX_IMPORT_ROWS,
  MAX_REPORTED_REJECTIONS
} from "./Api.js"
import { CurrentPrincipal, principalLabel } from "../http/Principal.js"
import { ADMIN_ROLES, READ_ROLES } from "../../domain/Role.js"
import { authorize, catchStore } from "../http/ContentAccess.js"

/**
 * Directory handlers. Reads come from the store (DirectoryRepo); writes are
 * requests to the tenant's actor (ReplaceDirectory / ApplyDirectoryDelta),
 * which commits them and reloads before its next message. Every change
 * records an audit entry and the directory's status record.
 *
 * Imports: merge (the default) upserts every valid row and reports the
 * rejected ones. Replace makes the directory exactly the file, so a file
 * with rejected rows would silently drop those users: it writes nothing and
 * answers 422 with the report, unless `allowPartial=true` says dropping them
 * is intended.
 */

const actorUnavailable = (e: TenantActorUnavailable) => Effect.fail(new NotReady({ message: `${e.message}; try again` }))

const tooLarge = importTooLarge

/** The body as text, refused with 413 past MAX_IMPORT_BYTES (before reading when Content-Length says so). */
const readBody = (request: HttpServerRequest.HttpServerRequest): Effect.Effect<string, ImportTooLarge | DirectoryImportInvalid> =>
  Effect.gen(function* () {
    const declared = Number(request.headers["content-length"] ?? "0")
    if (declared > MAX_IMPORT_BYTES) return yield* tooLarge(`the body is ${declared} bytes`)
    return yield* request.text.pipe(
      HttpIncomingMessage.withMaxBodySize(Option.some(MAX_IMPORT_BYTES)),
      Effect.catchAll((e): Effect.Effect<never, ImportTooLarge | DirectoryImportInvalid> =>
        String(e.cause).includes("maxBytes")
          ? Effect.fail(tooLarge("the body is larger"))
          : Effect.fail(new DirectoryImportInvalid({ message: `the body could not be read: ${e.message}` }))
      )
    )
  })

/** Which attributes differ between two entries (for the audit log: names, not values). */
const changedAttributes = (before: DirectoryUser, after: DirectoryUser): Array<string> => {
  const a = Schema.encodeSync(DirectoryUser)(before) as Record<string, unknown>
  const b = Schema.encodeSync(DirectoryUser)(after) as Record<string, unknown>
  return Array.from(new Set([...Object.keys(a), ...Object.keys(b)]))
    .filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]))
    .sort()
}

export const DirectoryLive = HttpApiBuilder.group(Api, "directory", (handlers) =>
  Effect.gen(function* () {
    const registry = yield* TenantRegistry
    const directory = yield* DirectoryRepo
    const tenants = yield* TenantRepo
    const photos = yield* makePhotoRepo
    // one API write per tenant directory at a time, so an audit entry's "before" is what the write replaced
    const writeLock = yield* Effect.makeSemaphore(1)

    const existing = (id: TenantId) =>
      Effect.flatMap(tenants.getTenant(id), Option.match({ onNone: () => Effect.fail(new TenantNotFound({ tenantId: id })), onSome: () => Effect.succeed(id) }))

    const readable = (raw: string) => Effect.flatMap(authorize(raw, READ_ROLES), existing)
    const writable = (raw: string) => Effect.flatMap(authorize(raw, ADMIN_ROLES), existing)

    /** After a committed change: the status record (failure logged: the change stands) and the audit entry. */
    const changed = (id: TenantId, action: string, target: string, details: { before?: string; after?: string; detail?: string }) =>
      Effect.gen(function* () {
        const by = principalLabel(yield* CurrentPrincipal)
        const at = yield* Clock.currentTimeMillis
        yield* directory
          .markChanged(id, { at, action, by, isImport: action === "directory.import" })
          .pipe(Effect.catchAll((e) => Effect.logError("directory status could not be written; the change was made", e)))
        yield* recordAudit(id, action, target, details)
      })

    const importRows = (id: TenantId, rows: ParsedRows, mode: ImportMode, allowPartial: boolean, format: string) =>
      writeLock.withPermits(1)(
        Effect.gen(function* () {
          const count = rows.users.length + rows.rejected.length
          if (count > MAX_IMPORT_ROWS) return yield* tooLarge(`the import has ${count} rows`)
          // photos are decoded and stored first: a photo that cannot be read rejects its row
          const parsed = yield* attachPhotos(id, rows, photos, directory)
          const rejected = parsed.rejected.slice(0, MAX_REPORTED_REJECTIONS)
          if (mode === "replace" && parsed.rejected.length > 0 && !allowPartial) {
            return yield* new DirectoryImportRejected({
              message:
                `${parsed.rejected.length} row(s) rejected, so nothing was written: a replace would remove those users. ` +
                "Fix the rows, or add allowPartial=true to replace the directory with the valid rows only",
              accepted: parsed.users.length,
              rejectedCount: parsed.rejected.length,
              rejected
            })
          }
          const usersBefore = yield* directory.count(id)
          const actor = yield* registry.actor(id)
          if (mode === "replace") yield* actor.replaceDirectory(parsed.users)
          else if (parsed.users.length > 0) yield* actor.applyDirectoryDelta({ upsert: parsed.users, remove: [] })
          const usersAfter = yield* directory.count(id)
          yield* changed(id, "directory.import", "directory", {
            before: `${usersBefore} users`,
            after: `${usersAfter} users`,
            detail: `${format}, mode=${mode}: ${parsed.users.length} accepted, ${parsed.rejected.length} rejected`
          })
          return new DirectoryImportReport({
            mode,
            accepted: parsed.users.length,
            rejectedCount: parsed.rejected.length,
            rejected,
            usersBefore,
            usersAfter
          })
        }).pipe(
          // photos the import replaced, or stored for an import then refused, are named by no entry now
          Effect.ensuring(
            rows.photos !== undefined || mode === "replace"
              ? photos.sweep(id).pipe(Effect.catchAll((e) => Effect.logError("directory photos could not be swept after an import", e)))
              : Effect.void
          )
        )
      )

    return handlers
      .handle("list", ({ path, urlParams }) =>
        Effect.gen(function* () {
          const id = yield* readable(path.tenantId)
          return new DirectoryUserPage(yield* directory.page(id, urlParams))
        }).pipe(catchStore)
      )
      .handle("get", ({ path }) =>
        Effect.gen(function* () {
          const id = yield* readable(path.tenantId)
          return yield* Effect.flatten(directory.get(id, path.mail)).pipe(
            Effect.catchTag(
              "NoSuchElementException",
              () => new DirectoryUserNotFound({ mail: path.mail, message: `no directory entry for ${path.mail} in this tenant` })
            )
          )
        }).pipe(catchStore)
      )
      .handle("put", ({ path, payload }) =>
        Effect.gen(function* () {
          const id = yield* writable(path.tenantId)
          if (payload.mail.toLowerCase() !== path.mail.toLowerCase()) {
            return yield* new DirectoryUserInvalid({ message: `the body's mail ${payload.mail} is not the path's ${path.mail}; they must name the same user` })
          }
          // the same value rules as an import or a sync (trimmed, no markup or control characters)
          const record = jsonRecord(Schema.encodeSync(DirectoryUser)(payload))
          const checked = typeof record === "string" ? { rejected: { reason: record } } : checkRecord(record, 1)
          if ("rejected" in checked) return yield* new DirectoryUserInvalid({ message: checked.rejected.reason })
          return yield* writeLock.withPermits(1)(
            Effect.gen(function* () {
              const before = yield* directory.get(id, checked.user.mail)
              // the photo comes from a sync or an import; a PUT of the other attributes keeps it
              const kept = Option.isSome(before) ? before.value.photo : undefined
              const user = kept === undefined ? checked.user : new DirectoryUser({ ...checked.user, photo: kept }, true)
              const actor = yield* registry.actor(id)
              yield* actor.applyDirectoryDelta({ upsert: [user], remove: [] })
              yield* changed(
                id,
                "directory.upsert",
                `user/${user.mail.toLowerCase()}`,
                Option.match(before, {
                  onNone: () => ({ before: "absent", after: "present" }),
                  onSome: (previous) => ({
                    before: "present",
                    after: "present",
                    detail: `changed: ${changedAttributes(previous, user).join(", ") || "nothing"}`
                  })
                })
              )
              return new DirectoryUserSaved({ user, created: Option.isNone(before) })
            })
          )
        }).pipe(Effect.catchTag("TenantActorUnavailable", actorUnavailable), catchStore)
      )
      .handle("delete", ({ path }) =>
        Effect.gen(function* () {
          const id = yield* writable(path.tenantId)
          return yield* writeLock.withPermits(1)(
            Effect.gen(function* () {
              if (Option.isNone(yield* directory.get(id, path.mail))) {
                return yield* new DirectoryUserNotFound({ mail: path.mail, message: `no directory entry for ${path.mail} in this tenant` })
              }
              const actor = yield* registry.actor(id)
              yield* actor.applyDirectoryDelta({ upsert: [], remove: [path.mail] })
              yield* changed(id, "directory.delete", `user/${path.mail.toLowerCase()}`, { before: "present", after: "absent" })
            })
          )
        }).pipe(Effect.catchTag("TenantActorUnavailable", actorUnavailable), catchStore)
      )
      .handleRaw("importJson", ({ path, request, urlParams }) =>
        Effect.gen(function* () {
          const id = yield* writable(path.tenantId)
          const text = yield* readBody(request)
          const items = yield* Effect.try({
            try: () => JSON.parse(text) as unknown,
            catch: (e) => new DirectoryImportInvalid({ message: `the body is not JSON: ${String(e)}` })
          })
          if (!Array.isArray(items)) {
            return yield* new DirectoryImportInvalid({ message: 'the body must be a JSON array of users, such as [{"mail": "ann@example.com"}]' })
          }
          if (items.length > MAX_IMPORT_ROWS) return yield* tooLarge(`the import has ${items.length} rows`)
          return yield* importRows(id, parseJsonUsers(items), urlParams.mode ?? "merge", urlParams.allowPartial ?? false, "json")
        }).pipe(Effect.catchTag("TenantActorUnavailable", actorUnavailable), catchStore)
      )
      .handleRaw("importCsv", ({ path, request, urlParams }) =>
        Effect.gen(function* () {
          const id = yield* writable(path.tenantId)
          const text = yield* readBody(request)
          return yield* importRows(id, parseDirectoryCsv(text), urlParams.mode ?? "merge", urlParams.allowPartial ?? false, "csv")
        }).pipe(Effect.catchTag("TenantActorUnavailable", actorUnavailable), catchStore)
      )
      .handle("status", ({ path }) =>
        Effect.gen(function* () {
          const id = yield* readable(path.tenantId)
          const users = yield* directory.count(id)
          const status = Option.getOrUndefined(yield* directory.status(id))
          return new DirectoryStatus({ users, ...(status !== undefined ? { ...status } : {}) })
        }).pipe(catchStore)
      )
  })
)
