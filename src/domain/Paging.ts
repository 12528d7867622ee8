/**
 * Page sizes of the listings the store pages and the admin API exposes: the store
 * clamps to them, the admin contract refuses a `limit` above them. One number, two rooms.
 */

export const DEFAULT_AUDIT_PAGE = 50
export const MAX_AUDIT_PAGE = 500

export const DEFAULT_DIRECTORY_PAGE = 50
export const MAX_DIRECTORY_PAGE = 500
