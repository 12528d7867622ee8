import * as HttpApi from "@effect/platform/HttpApi"
import * as OpenApi from "@effect/platform/OpenApi"
import { AuditGroup } from "./audit/Api.js"
import { AuthGroup } from "./auth/Api.js"
import { ApiTokensGroup, UsersGroup } from "./accounts/Api.js"
import { DirectoryGroup } from "./directory/Api.js"
import { ClusterUnavailable, ConcurrentEdit, PayloadTooLarge } from "./http/Errors.js"
import { ImagesGroup } from "./images/Api.js"
import { MetricsGroup, OpsGroup } from "./metrics/Api.js"
import { PreviewGroupApi } from "./rules/PreviewApi.js"
import { RulesGroup } from "./rules/Api.js"
import { SyncGroup } from "./sync/Api.js"
import { TemplatesGroup } from "./templates/Api.js"
import { TenantsGroup } from "./tenants/Api.js"
import { TraceGroup } from "./trace/Api.js"

/**
 * The admin API contract: Schema and platform only, no handlers, so the typed
 * client, the server and the OpenAPI document all derive from this one file.
 * Each feature has its folder, admin/<feature>/{Api,Handlers,Errors}.ts; the server's parts are in admin/http/, its Layers in src/AdminRoot.ts.
 *
 * Every group but ops runs behind AdminAuth (src/admin/http/Principal.ts), which
 * turns the bearer token into a Principal; handlers authorize from it.
 * Each group lives in its feature folder (admin/<feature>/Api.ts), composed in `Api`;
 * the shared errors are in admin/http/Errors.ts (one family: admin/http/ApiError.ts).
 */

export * from "./http/Errors.js"
export * from "./metrics/Api.js"
export * from "./tenants/Api.js"
export { AdminAuth, CurrentPrincipal, Operator, type Principal, TenantMember } from "./http/Principal.js"
export { Role } from "../domain/Role.js"

export class Api extends HttpApi.make("imprint-admin")
  .add(OpsGroup)
  .add(MetricsGroup)
  .add(TenantsGroup)
  .add(AuthGroup)
  .add(UsersGroup)
  .add(ApiTokensGroup)
  .add(TemplatesGroup)
  .add(RulesGroup)
  .add(PreviewGroupApi)
  .add(AuditGroup)
  .add(DirectoryGroup)
  .add(SyncGroup)
  // any endpoint: a body over its route's cap (src/admin/http/BodyLimits.ts)
  .addError(PayloadTooLarge)
  .add(TraceGroup)
  .add(ImagesGroup)
  // cluster mode: any write may lose a compare-and-set race (409) or find the cluster unreachable (503)
  .addError(ConcurrentEdit)
  .addError(ClusterUnavailable)
  .annotate(OpenApi.Title, "Imprint admin API") {}

/** Where the OpenAPI document is served. */
export const OPENAPI_PATH = "/openapi.json"
