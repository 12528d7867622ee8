import { Context, type Effect } from "effect"
import type { DbName } from "./Keys.js"
import type { StoreError } from "./StoreError.js"

/**
 * The replicated source of truth behind the store, when the node runs in a
 * cluster (src/cluster/): absent, the store is LMDB alone, as on a single
 * node. Present, every write to a replicated database goes there first, with
 * compare-and-set on the key's revision, and reaches LMDB with the revision
 * the source of truth gave it; reads never leave LMDB.
 */

/** One key's write: `value` undefined deletes it; `expected` is the key's revision as this node holds it (0: none). */
export interface ReplicatedWrite {
  readonly db: DbName
  readonly key: string
  readonly value: unknown
  readonly expected: number
  /** this node holds the key as deleted: a source that purged the key's history may know no revision for it */
  readonly deleted: boolean
}

export interface StoreReplicationShape {
  /** whether writes to this database are replicated (node-local ones: the store's bookkeeping, fail-safe memory) */
  readonly replicates: (db: DbName) => boolean
  /**
   * Writes every key, answering the revision each got, in order. Fails with
   * StoreError "conflict" when a key changed since this node last saw it, or
   * "unavailable" when the source of truth cannot take writes now.
   */
  readonly write: (writes: ReadonlyArray<ReplicatedWrite>) => Effect.Effect<ReadonlyArray<number>, StoreError>
}

export class StoreReplication extends Context.Tag("imprint/StoreReplication")<StoreReplication, StoreReplicationShape>() {}
