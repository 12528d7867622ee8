import { Data } from "effect"

/**
 * LMDB itself failed (open, read, write, close) or a value could not be
 * encoded for writing. In cluster mode a write may also fail because a key
 * changed since it was read ("conflict": answer 409) or because the
 * replicated source of truth cannot be reached ("unavailable": answer 503).
 */
export class StoreError extends Data.TaggedError("StoreError")<{
  readonly op: "open" | "read" | "write" | "encode" | "close" | "conflict" | "unavailable"
  readonly message: string
  readonly db?: string
  readonly key?: string
  readonly cause?: unknown
}> {}

/**
 * A stored value no longer matches its Schema (an old layout, a bad manual edit).
 * Names the database and key so an operator can find it; never a crash.
 */
export class StoreDecodeError extends Data.TaggedError("StoreDecodeError")<{
  readonly db: string
  readonly key: string
  readonly message: string
}> {}
