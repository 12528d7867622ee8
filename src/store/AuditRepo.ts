import { Clock, Effect, Schema } from "effect"
import { randomBytes } from "node:crypto"
import { AuditEntry } from "../domain/Audit.js"
import { DEFAULT_AUDIT_PAGE, MAX_AUDIT_PAGE } from "../domain/Paging.js"
import { StoreDecodeError } from "./StoreError.js"
import { Store, Write, type WriteOp } from "./Store.js"

/**
 * The audit log: who changed what in a tenant, and when. Admin-only data the
 * relay never reads, so it lives in its own database under `audit/<tenantId>/`,
 * not under `tenant/` (a write there would make the tenant's actor reload).
 * Deleting a tenant leaves its audit entries: the record of who deleted it
 * must outlive it.
 *
 * Keys sort newest first: the id is the inverted time, an inverted
 * per-process sequence (two entries in one millisecond keep their order) and
 * a random suffix (two processes writing in the same millisecond never
 * collide). Listing a page reads from the newest entry and stops after the
 * page, so recent pages cost the page, not the log.
 */

export const AUDIT_DB = "audit"
export const AUDIT_KEY_ROOT = "audit/"
/** free-text fields are cut here; an audit entry names things, it does not copy them */
export const MAX_AUDIT_FIELD = 1_000

const MAX_TIME = 9_999_999_999_999 // 13 digits: epoch ms until the year 2286
const MAX_SEQUENCE = 999_999_999
const AUDIT_ID = /^\d{13}-\d{9}-[0-9a-f]{8}$/

export const auditPrefix = (tenantId: string): string => `${AUDIT_KEY_ROOT}${tenantId}/`
export const auditKey = (tenantId: string, id: string): string => `${auditPrefix(tenantId)}${id}`

export interface AuditInput {
  readonly tenantId: string
  readonly actor: string
  readonly action: string
  readonly target: string
  readonly before?: string | undefined
  readonly after?: string | undefined
  readonly detail?: string | undefined
}

export interface AuditPage {
  readonly entries: ReadonlyArray<AuditEntry>
  /** pass as `before` for the next (older) page; absent on the last page */
  readonly next?: string
}

const cut = (s: string | undefined) => (s === undefined || s.length <= MAX_AUDIT_FIELD ? s : `${s.slice(0, MAX_AUDIT_FIELD)}…`)

// stops a scan once the page is full (Store.forEachRaw stops on a thrown StoreDecodeError)
const PAGE_FULL_KEY = "\u0000page-full"
const PAGE_FULL = new StoreDecodeError({ db: AUDIT_DB, key: PAGE_FULL_KEY, message: "page full" })

const make = Effect.gen(function* () {
  const store = yield* Store
  let sequence = 0

  /** The entry and its write, for callers that put it into the same batch as the change it records. */
  const entryOp = Effect.fn("AuditRepo.entryOp")(function* (input: AuditInput) {
    const at = yield* Clock.currentTimeMillis
    sequence = (sequence + 1) % MAX_SEQUENCE
    const id = `${String(MAX_TIME - at).padStart(13, "0")}-${String(MAX_SEQUENCE - sequence).padStart(9, "0")}-${randomBytes(4).toString("hex")}`
    const entry = new AuditEntry({
      id,
      tenantId: input.tenantId,
      at,
      actor: cut(input.actor)!,
      action: cut(input.action)!,
      target: cut(input.target)!,
      ...(input.before !== undefined ? { before: cut(input.before) } : {}),
      ...(input.after !== undefined ? { after: cut(input.after) } : {}),
      ...(input.detail !== undefined ? { detail: cut(input.detail) } : {})
    })
    const op: WriteOp = Write.put(AUDIT_DB, AuditEntry, auditKey(input.tenantId, id), entry)
    return { entry, op }
  })

  const record = Effect.fn("AuditRepo.record")(function* (input: AuditInput) {
    const { entry, op } = yield* entryOp(input)
    yield* store.batch([op])
    return entry
  })

  /** Newest first; `before` is the `next` of the previous page (an entry id). */
  const list = Effect.fn("AuditRepo.list")(function* (
    tenantId: string,
    options: { readonly limit?: number | undefined; readonly before?: string | undefined } = {}
  ) {
    const limit = Math.max(1, Math.min(options.limit ?? DEFAULT_AUDIT_PAGE, MAX_AUDIT_PAGE))
    const prefix = auditPrefix(tenantId)
    // an id that is not ours starts from the newest entry rather than guessing
    const after = options.before !== undefined && AUDIT_ID.test(options.before) ? auditKey(tenantId, options.before) : undefined
    const raws: Array<{ key: string; raw: unknown }> = []
    let more = false
    yield* store
      .forEachRaw(AUDIT_DB, prefix, (key, raw) => {
        if (after !== undefined && key <= after) return
        if (raws.length === limit) {
          more = true
          throw PAGE_FULL
        }
        raws.push({ key, raw })
      })
      .pipe(
        Effect.catchIf(
          (e) => e._tag === "StoreDecodeError" && e.key === PAGE_FULL_KEY,
          () => Effect.succeed(0)
        )
      )
    const entries: Array<AuditEntry> = []
    for (const { key, raw } of raws) {
      entries.push(
        yield* Schema.decodeUnknown(AuditEntry)(raw).pipe(
          Effect.mapError((e) => new StoreDecodeError({ db: AUDIT_DB, key, message: `${AUDIT_DB}:${key} does not decode: ${e.message}` }))
        )
      )
    }
    const last = entries.at(-1)
    return (more && last !== undefined ? { entries, next: last.id } : { entries }) satisfies AuditPage
  })

  return { record, entryOp, list } as const
})

export class AuditRepo extends Effect.Service<AuditRepo>()("imprint/AuditRepo", { effect: make, dependencies: [Store.Default] }) {}
