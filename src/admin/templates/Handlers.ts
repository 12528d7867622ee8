import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { Effect, Either, Option } from "effect"
import { TenantRegistry } from "../../actors/TenantRegistry.js"
import { DirectoryUserNotFound, TemplateInvalid } from "../../domain/ContentErrors.js"
import type { Template } from "../../domain/Template.js"
import type { TenantId } from "../../domain/Tenant.js"
import { compileTemplate, renderTemplate } from "../../signature/TemplateEngine.js"
import { userValues } from "../../signature/TemplateValues.js"
import { IMAGE_CONTENT_TYPES } from "../../domain/Images.js"
import { photoImageMeta, withDataUrls } from "../../signature/TemplateImages.js"
import { ImageRepo } from "../../store/ImageRepo.js"
import { makeContentChanges, type SavedTemplate, type TemplateInput } from "../../actors/ContentChanges.js"
import { ContentRepo, type TemplateVersion } from "../../store/ContentRepo.js"
import { Api } from "../Api.js"
import { recordAudit } from "../audit/Audit.js"
import { CurrentPrincipal, principalLabel } from "../http/Principal.js"
import { CONTENT_ROLES, READ_ROLES } from "../../domain/Role.js"
import { TemplateSaved, TemplateVersionView, TemplateView, RenderedTemplateView } from "./Api.js"
import { actorUnavailable, authorize, catchStore } from "../http/ContentAccess.js"

/**
 * Template handlers. Writes go through ContentChanges (sanitize, compile,
 * check image ids) into ContentRepo (bump the version, keep the history, one store batch); the tenant's actor reloads
 * from the store's change feed, so the next relayed message uses the change.
 * Each change is recorded in the audit log with the versions before and after.
 */

export const templateView = (t: Template) =>
  new TemplateView({
    id: t.id,
    name: t.name,
    html: t.html,
    ...(t.text !== undefined ? { text: t.text } : {}),
    ...(t.delivery !== undefined ? { delivery: t.delivery } : {}),
    version: t.version
  })

const savedView = (s: SavedTemplate) =>
  new TemplateSaved({
    template: templateView(s.template),
    removed: s.removed.map((r) => ({ kind: r.kind, name: r.name, ...(r.detail !== undefined ? { detail: r.detail } : {}) })),
    ...(s.previousVersion !== undefined ? { previousVersion: s.previousVersion } : {})
  })

const versionView = (v: TemplateVersion) =>
  new TemplateVersionView({
    version: v.template.version,
    template: templateView(v.template),
    ...(v.savedAt !== undefined ? { savedAt: new Date(v.savedAt).toISOString() } : {}),
    savedBy: v.savedBy,
    ...(v.restoredFrom !== undefined ? { restoredFrom: v.restoredFrom } : {})
  })

export const TemplatesLive = HttpApiBuilder.group(Api, "templates", (handlers) =>
  Effect.gen(function* () {
    const content = yield* ContentRepo
    const changes = yield* makeContentChanges
    const registry = yield* TenantRegistry
    const images = yield* ImageRepo

    const savedBy = Effect.map(CurrentPrincipal, principalLabel)

    /** Save, audit, answer: one path for create, PUT, PATCH and restore. */
    const save = (id: TenantId, input: TemplateInput, mode: "create" | "update", action: string, restoredFrom?: number) =>
      Effect.gen(function* () {
        const saved = yield* changes.saveTemplate(id, input, {
          mode,
          savedBy: yield* savedBy,
          ...(restoredFrom !== undefined ? { restoredFrom } : {})
        })
        yield* recordAudit(id, action, `template/${input.id}`, {
          before: saved.previousVersion === undefined ? undefined : String(saved.previousVersion),
          after: String(saved.template.version),
          detail:
            restoredFrom !== undefined
              ? `restored version ${restoredFrom}`
              : saved.removed.length > 0
                ? `sanitizer removed: ${saved.removed.map((r) => r.name).join(", ")}`
                : undefined
        })
        return savedView(saved)
      })

    // an update never creates, so "already exists" cannot happen there
    const update = (id: TenantId, input: TemplateInput, action: string, restoredFrom?: number) =>
      save(id, input, "update", action, restoredFrom).pipe(Effect.catchTag("TemplateAlreadyExists", Effect.die))

    return handlers
      .handle("list", ({ path }) =>
        authorize(path.tenantId, READ_ROLES).pipe(
          Effect.flatMap((id) => content.templates(id)),
          Effect.map((ts) => ts.map(templateView)),
          catchStore
        )
      )
      .handle("get", ({ path }) =>
        authorize(path.tenantId, READ_ROLES).pipe(
          Effect.flatMap((id) => content.template(id, path.templateId)),
          Effect.map(templateView),
          catchStore
        )
      )
      .handle("create", ({ path, payload }) =>
        authorize(path.tenantId, CONTENT_ROLES).pipe(
          Effect.flatMap((id) => save(id, payload, "create", "template.create")),
          catchStore
        )
      )
      .handle("replace", ({ path, payload }) =>
        authorize(path.tenantId, CONTENT_ROLES).pipe(
          Effect.flatMap((id) => update(id, { ...payload, id: path.templateId }, "template.update")),
          catchStore
        )
      )
      .handle("update", ({ path, payload }) =>
        Effect.gen(function* () {
          const id = yield* authorize(path.tenantId, CONTENT_ROLES)
          const current = yield* content.template(id, path.templateId)
          const text = payload.text === null ? undefined : (payload.text ?? current.text)
          const delivery = payload.delivery === null ? undefined : (payload.delivery ?? current.delivery)
          return yield* update(
            id,
            { id: current.id, name: payload.name ?? current.name, html: payload.html ?? current.html, text, delivery },
            "template.update"
          )
        }).pipe(catchStore)
      )
      .handle("delete", ({ path }) =>
        Effect.gen(function* () {
          const id = yield* authorize(path.tenantId, CONTENT_ROLES)
          const removed = yield* content.deleteTemplate(id, path.templateId)
          yield* recordAudit(id, "template.delete", `template/${removed.id}`, { before: String(removed.version) })
        }).pipe(catchStore)
      )
      .handle("versions", ({ path }) =>
        authorize(path.tenantId, READ_ROLES).pipe(
          Effect.flatMap((id) => content.versions(id, path.templateId)),
          Effect.map((vs) => vs.map(versionView)),
          catchStore
        )
      )
      .handle("version", ({ path }) =>
        authorize(path.tenantId, READ_ROLES).pipe(
          Effect.flatMap((id) => content.version(id, path.templateId, path.version)),
          Effect.map(versionView),
          catchStore
        )
      )
      .handle("restore", ({ path }) =>
        Effect.gen(function* () {
          const id = yield* authorize(path.tenantId, CONTENT_ROLES)
          const old = (yield* content.version(id, path.templateId, path.version)).template
          return yield* update(id, { id: old.id, name: old.name, html: old.html, text: old.text, delivery: old.delivery }, "template.restore", path.version)
        }).pipe(catchStore)
      )
      .handle("render", ({ path, payload }) =>
        Effect.gen(function* () {
          // like the preview: content roles (Principal.ts), though nothing is written
          const id = yield* authorize(path.tenantId, CONTENT_ROLES)
          const template = yield* content.template(id, path.templateId)
          // stored templates compile (checked when saved); one written by hand might not
          const compiled = compileTemplate(template)
          if (Either.isLeft(compiled)) {
            const e = compiled.left
            return yield* new TemplateInvalid({ templateId: template.id, part: e.part, message: `the ${e.part} part does not compile: ${e.message}` })
          }
          const actor = yield* registry.actor(id)
          const user = yield* actor.lookupUser(payload.mail)
          if (Option.isNone(user)) return yield* DirectoryUserNotFound.of(payload.mail)
          // library images as data: URLs, so the answer shows them with no hosting
          const library = new Map((yield* images.list(id)).map((i) => [i.id, i]))
          const rendered = renderTemplate(compiled.right, userValues(user.value), {
            tenantId: id,
            images: library,
            delivery: "embedded",
            publicBaseUrl: undefined,
            photo: photoImageMeta(user.value.photo)
          })
          const shown = []
          for (const image of rendered.images) {
            const bytes = yield* images.blobSync(id, image.meta.sha256)
            if (Option.isSome(bytes)) shown.push({ src: image.src, contentType: IMAGE_CONTENT_TYPES[image.meta.type], data: bytes.value })
          }
          return new RenderedTemplateView({
            templateId: template.id,
            version: template.version,
            mail: user.value.mail,
            html: withDataUrls(rendered.html, shown),
            text: rendered.text
          })
        }).pipe(Effect.catchTag("TenantActorUnavailable", actorUnavailable), catchStore)
      )
  })
)
