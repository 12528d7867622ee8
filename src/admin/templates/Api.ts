import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import {
  DirectoryUserNotFound,
  TemplateAlreadyExists,
  TemplateInUse,
  TemplateInvalid,
  TemplateNotFound,
  TemplateVersionNotFound
} from "../../domain/ContentErrors.js"
import { TenantNotFound } from "../../domain/Errors.js"
import { ImageDeliveryMode } from "../../domain/Images.js"
import { Forbidden, NotReady, StoreFailure } from "../http/Errors.js"
import { AdminAuth } from "../http/Principal.js"

/**
 * Templates of one tenant (issue 6): list, read, create, change, delete,
 * their saved versions and restore, and a render for one directory user.
 * Reads need a member role, writes owner/admin/editor (Principal.ts).
 * Every save sanitizes the HTML and answers what was removed.
 */

const STRICT = { parseOptions: { onExcessProperty: "error", errors: "all" } } as const

const TemplateId = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9._-]{1,64}$/, {
    message: () => "a template id is 1 to 64 of A-Z a-z 0-9 . _ -"
  })
)

export class TemplateView extends Schema.Class<TemplateView>("TemplateView")({
  id: Schema.String,
  name: Schema.String,
  /** the sanitized HTML as stored */
  html: Schema.String,
  text: Schema.optional(Schema.String),
  /** how the template's library images travel (absent: the rule's, else the server's default) */
  delivery: Schema.optional(ImageDeliveryMode),
  version: Schema.Int
}) {}

/** One thing the sanitizer took out of a template (also in the tenant API's answers). */
export const TemplateRemoval = Schema.Struct({
  kind: Schema.Literal("element", "attribute", "url"),
  name: Schema.String,
  detail: Schema.optional(Schema.String)
})

export class TemplateSaved extends Schema.Class<TemplateSaved>("TemplateSaved")({
  template: TemplateView,
  /** what the sanitizer took out of the HTML, in document order; empty when nothing */
  removed: Schema.Array(TemplateRemoval),
  /** the version this save replaced; absent for a new template */
  previousVersion: Schema.optional(Schema.Int)
}) {}

export class TemplateVersionView extends Schema.Class<TemplateVersionView>("TemplateVersionView")({
  version: Schema.Int,
  template: TemplateView,
  /** ISO 8601; absent for a version saved before the history began (a tenant import) */
  savedAt: Schema.optional(Schema.String),
  savedBy: Schema.String,
  restoredFrom: Schema.optional(Schema.Int)
}) {}

export class RenderedTemplateView extends Schema.Class<RenderedTemplateView>("RenderedTemplateView")({
  templateId: Schema.String,
  version: Schema.Int,
  /** the directory entry's mail the values came from */
  mail: Schema.String,
  html: Schema.String,
  text: Schema.String
}) {}

export const TemplateCreate = Schema.Struct({
  id: TemplateId,
  name: Schema.String,
  html: Schema.String,
  /** absent: derived from the HTML */
  text: Schema.optional(Schema.String),
  delivery: Schema.optional(ImageDeliveryMode)
}).annotations({ ...STRICT, identifier: "TemplateCreate" })

/** PUT: the whole template (the id comes from the path). */
export const TemplateReplace = Schema.Struct({
  name: Schema.String,
  html: Schema.String,
  text: Schema.optional(Schema.String),
  delivery: Schema.optional(ImageDeliveryMode)
}).annotations({ ...STRICT, identifier: "TemplateReplace" })

/** PATCH: fields to change; `text: null` drops the plain-text body (it is then derived from the HTML). */
export const TemplatePatch = Schema.Struct({
  name: Schema.optional(Schema.String),
  html: Schema.optional(Schema.String),
  text: Schema.optional(Schema.NullOr(Schema.String)),
  /** null: back to the rule's or the server's default */
  delivery: Schema.optional(Schema.NullOr(ImageDeliveryMode))
}).annotations({ ...STRICT, identifier: "TemplatePatch" })

export const RenderRequest = Schema.Struct({ mail: Schema.String }).annotations({ ...STRICT, identifier: "RenderRequest" })

const tenantId = HttpApiSchema.param("tenantId", Schema.String)
const templateId = HttpApiSchema.param("templateId", Schema.String)
const version = HttpApiSchema.param("version", Schema.NumberFromString.pipe(Schema.int(), Schema.positive()))

export class TemplatesGroup extends HttpApiGroup.make("templates")
  .add(HttpApiEndpoint.get("list")`/tenants/${tenantId}/templates`.addSuccess(Schema.Array(TemplateView)))
  .add(HttpApiEndpoint.get("get")`/tenants/${tenantId}/templates/${templateId}`.addSuccess(TemplateView))
  .add(
    HttpApiEndpoint.post("create")`/tenants/${tenantId}/templates`
      .setPayload(TemplateCreate)
      .addSuccess(TemplateSaved, { status: 201 })
      .addError(TemplateAlreadyExists, { status: 409 })
  )
  .add(HttpApiEndpoint.put("replace")`/tenants/${tenantId}/templates/${templateId}`.setPayload(TemplateReplace).addSuccess(TemplateSaved))
  .add(HttpApiEndpoint.patch("update")`/tenants/${tenantId}/templates/${templateId}`.setPayload(TemplatePatch).addSuccess(TemplateSaved))
  .add(HttpApiEndpoint.del("delete")`/tenants/${tenantId}/templates/${templateId}`.addSuccess(HttpApiSchema.NoContent).addError(TemplateInUse, { status: 409 }))
  .add(HttpApiEndpoint.get("versions")`/tenants/${tenantId}/templates/${templateId}/versions`.addSuccess(Schema.Array(TemplateVersionView)))
  .add(
    HttpApiEndpoint.get("version")`/tenants/${tenantId}/templates/${templateId}/versions/${version}`
      .addSuccess(TemplateVersionView)
      .addError(TemplateVersionNotFound, { status: 404 })
  )
  .add(
    HttpApiEndpoint.post("restore")`/tenants/${tenantId}/templates/${templateId}/versions/${version}/restore`
      .addSuccess(TemplateSaved)
      .addError(TemplateVersionNotFound, { status: 404 })
  )
  .add(
    HttpApiEndpoint.post("render")`/tenants/${tenantId}/templates/${templateId}/render`
      .setPayload(RenderRequest)
      .addSuccess(RenderedTemplateView)
      .addError(DirectoryUserNotFound, { status: 404 })
  )
  .addError(TenantNotFound, { status: 404 })
  .addError(TemplateNotFound, { status: 404 })
  .addError(TemplateInvalid, { status: 400 })
  .addError(StoreFailure)
  .addError(NotReady)
  .addError(Forbidden)
  .middleware(AdminAuth)
  .annotate(OpenApi.Description, "A tenant's signature templates, their versions, and a render for one directory user.") {}
