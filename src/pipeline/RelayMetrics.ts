import { Effect, Metric, MetricBoundaries } from "effect"

/**
 * The relay's metrics (exported as Prometheus text by the admin API). Each
 * carries a `tenant` tag; the exporter drops it unless the operator enables
 * tenant labels (invariant 10: tenant ids in labels only where wanted).
 */
export const relayed = Metric.counter("imprint_messages_relayed_total", { description: "messages relayed (every copy got 250)" })
export const stamped = Metric.counter("imprint_messages_stamped_total", { description: "messages with at least one stamped copy" })
export const unstamped = Metric.counter("imprint_messages_unstamped_total", { description: "messages relayed without a signature, by reason" })
export const failed = Metric.counter("imprint_messages_failed_total", { description: "transactions not relayed, by SMTP class and reason" })
export const bytes = Metric.counter("imprint_bytes_relayed_total", { description: "message bytes received for relayed messages" })
export const duration = Metric.histogram(
  "imprint_transaction_duration_seconds",
  MetricBoundaries.exponential({ start: 0.001, factor: 2, count: 16 }),
  "DATA phase duration, from the first byte to the reply"
)
export const activeSessions = Metric.gauge("imprint_smtp_sessions_active", { description: "upstream SMTP sessions open" })
export const downstreamSessions = Metric.counter("imprint_downstream_sessions_total", {
  description: "downstream sessions a transaction started on, by source: new (connected), pooled (kept from an earlier upstream session), stale (pooled, found closed at MAIL and replaced)"
})
export const refusedConnections = Metric.counter("imprint_smtp_connections_refused_total", {
  description: "upstream connections refused at connect by the connection limits, by reason: clients (the node's maxClients, with workers), unbound-share, address-connections, address-rate"
})
/** one per source, made once (see withTags below) */
export const downstreamSessionBy = {
  new: Metric.tagged(downstreamSessions, "source", "new"),
  pooled: Metric.tagged(downstreamSessions, "source", "pooled"),
  stale: Metric.tagged(downstreamSessions, "source", "stale")
} as const

/**
 * Tagged metrics, made once per tag set: Metric.tagged builds a new metric key
 * (hashed into the registry on every update), which cost ~0.8 ms of CPU per
 * message when done per call.
 */
const tagged = new Map<string, Metric.Metric<any, any, any>>()
/** bounds the cache against a flood of distinct reasons or tenants (named limit) */
const MAX_TAGGED_METRICS = 10_000

const withTags = <A extends Metric.Metric<any, any, any>>(metric: A, name: string, tags: ReadonlyArray<readonly [string, string]>): A => {
  const key = `${name}\u0000${tags.map(([k, v]) => `${k}=${v}`).join("\u0000")}`
  let m = tagged.get(key)
  if (m === undefined) {
    m = tags.reduce<Metric.Metric<any, any, any>>((acc, [k, v]) => Metric.tagged(acc, k, v), metric)
    if (tagged.size >= MAX_TAGGED_METRICS) tagged.clear()
    tagged.set(key, m)
  }
  return m as A
}

export const recordRelayed = (tenant: string, size: number, seconds: number, stampedCopies: number, reason: string | undefined) =>
  Effect.all(
    [
      Metric.increment(withTags(relayed, "relayed", [["tenant", tenant]])),
      Metric.incrementBy(withTags(bytes, "bytes", [["tenant", tenant]]), size),
      Metric.update(withTags(duration, "duration", [["tenant", tenant]]), seconds),
      stampedCopies > 0
        ? Metric.increment(withTags(stamped, "stamped", [["tenant", tenant]]))
        : Metric.increment(withTags(unstamped, "unstamped", [["tenant", tenant], ["reason", reason ?? "unknown"]]))
    ],
    { discard: true }
  )

export const recordFailed = (tenant: string, code: number, reason: string) =>
  Metric.increment(withTags(failed, "failed", [["tenant", tenant], ["class", `${Math.floor(code / 100)}xx`], ["reason", reason]]))

export const recordRefusedConnection = (reason: string) => Metric.increment(withTags(refusedConnections, "refused", [["reason", reason]]))

export const untracedUnboundRefusals = Metric.counter("imprint_trace_unbound_refusals_skipped_total", {
  description: "MAIL/RCPT refusals of sessions bound to no tenant not recorded in the message trace: over UNBOUND_REFUSALS_TRACED_PER_MINUTE"
})
