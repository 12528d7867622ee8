import { Effect, Option, Schema } from "effect"
import { TenantNotFound } from "../../domain/Errors.js"
import { TenantId } from "../../domain/Tenant.js"
import type { AccountUser, ApiTokenRecord } from "../../store/AccountRepo.js"
import type { StoreDecodeError, StoreError } from "../../store/StoreError.js"
import { TenantRepo } from "../../store/TenantRepo.js"
import { StoreFailure, storeFailureOf } from "../http/Errors.js"
import { type Principal, principalLabel } from "../http/Principal.js"
import { ApiTokenView, UserView } from "./Api.js"

/** What the users, API token and auth handlers share: views (no secrets, no hashes) and guards. */

export const iso = (ms: number) => new Date(ms).toISOString()

export const userView = (u: AccountUser) =>
  new UserView({ id: u.id, email: u.email, name: u.name, role: u.role, createdAt: iso(u.createdAt), disabled: u.disabled === true })

export const apiTokenView = (t: ApiTokenRecord) =>
  new ApiTokenView({
    id: t.id,
    name: t.name,
    role: t.role,
    createdAt: iso(t.createdAt),
    createdBy: t.createdBy,
    lastUsedAt: t.lastUsedAt === undefined ? undefined : iso(t.lastUsedAt)
  })

export const storeFailure = (e: StoreError | StoreDecodeError) =>
  Effect.logError("admin API: store failure", e).pipe(Effect.zipRight(Effect.fail(storeFailureOf(e))))

/** Owners and operators manage owners; admins do not. */
export const managesOwners = (p: Principal) => p._tag === "Operator" || p.role === "owner"

export const actorLabel = principalLabel

/**
 * The path's tenant exists. A member passed requireTenantRole already (its
 * tenant exists); an operator may name any id, and gets 404 for an unknown one.
 */
export const requireTenantExists = (raw: string) =>
  Effect.gen(function* () {
    const repo = yield* TenantRepo
    const id = Schema.decodeUnknownOption(TenantId)(raw)
    if (Option.isNone(id) || Option.isNone(yield* repo.getTenant(id.value))) return yield* new TenantNotFound({ tenantId: raw })
    return id.value
  })
