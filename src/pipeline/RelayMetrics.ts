import { Effect, Metric, MetricBoundaries, MetricKey, type MetricKeyType, MetricLabel } from "effect"

/**
 * The relay's metrics (exported as Prometheus text by the admin API). Each
 * carries a `tenant` tag; the exporter drops it unless the operator enables
 * tenant labels (invariant 10: tenant ids in labels only where wanted).
 */
const relayedKey = MetricKey.counter("imprint_messages_relayed_total", { description: "messages relayed (every copy got 250)" })
const stampedKey = MetricKey.counter("imprint_messages_stamped_total", { description: "messages with at least one stamped copy" })
const unstampedKey = MetricKey.counter("imprint_messages_unstamped_total", { description: "messages relayed without a signature, by reason" })
const failedKey = MetricKey.counter("imprint_messages_failed_total", { description: "transactions not relayed, by SMTP class and reason" })
const bytesKey = MetricKey.counter("imprint_bytes_relayed_total", { description: "message bytes received for relayed messages" })
const durationKey = MetricKey.histogram(
  "imprint_transaction_duration_seconds",
  MetricBoundaries.exponential({ start: 0.001, factor: 2, count: 16 }),
  "DATA phase duration, from the first byte to the reply"
)
const downstreamSessionsKey = MetricKey.counter("imprint_downstream_sessions_total", {
  description:
    "downstream sessions a transaction started on, by source: new (connected), pooled (kept from an earlier upstream session), stale (pooled, found closed at MAIL and replaced)"
})
const refusedConnectionsKey = MetricKey.counter("imprint_smtp_connections_refused_total", {
  description:
    "upstream connections refused at connect by the connection limits, by reason: clients (the node's maxClients, with workers), unbound-share, address-connections, address-rate"
})
export const relayed = Metric.fromMetricKey(relayedKey)
export const stamped = Metric.fromMetricKey(stampedKey)
export const unstamped = Metric.fromMetricKey(unstampedKey)
export const failed = Metric.fromMetricKey(failedKey)
export const bytes = Metric.fromMetricKey(bytesKey)
export const duration = Metric.fromMetricKey(durationKey)
export const activeSessions = Metric.gauge("imprint_smtp_sessions_active", { description: "upstream SMTP sessions open" })
export const downstreamSessions = Metric.fromMetricKey(downstreamSessionsKey)
export const refusedConnections = Metric.fromMetricKey(refusedConnectionsKey)
/**
 * A tagged counter or histogram whose registry entry is looked up once. `Metric.tagged` unions
 * its tags with the fiber's on every update, which makes a new array, so Effect's per-metric
 * hook cache misses and each update built and hashed a new metric key in the registry. A metric
 * made from the tagged key itself (`Metric.fromMetricKey`) caches its hook at the first update;
 * it is the same registry entry, so the exported values are the same.
 */
type AnyKey = MetricKey.MetricKey<MetricKeyType.MetricKeyType<any, any>>
const keyed = (key: AnyKey, tags: ReadonlyArray<readonly [string, string]>): Metric.Metric<any, any, any> =>
  Metric.fromMetricKey(
    MetricKey.taggedWithLabels(
      key,
      tags.map(([k, v]) => MetricLabel.make(k, v))
    )
  )

/** one per source, made once */
export const downstreamSessionBy = {
  new: keyed(downstreamSessionsKey, [["source", "new"]]),
  pooled: keyed(downstreamSessionsKey, [["source", "pooled"]]),
  stale: keyed(downstreamSessionsKey, [["source", "stale"]])
} as const

/** Tagged metrics, made once per tag set (see `keyed`). */
const tagged = new Map<string, Metric.Metric<any, any, any>>()
/** bounds the cache against a flood of distinct reasons or tenants (named limit) */
const MAX_TAGGED_METRICS = 10_000
/** no fiber labels: Imprint sets none (Metric.update would read them from the fiber) */
const NO_LABELS: ReadonlyArray<MetricLabel.MetricLabel> = []

const withTags = (key: AnyKey, name: string, tags: ReadonlyArray<readonly [string, string]>): Metric.Metric<any, any, any> => {
  const cacheKey = tags.length === 1 ? `${name}\u0000${tags[0][0]}=${tags[0][1]}` : `${name}\u0000${tags.map(([k, v]) => `${k}=${v}`).join("\u0000")}`
  let m = tagged.get(cacheKey)
  if (m === undefined) {
    m = keyed(key, tags)
    if (tagged.size >= MAX_TAGGED_METRICS) tagged.clear()
    tagged.set(cacheKey, m)
  }
  return m
}

/** One tenant's per-message metrics, made once (each the registry's entry for its tags, as `withTags` makes them). */
interface TenantRelayMetrics {
  readonly relayed: Metric.Metric<any, any, any>
  readonly bytes: Metric.Metric<any, any, any>
  readonly duration: Metric.Metric<any, any, any>
  readonly stamped: Metric.Metric<any, any, any>
  /** by reason */
  readonly unstamped: Map<string, Metric.Metric<any, any, any>>
}

/** bounded like `tagged` (MAX_TAGGED_METRICS tenants, MAX_REASONS reasons per tenant) */
const byTenant = new Map<string, TenantRelayMetrics>()
const MAX_REASONS = 256

const relayMetricsOf = (tenant: string): TenantRelayMetrics => {
  let m = byTenant.get(tenant)
  if (m === undefined) {
    const t = [["tenant", tenant]] as const
    m = { relayed: keyed(relayedKey, t), bytes: keyed(bytesKey, t), duration: keyed(durationKey, t), stamped: keyed(stampedKey, t), unstamped: new Map() }
    if (byTenant.size >= MAX_TAGGED_METRICS) byTenant.clear()
    byTenant.set(tenant, m)
  }
  return m
}

const unstampedOf = (m: TenantRelayMetrics, tenant: string, reason: string): Metric.Metric<any, any, any> => {
  let u = m.unstamped.get(reason)
  if (u === undefined) {
    u = keyed(unstampedKey, [
      ["tenant", tenant],
      ["reason", reason]
    ])
    if (m.unstamped.size >= MAX_REASONS) m.unstamped.clear()
    m.unstamped.set(reason, u)
  }
  return u
}

/**
 * One message relayed: four updates, a plain call (DataPhase makes it inside the step that logs the
 * message), on the tenant's metrics found with one lookup (no cache key built per update).
 */
export const countRelayed = (tenant: string, size: number, seconds: number, stampedCopies: number, reason: string | undefined): void => {
  const m = relayMetricsOf(tenant)
  m.relayed.unsafeUpdate(1, NO_LABELS)
  m.bytes.unsafeUpdate(size, NO_LABELS)
  m.duration.unsafeUpdate(seconds, NO_LABELS)
  if (stampedCopies > 0) m.stamped.unsafeUpdate(1, NO_LABELS)
  else unstampedOf(m, tenant, reason ?? "unknown").unsafeUpdate(1, NO_LABELS)
}

export const recordFailed = (tenant: string, code: number, reason: string) =>
  Effect.sync(() =>
    withTags(failedKey, "failed", [
      ["tenant", tenant],
      ["class", `${Math.floor(code / 100)}xx`],
      ["reason", reason]
    ]).unsafeUpdate(1, NO_LABELS)
  )

export const recordRefusedConnection = (reason: string) =>
  Effect.sync(() => withTags(refusedConnectionsKey, "refused", [["reason", reason]]).unsafeUpdate(1, NO_LABELS))

export const untracedUnboundRefusals = Metric.counter("imprint_trace_unbound_refusals_skipped_total", {
  description: "MAIL/RCPT refusals of sessions bound to no tenant not recorded in the message trace: over UNBOUND_REFUSALS_TRACED_PER_MINUTE"
})
