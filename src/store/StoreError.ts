import { Data } from "effect"

/** LMDB itself failed (open, read, write, close) or a value could not be encoded for writing. */
export class StoreError extends Data.TaggedError("StoreError")<{
  readonly op: "open" | "read" | "write" | "encode" | "close"
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
