import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import { TenantNotFound } from "../../domain/Errors.js"
import { TooManyAttempts } from "../auth/Errors.js"
import { ApiTokenNotFound, LastOwnerRequired, LoginNameTaken, UserNotFound } from "./Errors.js"
import { Forbidden, StoreFailure } from "../http/Errors.js"
import { MAX_EMAIL_LENGTH } from "../auth/Api.js"
import { MAX_PASSWORD_LENGTH, PasswordRejected } from "../auth/PasswordPolicy.js"
import { AdminAuth } from "../http/Principal.js"
import { Role } from "../../domain/Role.js"

/**
 * Tenant members (people) and tenant API tokens (automation), under
 * /tenants/{tenantId}/…. Owners and admins manage them; only owners (and
 * operators) create, change or remove owners, and a tenant always keeps one
 * enabled owner. An operator creates a tenant's first owner here.
 */

const STRICT = { parseOptions: { onExcessProperty: "error", errors: "all" } } as const
const tenantId = HttpApiSchema.param("tenantId", Schema.String)
const userId = HttpApiSchema.param("userId", Schema.String)
const tokenId = HttpApiSchema.param("tokenId", Schema.String)

const Email = Schema.String.pipe(
  Schema.maxLength(MAX_EMAIL_LENGTH),
  Schema.pattern(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, { message: () => "an email address such as ada@example.org" })
)
const Name = Schema.String.pipe(
  Schema.minLength(1),
  Schema.maxLength(100),
  Schema.pattern(/^[^\u0000-\u001f\u007f]*$/, { message: () => "a name without control characters" })
)
/** the policy (PasswordPolicy) is checked by the handler, so its answer can list every problem */
const Password = Schema.String.pipe(Schema.maxLength(MAX_PASSWORD_LENGTH * 2))

export class UserView extends Schema.Class<UserView>("UserView")({
  id: Schema.String,
  email: Schema.String,
  name: Schema.String,
  role: Role,
  createdAt: Schema.String,
  disabled: Schema.Boolean
}) {}

export const UserCreate = Schema.Struct({ email: Email, name: Name, role: Role, password: Password }).annotations({ ...STRICT, identifier: "UserCreate" })
export const UserUpdate = Schema.Struct({ name: Schema.optional(Name), role: Schema.optional(Role), disabled: Schema.optional(Schema.Boolean) }).annotations({
  ...STRICT,
  identifier: "UserUpdate"
})
/** `currentPassword` is required when members change their own password */
export const PasswordChange = Schema.Struct({ password: Password, currentPassword: Schema.optional(Password) }).annotations({
  ...STRICT,
  identifier: "PasswordChange"
})

export class ApiTokenView extends Schema.Class<ApiTokenView>("ApiTokenView")({
  id: Schema.String,
  name: Schema.String,
  role: Role,
  createdAt: Schema.String,
  createdBy: Schema.String,
  lastUsedAt: Schema.optional(Schema.String)
}) {}

export class ApiTokenCreated extends Schema.Class<ApiTokenCreated>("ApiTokenCreated")({
  /** the secret, shown only this once: `Authorization: Bearer <token>` */
  token: Schema.String,
  apiToken: ApiTokenView
}) {}

export const ApiTokenCreate = Schema.Struct({ name: Name, role: Role }).annotations({ ...STRICT, identifier: "ApiTokenCreate" })

export class UsersGroup extends HttpApiGroup.make("users")
  .add(HttpApiEndpoint.get("list")`/tenants/${tenantId}/users`.addSuccess(Schema.Array(UserView)))
  .add(
    HttpApiEndpoint.post("create")`/tenants/${tenantId}/users`
      .setPayload(UserCreate)
      .addSuccess(UserView, { status: 201 })
      .addError(LoginNameTaken)
      .addError(PasswordRejected)
  )
  .add(HttpApiEndpoint.get("get")`/tenants/${tenantId}/users/${userId}`.addSuccess(UserView))
  .add(HttpApiEndpoint.patch("update")`/tenants/${tenantId}/users/${userId}`.setPayload(UserUpdate).addSuccess(UserView).addError(LastOwnerRequired))
  .add(HttpApiEndpoint.del("delete")`/tenants/${tenantId}/users/${userId}`.addSuccess(HttpApiSchema.NoContent).addError(LastOwnerRequired))
  .add(
    HttpApiEndpoint.post("setPassword")`/tenants/${tenantId}/users/${userId}/password`
      .setPayload(PasswordChange)
      .addSuccess(HttpApiSchema.NoContent)
      .addError(PasswordRejected)
      .addError(TooManyAttempts)
  )
  .addError(TenantNotFound, { status: 404 })
  .addError(UserNotFound)
  .addError(Forbidden)
  .addError(StoreFailure)
  .middleware(AdminAuth)
  .annotate(OpenApi.Description, "The tenant's members: owners, admins, editors, auditors. Owners and admins manage them; only owners manage owners.") {}

export class ApiTokensGroup extends HttpApiGroup.make("apiTokens")
  .add(HttpApiEndpoint.get("list")`/tenants/${tenantId}/api-tokens`.addSuccess(Schema.Array(ApiTokenView)))
  .add(HttpApiEndpoint.post("create")`/tenants/${tenantId}/api-tokens`.setPayload(ApiTokenCreate).addSuccess(ApiTokenCreated, { status: 201 }))
  .add(HttpApiEndpoint.del("revoke")`/tenants/${tenantId}/api-tokens/${tokenId}`.addSuccess(HttpApiSchema.NoContent).addError(ApiTokenNotFound))
  .addError(TenantNotFound, { status: 404 })
  .addError(Forbidden)
  .addError(StoreFailure)
  .middleware(AdminAuth)
  .annotate(OpenApi.Description, "Tenant API tokens for automation: a role inside one tenant; the secret is shown once and stored hashed.") {}
