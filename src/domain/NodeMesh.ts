import { Context, Data, type Effect, type Scope } from "effect"

/**
 * The nodes of a cluster, as rooms other than src/cluster see them: who they
 * are, and a request/reply to one of them (NATS in src/cluster/NodeMeshNats.ts).
 * Absent on a single node. Used by the message trace's merging search.
 */

export class NodeUnreachable extends Data.TaggedError("NodeUnreachable")<{ readonly node: string; readonly message: string }> {}

export interface NodeMeshShape {
  /** this node's name (`cluster.node`) */
  readonly self: string
  /** every node that announced itself and has not been gone for long, this one included, sorted */
  readonly nodes: () => Effect.Effect<ReadonlyArray<string>, NodeUnreachable>
  /** one request to `node` on `topic`, its reply within `timeoutMs` */
  readonly ask: (node: string, topic: string, request: Uint8Array, timeoutMs: number) => Effect.Effect<Uint8Array, NodeUnreachable>
  /** answers requests to this node on `topic` for as long as the scope lives */
  readonly answer: (topic: string, handler: (request: Uint8Array) => Effect.Effect<Uint8Array>) => Effect.Effect<void, never, Scope.Scope>
}

export class NodeMesh extends Context.Tag("imprint/NodeMesh")<NodeMesh, NodeMeshShape>() {}
