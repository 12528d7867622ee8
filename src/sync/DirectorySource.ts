import type { Effect, Option, Scope, Stream } from "effect"
import { Schema } from "effect"
import type { DirectoryUser } from "../domain/Directory.js"

/**
 * The contract between directory sources (Microsoft Graph, LDAP, CSV/JSON
 * files) and the DirectorySync actor that applies what they report to a
 * tenant's cached directory. A source only reads and maps; it never writes
 * the cache, so a failed pass cannot empty it: the actor applies a pass only
 * when its stream completed.
 */

/** One change a source reports. `Remove` carries the mail the cache knows the user by. */
export type SourceChange =
  /** `sourceId`: the source's own stable id (a Graph object id), when removals arrive by id */
  | { readonly _tag: "Upsert"; readonly user: DirectoryUser; readonly sourceId?: string; readonly photo?: SourcePhoto }
  | { readonly _tag: "Remove"; readonly mail: string }
  /** a removal the source reports by its own id only (Graph delta `@removed`); the sync maps it to a mail */
  | { readonly _tag: "RemoveById"; readonly sourceId: string }
  /** an entry the source returned that could not be mapped (no mail, invalid value): counted and logged, never applied */
  | {
      readonly _tag: "Rejected"
      readonly ref: string
      readonly reason: string
      /** the entry's mail when it was readable: a full pass keeps that user's cached entry instead of removing it */
      readonly mail?: string
    }

/**
 * A photo a source has for a user (issue 17 item 3). `tag` names this photo
 * (Graph's `@odata.mediaEtag`, else the SHA-256 of the bytes read); the sync
 * reads `bytes` only when the cached entry's photo has another tag, so an
 * unchanged photo is neither fetched nor re-encoded. `bytes` answers
 * undefined when the photo turned out to be gone. An Upsert without `photo`
 * means the user has none (or the source does not read photos).
 */
export interface SourcePhoto {
  /** absent: the source cannot name the version, so the bytes are read every pass (and re-encoded only when they changed) */
  readonly tag?: string
  readonly bytes: Effect.Effect<Uint8Array | undefined, SourceError>
}

/** One pass over a source. */
export interface SourcePass {
  /**
   * "full": `changes` lists every user the source has (only Upserts and
   * Rejected); after the stream completes, cached users it did not list are
   * removed. "delta": only what changed since the cursor.
   */
  readonly mode: "full" | "delta"
  readonly changes: Stream.Stream<SourceChange, SourceError>
  /** where the next pass resumes (a Graph deltaLink); read only after `changes` completed */
  readonly nextCursor: Effect.Effect<Option.Option<string>>
}

export interface DirectorySource {
  readonly kind: "graph" | "ldap" | "file"
  /** a name for logs and the status endpoint, e.g. "graph:contoso" — never a credential */
  readonly name: string
  /** starts a pass; `cursor` is the previous pass's nextCursor (None: a full pass) */
  readonly pass: (cursor: Option.Option<string>) => Effect.Effect<SourcePass, SourceError, Scope.Scope>
}

/**
 * A source failed. `retryable`: a later attempt may succeed (network, 429,
 * 503, timeout); otherwise configuration must change (bad credentials,
 * wrong base DN).
 */
export class SourceError extends Schema.TaggedError<SourceError>()("SourceError", {
  source: Schema.String,
  message: Schema.String,
  retryable: Schema.Boolean
}) {}
