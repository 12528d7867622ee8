import type { StreamInfo } from "@nats-io/jetstream"

/**
 * Whether a stream info answer comes from a stream that can still take
 * changes: an answer alone does not say so. Measured with nats-server 2.9.10
 * (three servers, replicas 3, two SIGKILLed):
 *
 * - the stream's leader left alone keeps answering stream info as the leader,
 *   its replicas still `current` for ~10 s while their `active` (nanoseconds
 *   since the leader last heard from them) grows by a second a second; at
 *   ~17 s it steps down and then answers with no `leader` at all, for as
 *   long as the outage lasts;
 * - a follower left alone answers nothing for ~7 s, then answers with no
 *   `leader` (and replica entries that say nothing useful: a dead server at
 *   `active` 0).
 *
 * So a look counts as answered only when the answer names a leader that heard
 * from a majority of the group (itself included) within QUORUM_SILENT_MS. A
 * stream on a single server (no `cluster`) or with one replica (a leader and
 * no `replicas`) is its own majority, as before.
 */

/**
 * A replica the leader has not heard from for longer than this does not count
 * towards the majority. Raft heartbeats are about a second apart (a healthy,
 * idle three-server cluster read `active` at most 0.91 s over 10 s of
 * looks), so this is five missed heartbeats: room for a loaded machine, and
 * half of the ~10 s after which the server itself stops calling the replicas
 * current. The same bound as a mirror's silence (MIRROR_SILENT_MS).
 */
export const QUORUM_SILENT_MS = 5_000

export const hasQuorum = (info: StreamInfo): boolean => {
  const cluster = info.cluster
  if (cluster === undefined) return true
  if (cluster.leader === undefined || cluster.leader === "") return false
  const replicas = cluster.replicas ?? []
  // `active` is nanoseconds; a server that leaves it out is taken at its word (`current`)
  const heard = replicas.filter((r) => !r.offline && (typeof r.active === "number" ? r.active / 1e6 <= QUORUM_SILENT_MS : r.current)).length
  return 2 * (1 + heard) > 1 + replicas.length
}
