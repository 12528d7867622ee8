import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { Effect, Option } from "effect"
import { AccountRepo } from "../../store/AccountRepo.js"
import { ApiTokenNotFound } from "./Errors.js"
import { Api, Forbidden } from "../Api.js"
import { recordAudit } from "../audit/Audit.js"
import { principalLabel, requireTenantRole } from "../http/Principal.js"
import { ADMIN_ROLES } from "../../domain/Role.js"
import { ApiTokenCreated } from "./Api.js"
import { apiTokenView, managesOwners, requireTenantExists, storeFailure } from "./Views.js"

/**
 * /tenants/{tenantId}/api-tokens: tokens for automation, each with one role
 * in one tenant. Owners and admins manage them; an admin can neither mint
 * nor revoke an owner token (that would be a way around "only owners make
 * owners"). The secret is in the create answer only.
 */

export const ApiTokensLive = HttpApiBuilder.group(Api, "apiTokens", (handlers) =>
  Effect.gen(function* () {
    const accounts = yield* AccountRepo
    const guard = (tenantId: string) => Effect.zipLeft(requireTenantRole(tenantId, ADMIN_ROLES), requireTenantExists(tenantId))

    return handlers
      .handle("list", ({ path }) =>
        guard(path.tenantId).pipe(
          Effect.zipRight(accounts.listApiTokens(path.tenantId)),
          Effect.map((ts) => ts.map(apiTokenView)),
          Effect.catchTags({ StoreError: storeFailure, StoreDecodeError: storeFailure })
        )
      )
      .handle("create", ({ path, payload }) =>
        Effect.gen(function* () {
          const principal = yield* guard(path.tenantId)
          if (payload.role === "owner" && !managesOwners(principal)) return yield* new Forbidden({ message: "only an owner may create an owner token" })
          const { token, record } = yield* accounts.createApiToken(path.tenantId, payload.name, payload.role, principalLabel(principal))
          yield* recordAudit(path.tenantId, "token.create", `api-token/${record.id}`, { after: record.role, detail: record.name })
          return new ApiTokenCreated({ token, apiToken: apiTokenView(record) })
        }).pipe(Effect.catchTags({ StoreError: storeFailure, StoreDecodeError: storeFailure }))
      )
      .handle("revoke", ({ path }) =>
        Effect.gen(function* () {
          const principal = yield* guard(path.tenantId)
          const notFound = new ApiTokenNotFound({ tokenId: path.tokenId, message: `this tenant has no API token ${path.tokenId}` })
          const existing = (yield* accounts.listApiTokens(path.tenantId)).find((t) => t.id === path.tokenId)
          if (existing === undefined) return yield* notFound
          if (existing.role === "owner" && !managesOwners(principal)) return yield* new Forbidden({ message: "only an owner may revoke an owner token" })
          const revoked = yield* accounts.revokeApiToken(path.tenantId, path.tokenId)
          if (Option.isNone(revoked)) return yield* notFound
          yield* recordAudit(path.tenantId, "token.revoke", `api-token/${path.tokenId}`, { before: existing.role, detail: existing.name })
        }).pipe(Effect.catchTags({ StoreError: storeFailure, StoreDecodeError: storeFailure }))
      )
  })
)
