import { Schema } from "effect"

/**
 * Expected failures about tenants that callers outside the store see (CLI,
 * admin API, tenant actors). Schema errors so they can cross a wire.
 */

export class TenantNotFound extends Schema.TaggedError<TenantNotFound>()("TenantNotFound", {
  tenantId: Schema.String
}) {
  override get message() {
    return `tenant ${this.tenantId} does not exist`
  }
}

/** A tenant file that does not decode; `message` names the offending key path. */
export class TenantFileInvalid extends Schema.TaggedError<TenantFileInvalid>()("TenantFileInvalid", {
  message: Schema.String
}) {}

/**
 * A domain, AUTH username or certificate that another tenant already owns:
 * binding would be ambiguous, or one tenant could send as another's domain.
 */
export class TenantConflict extends Schema.TaggedError<TenantConflict>()("TenantConflict", {
  tenantId: Schema.String,
  otherTenantId: Schema.String,
  message: Schema.String
}) {}
