import { Schema } from "effect"

/**
 * A tenant member's role, and the role sets the admin API grants by. The store keeps
 * roles with accounts and the admin API checks them, so the type lives here, below both.
 */

export const Role = Schema.Literal("owner", "admin", "editor", "auditor")
export type Role = typeof Role.Type

/** every member role: reading templates, rules, directory */
export const READ_ROLES: ReadonlyArray<Role> = ["owner", "admin", "editor", "auditor"]
/** templates and rules, preview, test stamp */
export const CONTENT_ROLES: ReadonlyArray<Role> = ["owner", "admin", "editor"]
/** directory writes, users (but only owners make or remove owners), API tokens, sync */
export const ADMIN_ROLES: ReadonlyArray<Role> = ["owner", "admin"]
/** the audit log */
export const AUDIT_ROLES: ReadonlyArray<Role> = ["owner", "admin", "auditor"]
