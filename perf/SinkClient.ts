/**
 * The runner's side of the sink's IPC protocol (see Sink.ts): reset the
 * counters before a run, read them after, wait for a queueing peer to deliver.
 */
import type { Server } from "./Child.js"
import type { SinkStats } from "./Sink.js"

/** how often the drain wait asks the sink for its count */
const DRAIN_POLL_MS = 100

/** the sink answers IPC requests one at a time, in order */
const ask = <T>(sink: Server, type: string, reply: string): Promise<T> =>
  new Promise((resolve) => {
    const on = (m: { type: string; stats?: T }) => {
      if (m.type !== reply) return
      sink.child.off("message", on)
      resolve(m.stats as T)
    }
    sink.child.on("message", on)
    sink.child.send({ type })
  })

export const resetSink = (sink: Server): Promise<void> => ask<void>(sink, "reset", "reset-done")

export const sinkStats = (sink: Server): Promise<SinkStats> => ask<SinkStats>(sink, "stats", "stats")

/** Waits until the sink has `count` messages (a queueing relay delivers after its 250), or the timeout. */
export const waitForSink = async (sink: Server, count: number, timeoutMs: number): Promise<SinkStats> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const stats = await sinkStats(sink)
    if (stats.messages >= count || Date.now() >= deadline) return stats
    await new Promise((r) => setTimeout(r, DRAIN_POLL_MS))
  }
}
