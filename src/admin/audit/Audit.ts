import { Effect } from "effect"
import { AuditRepo } from "../../store/AuditRepo.js"
import type { WriteOp } from "../../store/Store.js"
import { CurrentPrincipal, principalLabel } from "../http/Principal.js"

/**
 * Recording admin changes in the audit log (src/store/AuditRepo.ts). The
 * actor is always the authenticated principal, never something the request
 * says about itself.
 *
 * Failure mode: `recordAudit` runs after the change is committed, so a store
 * failure while auditing cannot undo it. Failing the request then would tell
 * the caller "not done" about something that was done (and a retry would
 * apply it twice), so the failure is logged at error level, with the entry
 * it could not write, and the request succeeds. Where a change is one Store
 * batch the caller builds itself, `auditOp` gives the entry's write to put
 * into that same batch: change and entry then commit together or not at all.
 */

export interface AuditDetails {
  /** an identifier such as a version number or count, never a secret */
  readonly before?: string | undefined
  readonly after?: string | undefined
  readonly detail?: string | undefined
}

const input = (tenantId: string, action: string, target: string, details: AuditDetails | undefined) =>
  Effect.map(CurrentPrincipal, (principal) => ({ tenantId, actor: principalLabel(principal), action, target, ...details }))

/** Writes one entry after the change; a store failure is logged, never raised (see above). */
export const recordAudit = (
  tenantId: string,
  action: string,
  target: string,
  details?: AuditDetails
): Effect.Effect<void, never, AuditRepo | CurrentPrincipal> =>
  Effect.gen(function* () {
    const repo = yield* AuditRepo
    const entry = yield* input(tenantId, action, target, details)
    yield* repo
      .record(entry)
      .pipe(
        Effect.catchAll((e) =>
          Effect.logError("audit entry could not be written; the change it records was made").pipe(
            Effect.annotateLogs({ tenant: tenantId, action, target, actor: entry.actor, error: e.message })
          )
        )
      )
  }).pipe(Effect.withSpan("Audit.recordAudit", { attributes: { action } }))

/** The entry as a write, to commit in the same Store batch as the change it records. */
export const auditOp = (
  tenantId: string,
  action: string,
  target: string,
  details?: AuditDetails
): Effect.Effect<WriteOp, never, AuditRepo | CurrentPrincipal> =>
  Effect.gen(function* () {
    const repo = yield* AuditRepo
    const { op } = yield* repo.entryOp(yield* input(tenantId, action, target, details))
    return op
  })
