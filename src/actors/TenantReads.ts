import { Clock, Effect, Option } from "effect"
import type { DirectoryUser } from "../domain/Directory.js"
import type { MessageKind } from "../domain/Rule.js"
import type { HeaderSummary, MessageEnvelope, SignatureElement } from "../domain/Signature.js"
import { RenderCache } from "../signature/RenderCache.js"
import { previewRules } from "../signature/RulesTester.js"
import type { ImageDeliverySettings } from "../domain/Images.js"
import type { TenantId } from "../domain/Tenant.js"
import { resolveSignature, type TenantImages } from "../signature/SignatureResolver.js"
import type { Store } from "../store/Store.js"
import type { StoreDecodeError, StoreError } from "../store/StoreError.js"
import * as DirectoryIndex from "./DirectoryIndex.js"
import type { Changed, TenantState } from "./TenantState.js"

/**
 * What the mail path (and the admin's preview) reads from a tenant's published
 * snapshot, in the caller's fiber: no mailbox round trip per message. The
 * caches here are updated synchronously, so concurrent readers never see
 * them half-written; the actor's loop tells them what a refresh changed.
 */

/**
 * Decoded directory entries kept (recent senders): decoding an entry costs
 * more than the rest of a cached resolve. Bounded; a refresh drops the
 * entries it changed (all of them on a reload), so it never serves an entry
 * the store no longer has.
 */
export const DECODED_USER_CACHE_CAPACITY = 4_096

export interface PreviewInput {
  readonly sender: string
  readonly recipients: ReadonlyArray<string>
  readonly subject: string
  readonly kind?: MessageKind
  /** epoch milliseconds to evaluate date windows at; absent: now */
  readonly at?: number
}

export const makeReads = (
  tenantId: TenantId,
  imageSettings: ImageDeliverySettings,
  /** a directory photo's bytes by SHA-256, read from the store when a signature shows it */
  photoBytes?: (sha256: string) => Uint8Array | undefined
) => {
  const renderCache = new RenderCache<SignatureElement>()
  /** what rendering needs of the state's image library; one object per state, so renders share it */
  let imagesFor: TenantState | undefined
  let images: TenantImages | undefined
  const imagesOf = (s: TenantState): TenantImages => {
    if (imagesFor !== s || images === undefined) {
      imagesFor = s
      images = {
        tenantId,
        library: s.images,
        bytes: (sha) => s.imageBytes.get(sha),
        settings: imageSettings,
        ...(photoBytes !== undefined ? { photoBytes } : {})
      }
    }
    return images
  }
  const decodedUsers = new Map<string, DirectoryUser>()
  /** bumped by every invalidation: an entry read before one is not cached after it */
  let generation = 0

  /** After a refresh: forget what it changed. */
  const invalidate = (changed: Changed, templatesChanged: boolean) => {
    generation++
    if (templatesChanged) renderCache.clear()
    if (changed._tag === "All") decodedUsers.clear()
    else if (changed._tag === "Users") for (const mail of changed.mails) decodedUsers.delete(mail)
  }

  const lookup = (s: TenantState, address: string): Effect.Effect<Option.Option<DirectoryUser>, StoreError | StoreDecodeError, Store> =>
    Effect.suspend(() => {
      const mail = DirectoryIndex.mailOf(s.directory, address)
      if (mail === undefined) return Effect.succeed(Option.none<DirectoryUser>())
      const known = decodedUsers.get(mail)
      if (known !== undefined) return Effect.succeed(Option.some(known))
      const readAt = generation
      return DirectoryIndex.read(s.directory, mail).pipe(
        Effect.tap((user) => {
          // a refresh meanwhile may have changed this entry: keep nothing read before it
          if (Option.isNone(user) || readAt !== generation) return
          // oldest first out: a Map iterates in insertion order
          if (decodedUsers.size >= DECODED_USER_CACHE_CAPACITY) decodedUsers.delete(decodedUsers.keys().next().value!)
          decodedUsers.set(mail, user.value)
        })
      )
    })

  const decide = (s: TenantState, user: Option.Option<DirectoryUser>, envelope: MessageEnvelope, header: HeaderSummary, now: number) =>
    resolveSignature({
      rules: s.rules,
      templates: s.templates,
      user,
      envelope,
      header,
      tenantDomains: s.tenant.domains,
      settings: s.settings,
      now,
      cache: renderCache,
      images: imagesOf(s)
    })

  const resolve = (s: TenantState, envelope: MessageEnvelope, header: HeaderSummary) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      // a null sender (bounce) has no user; the resolver says so
      const user = envelope.mailFrom.trim() === "" ? Option.none<DirectoryUser>() : yield* lookup(s, envelope.mailFrom)
      return decide(s, user, envelope, header, now)
    })

  /**
   * `resolve` as a plain call when it needs no store read (the sender is not in the directory,
   * or its entry is decoded already: the usual case); undefined when it does.
   */
  const resolveCached = (s: TenantState, envelope: MessageEnvelope, header: HeaderSummary, now: number) => {
    let user = Option.none<DirectoryUser>()
    if (envelope.mailFrom.trim() !== "") {
      const mail = DirectoryIndex.mailOf(s.directory, envelope.mailFrom)
      if (mail !== undefined) {
        const known = decodedUsers.get(mail)
        if (known === undefined) return undefined
        user = Option.some(known)
      }
    }
    return decide(s, user, envelope, header, now)
  }

  const preview = (s: TenantState, r: PreviewInput) =>
    Effect.gen(function* () {
      const now = r.at ?? (yield* Clock.currentTimeMillis)
      const user = r.sender.trim() === "" ? Option.none<DirectoryUser>() : yield* lookup(s, r.sender)
      return previewRules({
        rules: s.rules,
        templates: s.templates,
        user,
        sender: r.sender,
        recipients: r.recipients,
        subject: r.subject,
        ...(r.kind !== undefined ? { kind: r.kind } : {}),
        tenantDomains: s.tenant.domains,
        settings: s.settings,
        now,
        images: imagesOf(s)
      })
    })

  const clear = () => {
    generation++
    renderCache.clear()
    decodedUsers.clear()
  }
  return { renderCache, invalidate, lookup, resolve, resolveCached, preview, clear, decodedUsers: () => decodedUsers.size }
}
export type TenantReads = ReturnType<typeof makeReads>
