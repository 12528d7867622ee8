import { Effect, Either, Option, Schema } from "effect"
import { TenantNotFound } from "../domain/Errors.js"
import { ImageMeta } from "../domain/Images.js"
import type { Rule, SignatureSettings } from "../domain/Rule.js"
import type { Template } from "../domain/Template.js"
import type { Tenant, TenantId } from "../domain/Tenant.js"
import { compileTemplate, type CompiledTemplate } from "../signature/TemplateEngine.js"
import { TenantRepo } from "../store/TenantRepo.js"
import * as Keys from "../store/Keys.js"
import { Db } from "../store/Keys.js"
import { Store } from "../store/Store.js"
import * as DirectoryIndex from "./DirectoryIndex.js"

/**
 * The snapshot a tenant actor publishes and the mail path reads: relay state,
 * the directory index, and the signature engine's compiled templates, ordered
 * rules and settings, as of one store revision. A change to anything but
 * directory entries loads a new snapshot; a directory change patches the
 * address index in place (in one synchronous step on the actor's loop, after
 * every changed entry was read and checked, so no reader sees it half-done)
 * and publishes a new snapshot value with the new revision.
 */
export interface TenantState {
  readonly tenant: Tenant
  readonly directory: DirectoryIndex.DirectoryIndex
  /** compiled templates by id; a stored template that does not compile is absent (its rules then never match) */
  readonly templates: ReadonlyMap<string, CompiledTemplate>
  /** what each compiled template was compiled from: a reload reuses the compilation when it is unchanged */
  readonly sources: ReadonlyMap<string, string>
  /** in the tenant's order: order is meaning */
  readonly rules: ReadonlyArray<Rule>
  readonly settings: SignatureSettings
  /** the image library by id (issue 17) */
  readonly images: ReadonlyMap<string, ImageMeta>
  /** the bytes of the images templates use, by SHA-256; shared by every element rendered from this state */
  readonly imageBytes: ReadonlyMap<string, Uint8Array>
  /** what the library looked like: a change (a replaced image) makes rendered elements stale */
  readonly imagesFingerprint: string
  /** the store's revision for this tenant when the load began: newer writes make the state stale */
  readonly revision: number
}

/** Everything a compilation depends on; equal sources compile to equal templates. */
export const templateSource = (t: Template): string => JSON.stringify([t.version, t.name, t.html, t.text ?? null, t.delivery ?? null])

/**
 * Compiles each template once per content. One that fails (stored before
 * import validation existed, or written by hand) is logged and left out
 * instead of failing the load: the other templates keep stamping.
 */
const compileAll = Effect.fn("TenantState.compileAll")(function* (tenantId: TenantId, stored: ReadonlyArray<Template>, previous: TenantState | undefined) {
  const templates = new Map<string, CompiledTemplate>()
  const sources = new Map<string, string>()
  for (const template of stored) {
    const source = templateSource(template)
    const known = previous?.templates.get(template.id)
    if (known !== undefined && previous?.sources.get(template.id) === source) {
      templates.set(template.id, known)
      sources.set(template.id, source)
      continue
    }
    const compiled = compileTemplate(template)
    if (Either.isLeft(compiled)) {
      yield* Effect.logError("stored template does not compile; rules using it will not match").pipe(
        Effect.annotateLogs({ tenant: tenantId, template: template.id, part: compiled.left.part, problem: compiled.left.message })
      )
      continue
    }
    templates.set(template.id, compiled.right)
    sources.set(template.id, source)
  }
  return { templates, sources }
})

/** Loads the tenant; `previous` (the state being replaced) lets unchanged templates skip compiling. */
export const load = Effect.fn("TenantState.load")(function* (tenantId: TenantId, previous?: TenantState) {
  const store = yield* Store
  const repo = yield* TenantRepo
  // read the revision first: a write racing with the load leaves the state marked stale, never fresh
  const revision = store.tenantRevision(tenantId)
  const tenant = yield* repo.getTenant(tenantId)
  if (Option.isNone(tenant)) return yield* new TenantNotFound({ tenantId })
  const directory = yield* DirectoryIndex.build(tenantId)
  const { templates, sources } = yield* compileAll(tenantId, yield* repo.templates(tenantId), previous)
  const rules = yield* repo.rules(tenantId)
  const settings = yield* repo.settings(tenantId)
  const { images, imageBytes, imagesFingerprint } = yield* loadImages(tenantId, templates, previous)
  return { tenant: tenant.value, directory, templates, sources, rules, settings, images, imageBytes, imagesFingerprint, revision } satisfies TenantState
})

const Blob = Schema.Uint8ArrayFromSelf

/**
 * The library's records, and the bytes of the images some template shows
 * (an unused image costs no memory); bytes the previous state already held
 * are reused, since equal SHA-256 means equal bytes.
 */
const loadImages = Effect.fn("TenantState.loadImages")(function* (
  tenantId: TenantId,
  templates: ReadonlyMap<string, CompiledTemplate>,
  previous: TenantState | undefined
) {
  const store = yield* Store
  const images = new Map<string, ImageMeta>()
  for (const { value } of yield* store.list(Db.images, ImageMeta, Keys.imagePrefix(tenantId))) images.set(value.id, value)
  const imageBytes = new Map<string, Uint8Array>()
  for (const template of templates.values()) {
    for (const id of template.images) {
      const meta = images.get(id)
      if (meta === undefined || imageBytes.has(meta.sha256)) continue
      const known = previous?.imageBytes.get(meta.sha256)
      const bytes = known !== undefined ? Option.some(known) : yield* store.get(Db.imageBlobs, Blob, Keys.imageBlobKey(tenantId, meta.sha256))
      if (Option.isSome(bytes)) imageBytes.set(meta.sha256, bytes.value)
    }
  }
  const imagesFingerprint = JSON.stringify([...images.values()].map((i) => [i.id, i.sha256]))
  return { images, imageBytes, imagesFingerprint }
})

/** What a refresh changed: nothing, some directory entries (lowercased mails), or everything (a load). */
export type Changed = { readonly _tag: "Nothing" } | { readonly _tag: "Users"; readonly mails: ReadonlySet<string> } | { readonly _tag: "All" }

/**
 * Catches `state` up with the store. Commits since its revision that wrote
 * only directory entries (the store's change log says which) patch the index;
 * anything else, or a log that no longer reaches back, loads the tenant again.
 */
export const refresh = Effect.fn("TenantState.refresh")(function* (state: TenantState) {
  const store = yield* Store
  const revision = store.tenantRevision(state.tenant.id)
  if (revision <= state.revision) return { state, changed: { _tag: "Nothing" } as Changed }
  const mails = store.directoryChangesSince(state.tenant.id, state.revision, revision)
  if (mails === undefined) return { state: yield* load(state.tenant.id, state), changed: { _tag: "All" } as Changed }
  yield* DirectoryIndex.patch(state.directory, mails)
  return { state: { ...state, revision } satisfies TenantState, changed: { _tag: "Users", mails } as Changed }
})

/** Whether a write to this tenant committed after `state` was loaded. */
export const isStale = (store: Store, state: TenantState): boolean => store.tenantRevision(state.tenant.id) > state.revision

/**
 * Whether the templates changed at all (added, removed, edited). The render
 * cache keys by template version, but an import or a hand-written store edit
 * may change content without bumping it; template saves are rare, so the
 * actor simply clears its cache on any change.
 */
export const templatesChanged = (before: TenantState, after: TenantState): boolean => {
  if (before.imagesFingerprint !== after.imagesFingerprint) return true
  if (before.sources.size !== after.sources.size) return true
  for (const [id, source] of after.sources) if (before.sources.get(id) !== source) return true
  return false
}
