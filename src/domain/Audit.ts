import { Schema } from "effect"

/** One audit-log entry: what the store keeps (store/AuditRepo.ts) and what the admin API lists. */
export class AuditEntry extends Schema.Class<AuditEntry>("AuditEntry")({
  /** time-sortable (newest first), also the paging cursor */
  id: Schema.String,
  tenantId: Schema.String,
  /** epoch milliseconds */
  at: Schema.Number,
  /** principalLabel(): "operator:ci", "user:ann@acme.example", "api-token:deploy" */
  actor: Schema.String,
  /** "tenant.update", "directory.import", … */
  action: Schema.String,
  /** "tenant/acme", "user/ann@acme.example", … */
  target: Schema.String,
  /** identifiers such as version numbers or counts, never secrets */
  before: Schema.optional(Schema.String),
  after: Schema.optional(Schema.String),
  detail: Schema.optional(Schema.String)
}) {}
