import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import { DirectoryUser } from "../../domain/Directory.js"
import { TenantNotFound } from "../../domain/Errors.js"
import { MAX_DIRECTORY_PAGE } from "../../domain/Paging.js"
import { Forbidden, NotReady, StoreFailure } from "../http/Errors.js"
import { AdminAuth } from "../http/Principal.js"
import { DirectoryUserNotFound, DirectoryUserInvalid, DirectoryImportInvalid, ImportTooLarge, DirectoryImportRejected, RejectedRowView } from "./Errors.js"

export * from "./Errors.js"

/**
 * The tenant's cached directory (issue 6): read by every member role, written
 * by owners and admins. Writes go through the tenant's actor, so the next
 * message it signs sees them. Bulk imports take JSON (an array of users) or
 * CSV (src/directory/CsvImport.ts) and answer a report of accepted and
 * rejected rows. Directory *sync* (Graph, LDAP) lives under
 * /tenants/{tenantId}/directory/sync, outside this group.
 */

/** The largest import body; a bigger one is refused with 413 before it is parsed. */
export const MAX_IMPORT_BYTES = 50 * 1024 * 1024
/** The most rows one import may hold. */
export const MAX_IMPORT_ROWS = 200_000
/** Rejected rows listed in a report; the count says how many there were in all. */
export const MAX_REPORTED_REJECTIONS = 1_000

export const CSV_CONTENT_TYPE = "text/csv"

const MB = 1024 * 1024
export const importTooLarge = (what: string) =>
  new ImportTooLarge({
    limit: `${MAX_IMPORT_BYTES / MB} MB, ${MAX_IMPORT_ROWS} rows`,
    message: `${what}: an import takes at most ${MAX_IMPORT_BYTES / MB} MB and ${MAX_IMPORT_ROWS} rows; split the file and import the parts with mode=merge`
  })

export class DirectoryUserPage extends Schema.Class<DirectoryUserPage>("DirectoryUserPage")({
  users: Schema.Array(DirectoryUser),
  /** pass as `cursor` for the next page; absent on the last page */
  next: Schema.optional(Schema.String)
}) {}

export class DirectoryUserSaved extends Schema.Class<DirectoryUserSaved>("DirectoryUserSaved")({
  user: DirectoryUser,
  created: Schema.Boolean
}) {}

export const ImportMode = Schema.Literal("replace", "merge")
export type ImportMode = typeof ImportMode.Type

export class DirectoryImportReport extends Schema.Class<DirectoryImportReport>("DirectoryImportReport")({
  mode: ImportMode,
  /** valid rows (all of them were written) */
  accepted: Schema.Int,
  rejectedCount: Schema.Int,
  /** the first MAX_REPORTED_REJECTIONS rejected rows */
  rejected: Schema.Array(RejectedRowView),
  /** users in the directory before and after */
  usersBefore: Schema.Int,
  usersAfter: Schema.Int
}) {}

export class DirectoryStatus extends Schema.Class<DirectoryStatus>("DirectoryStatus")({
  users: Schema.Int,
  /** epoch ms of the last change through this API (absent: none yet) */
  lastChangeAt: Schema.optional(Schema.Number),
  lastChange: Schema.optional(Schema.String),
  lastChangeBy: Schema.optional(Schema.String),
  lastImportAt: Schema.optional(Schema.Number)
}) {}

export const DirectoryListQuery = Schema.Struct({
  limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, MAX_DIRECTORY_PAGE))),
  cursor: Schema.optional(Schema.String.pipe(Schema.maxLength(320))),
  q: Schema.optional(Schema.String.pipe(Schema.maxLength(200)))
})

export const ImportQuery = Schema.Struct({
  /** merge (default): upsert the rows, keep everyone else. replace: the directory becomes the file. */
  mode: Schema.optional(ImportMode),
  /** replace only: write the valid rows even when some were rejected */
  allowPartial: Schema.optional(Schema.BooleanFromString)
})

const tenantId = HttpApiSchema.param("tenantId", Schema.String)
const mail = HttpApiSchema.param("mail", Schema.String)

export class DirectoryGroup extends HttpApiGroup.make("directory")
  .add(HttpApiEndpoint.get("list")`/tenants/${tenantId}/directory/users`.setUrlParams(DirectoryListQuery).addSuccess(DirectoryUserPage))
  .add(HttpApiEndpoint.get("get")`/tenants/${tenantId}/directory/users/${mail}`.addSuccess(DirectoryUser).addError(DirectoryUserNotFound))
  .add(
    HttpApiEndpoint.put("put")`/tenants/${tenantId}/directory/users/${mail}`
      .setPayload(DirectoryUser)
      .addSuccess(DirectoryUserSaved)
      .addError(DirectoryUserInvalid)
  )
  .add(HttpApiEndpoint.del("delete")`/tenants/${tenantId}/directory/users/${mail}`.addSuccess(HttpApiSchema.NoContent).addError(DirectoryUserNotFound))
  .add(
    HttpApiEndpoint.post("importJson")`/tenants/${tenantId}/directory/import/json`
      .setUrlParams(ImportQuery)
      .setPayload(Schema.Array(Schema.Unknown))
      .addSuccess(DirectoryImportReport)
      .addError(DirectoryImportInvalid)
      .addError(DirectoryImportRejected)
      .addError(ImportTooLarge)
  )
  .add(
    HttpApiEndpoint.post("importCsv")`/tenants/${tenantId}/directory/import/csv`
      .setUrlParams(ImportQuery)
      .setPayload(HttpApiSchema.Text({ contentType: CSV_CONTENT_TYPE }))
      .addSuccess(DirectoryImportReport)
      .addError(DirectoryImportInvalid)
      .addError(DirectoryImportRejected)
      .addError(ImportTooLarge)
  )
  .add(HttpApiEndpoint.get("status")`/tenants/${tenantId}/directory/status`.addSuccess(DirectoryStatus))
  .addError(TenantNotFound, { status: 404 })
  .addError(StoreFailure)
  .addError(NotReady)
  .addError(Forbidden)
  .middleware(AdminAuth)
  .annotate(OpenApi.Description, "The tenant's cached directory: page and search, one user by mail, upsert, delete, bulk import (JSON or CSV), status.") {}
