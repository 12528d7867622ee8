import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { Effect, Option, Schema } from "effect"
import { TenantNotFound } from "../../domain/Errors.js"
import { TenantId } from "../../domain/Tenant.js"
import { AuditRepo } from "../../store/AuditRepo.js"
import { Api, StoreFailure, storeFailureOf } from "../Api.js"
import { AuditPageView } from "./Api.js"
import { requireTenantRole } from "../http/Principal.js"
import { AUDIT_ROLES } from "../../domain/Role.js"

/** The audit log, read-only: entries are written by the handlers that make changes (src/admin/audit/Audit.ts). */

export const AuditLive = HttpApiBuilder.group(Api, "audit", (handlers) =>
  Effect.gen(function* () {
    const repo = yield* AuditRepo
    return handlers.handle("list", ({ path, urlParams }) =>
      Effect.gen(function* () {
        yield* requireTenantRole(path.tenantId, AUDIT_ROLES)
        // not a tenant id: no tenant, no log (a deleted tenant's log stays readable, so existence is not checked)
        if (Option.isNone(Schema.decodeUnknownOption(TenantId)(path.tenantId))) return yield* new TenantNotFound({ tenantId: path.tenantId })
        const page = yield* repo
          .list(path.tenantId, { limit: urlParams.limit, before: urlParams.before })
          .pipe(Effect.catchAll((e) => Effect.logError("admin API: audit log read failed", e).pipe(Effect.zipRight(Effect.fail(storeFailureOf(e))))))
        return new AuditPageView(page)
      })
    )
  })
)
