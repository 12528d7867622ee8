/**
 * Page sizes of the listings the store (or the trace) pages and the admin API exposes: the store
 * clamps to them, the admin contract refuses a `limit` above them. One number, two rooms.
 */

export const DEFAULT_AUDIT_PAGE = 50
export const MAX_AUDIT_PAGE = 500

export const DEFAULT_DIRECTORY_PAGE = 50
export const MAX_DIRECTORY_PAGE = 500

/** the message trace: one node's search and the merged search of every node clamp to it, the admin contract refuses above it */
export const DEFAULT_TRACE_PAGE = 50
export const MAX_TRACE_PAGE = 500
