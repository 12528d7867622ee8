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

const withTenant = <A extends Metric.Metric<any, any, any>>(metric: A, tenant: string) => Metric.tagged(metric, "tenant", tenant) as A

export const recordRelayed = (tenant: string, size: number, seconds: number, stampedCopies: number, reason: string | undefined) =>
  Effect.all(
    [
      Metric.increment(withTenant(relayed, tenant)),
      Metric.incrementBy(withTenant(bytes, tenant), size),
      Metric.update(withTenant(duration, tenant), seconds),
      stampedCopies > 0
        ? Metric.increment(withTenant(stamped, tenant))
        : Metric.increment(Metric.tagged(withTenant(unstamped, tenant), "reason", reason ?? "unknown"))
    ],
    { discard: true }
  )

export const recordFailed = (tenant: string, code: number, reason: string) =>
  Metric.increment(Metric.tagged(Metric.tagged(withTenant(failed, tenant), "class", `${Math.floor(code / 100)}xx`), "reason", reason))
