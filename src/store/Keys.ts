import type { TenantId } from "../domain/Tenant.js"

/**
 * The key layout. Every tenant-owned key starts with `tenant/<id>/`: the
 * trailing delimiter is what keeps tenant "a" from ever seeing tenant "ab"
 * (DESIGN.md invariant 10). Build keys only through these functions.
 */

/** Named LMDB databases, one per entity. Other modules may open their own names. */
export const Db = {
  tenants: "tenants",
  templates: "templates",
  rules: "rules",
  settings: "settings",
  users: "users",
  /** saved versions of each template (admin API history); the relay never reads them */
  templateVersions: "template-versions",
  /** the image library's records (ImageMeta), by image id */
  images: "images",
  /** image bytes by SHA-256 (content-addressed: ids with the same bytes share one) */
  imageBlobs: "image-blobs",
  /** directory photos' normalised JPEG bytes by SHA-256 (users naming the same photo share one) */
  photoBlobs: "photo-blobs"
} as const
export type DbName = string

export const TENANT_KEY_ROOT = "tenant/"

export const tenantPrefix = (id: TenantId): string => `${TENANT_KEY_ROOT}${id}/`
/** the Tenant record (relay state) */
export const tenantKey = (id: TenantId): string => `${tenantPrefix(id)}tenant`
export const templatePrefix = (id: TenantId): string => `${tenantPrefix(id)}template/`
export const templateKey = (id: TenantId, templateId: string): string => `${templatePrefix(id)}${templateId}`
/** rules are one ordered list per tenant: order is meaning */
export const rulesKey = (id: TenantId): string => `${tenantPrefix(id)}rules`
export const settingsKey = (id: TenantId): string => `${tenantPrefix(id)}settings`
export const userPrefix = (id: TenantId): string => `${tenantPrefix(id)}user/`
/** one directory entry per key, so a 100,000-user tenant is not one value */
export const userKey = (id: TenantId, mail: string): string => `${userPrefix(id)}${mail.toLowerCase()}`

// ---- template history (admin API, issue 6) ----
/** every saved version of one template; the trailing delimiter keeps "a" from seeing "ab" */
export const templateVersionPrefix = (id: TenantId, templateId: string): string => `${tenantPrefix(id)}template-version/${templateId}/`
/** versions zero-padded, so key order is version order */
export const templateVersionKey = (id: TenantId, templateId: string, version: number): string =>
  `${templateVersionPrefix(id, templateId)}${String(version).padStart(10, "0")}`

// ---- image library (issue 17) ----
export const imagePrefix = (id: TenantId): string => `${tenantPrefix(id)}image/`
export const imageKey = (id: TenantId, imageId: string): string => `${imagePrefix(id)}${imageId}`
export const imageBlobPrefix = (id: TenantId): string => `${tenantPrefix(id)}image-blob/`
export const imageBlobKey = (id: TenantId, sha256: string): string => `${imageBlobPrefix(id)}${sha256}`

// ---- directory photos (issue 17 item 3) ----
export const photoBlobPrefix = (id: TenantId): string => `${tenantPrefix(id)}photo-blob/`
export const photoBlobKey = (id: TenantId, sha256: string): string => `${photoBlobPrefix(id)}${sha256}`

/** The tenant a key belongs to, or undefined for keys outside `tenant/`. */
export const tenantIdOfKey = (key: string): TenantId | undefined => {
  if (!key.startsWith(TENANT_KEY_ROOT)) return undefined
  const end = key.indexOf("/", TENANT_KEY_ROOT.length)
  return end > TENANT_KEY_ROOT.length ? (key.slice(TENANT_KEY_ROOT.length, end) as TenantId) : undefined
}

/**
 * The exclusive upper bound of a prefix range: the prefix with its last
 * character incremented ("tenant/a/" → "tenant/a0"). Keys are compared as
 * UTF-8 bytes, and every key of the prefix sorts below this bound.
 */
export const prefixEnd = (prefix: string): string => {
  if (prefix.length === 0) return "\u{10FFFF}"
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)
}
