import { Effect, Option } from "effect"
import { TenantNotFound } from "../domain/Errors.js"
import type { Tenant, TenantId } from "../domain/Tenant.js"
import { TenantRepo } from "../store/TenantRepo.js"
import { Store } from "../store/Store.js"
import * as DirectoryIndex from "./DirectoryIndex.js"

/**
 * Everything a tenant actor holds, loaded in one place from the store. The
 * signature engine adds its compiled templates, rules and settings here, and
 * nothing else in the actor needs to change to reload them.
 */
export interface TenantState {
  readonly tenant: Tenant
  readonly directory: DirectoryIndex.DirectoryIndex
  /** the store's revision for this tenant when the load began: newer writes make the state stale */
  readonly revision: number
}

export const load = Effect.fn("TenantState.load")(function* (tenantId: TenantId) {
  const store = yield* Store
  const repo = yield* TenantRepo
  // read the revision first: a write racing with the load leaves the state marked stale, never fresh
  const revision = store.tenantRevision(tenantId)
  const tenant = yield* repo.getTenant(tenantId)
  if (Option.isNone(tenant)) return yield* new TenantNotFound({ tenantId })
  const directory = yield* DirectoryIndex.build(tenantId)
  return { tenant: tenant.value, directory, revision } satisfies TenantState
})

/** Whether a write to this tenant committed after `state` was loaded. */
export const isStale = (store: Store, state: TenantState): boolean => store.tenantRevision(state.tenant.id) > state.revision
