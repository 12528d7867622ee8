import { Schema } from "effect"

/**
 * Key layout of tenant members' credentials (admin-only data the relay never
 * reads, so nothing here is under `tenant/`: a sign-in must not make the
 * tenant's actor reload). Records live under `account/<tenantId>/…`, so a
 * tenant's removal is one prefix per database. Credentials arrive without a
 * tenant (a bearer token, an email, an attempt id), so a global `ref/…` or
 * `login/…` entry names the tenant to look under.
 */

/** users and the global login-name index */
export const ACCOUNTS_DB = "accounts"
/** sessions, trusted devices, pending login attempts */
export const ACCOUNT_SESSIONS_DB = "account_sessions"
/** tenant API tokens */
export const ACCOUNT_TOKENS_DB = "account_tokens"

export const ACCOUNT_KEY_ROOT = "account/"
export const accountPrefix = (tenantId: string) => `${ACCOUNT_KEY_ROOT}${tenantId}/`

export const userPrefix = (tenantId: string) => `${accountPrefix(tenantId)}user/`
export const userKey = (tenantId: string, userId: string) => `${userPrefix(tenantId)}${userId}`
/** login names are unique across tenants, compared case-insensitively */
export const loginKey = (email: string) => `login/${email.toLowerCase()}`

export type CredentialKind = "session" | "device" | "attempt" | "token"
export const credentialPrefix = (tenantId: string, kind: CredentialKind) => `${accountPrefix(tenantId)}${kind}/`
/** `digest`: SHA-256 of the secret, never the secret */
export const credentialKey = (tenantId: string, kind: CredentialKind, digest: string) => `${credentialPrefix(tenantId, kind)}${digest}`
export const refKey = (kind: CredentialKind, digest: string) => `ref/${kind}/${digest}`
/** the digest at the end of a credential key */
export const digestOfKey = (key: string) => key.slice(key.lastIndexOf("/") + 1)

/** Which tenant a credential's digest belongs to. */
export class TenantRef extends Schema.Class<TenantRef>("TenantRef")({ tenantId: Schema.String }) {}

/** The login index entry: which tenant and user an email signs in as. */
export class LoginRef extends Schema.Class<LoginRef>("LoginRef")({ tenantId: Schema.String, userId: Schema.String }) {}
