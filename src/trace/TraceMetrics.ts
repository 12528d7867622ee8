import { Effect, Metric } from "effect"
import type { TraceRecord } from "../domain/Trace.js"

/**
 * Counts from the trace itself (issue 19 item 4): every record the writer
 * stores is counted here, so /metrics and a trace search agree. `tenant` tags
 * are dropped by the exporter unless `admin.metricsTenantLabels` is on; the
 * per-rule counter is only kept when it is (rule ids are the tenant's own
 * names, meaningless and revealing once tenants are summed).
 */

export const transactions = Metric.counter("imprint_trace_transactions_total", {
  description: "transactions recorded in the message trace, by outcome (relayed, deferred, rejected) and decision (stamped, or the reason it was not)"
})
export const ruleCopies = Metric.counter("imprint_trace_rule_copies_total", {
  description: "downstream copies recorded in the message trace per applied rule and outcome (only with tenant labels)"
})
export const dropped = Metric.counter("imprint_trace_dropped_total", {
  description: "trace records lost: queue-full (the trace fell behind; mail never waits for it) or write-failed"
})
export const evicted = Metric.counter("imprint_trace_evicted_total", {
  description: "trace records deleted: retention (older than the tenant's retention) or bound (trace.maxRecords / trace.maxBytes reached, oldest first)"
})
export const storedRecords = Metric.gauge("imprint_trace_stored_records", { description: "records in the message trace store" })
export const storedBytes = Metric.gauge("imprint_trace_stored_bytes", { description: "bytes of LMDB pages the message trace uses" })

/** Tagged metrics made once per tag set (Metric.tagged builds a new key each call; see RelayMetrics). */
const tagged = new Map<string, Metric.Metric.Counter<number>>()
const MAX_TAGGED_METRICS = 10_000

const counter = (base: Metric.Metric.Counter<number>, name: string, tags: ReadonlyArray<readonly [string, string]>) => {
  const key = `${name}\u0000${tags.map(([k, v]) => `${k}=${v}`).join("\u0000")}`
  let m = tagged.get(key)
  if (m === undefined) {
    m = tags.reduce((acc, [k, v]) => Metric.tagged(acc, k, v), base)
    if (tagged.size >= MAX_TAGGED_METRICS) tagged.clear()
    tagged.set(key, m)
  }
  return m
}

export const countDropped = (reason: "queue-full" | "write-failed", n: number) => Metric.incrementBy(counter(dropped, "dropped", [["reason", reason]]), n)

export const countEvicted = (reason: "retention" | "bound", n: number) => Metric.incrementBy(counter(evicted, "evicted", [["reason", reason]]), n)

/** The counts of one written batch: summed per tag set first, one metric update per set. */
export const countRecords = (batch: ReadonlyArray<TraceRecord>, tenantLabels: boolean) =>
  Effect.suspend(() => {
    const sums = new Map<string, { readonly metric: Metric.Metric.Counter<number>; n: number }>()
    const add = (base: Metric.Metric.Counter<number>, name: string, tags: ReadonlyArray<readonly [string, string]>) => {
      const key = `${name}\u0000${tags.map(([, v]) => v).join("\u0000")}`
      const sum = sums.get(key)
      if (sum === undefined) sums.set(key, { metric: counter(base, name, tags), n: 1 })
      else sum.n++
    }
    for (const r of batch) {
      add(transactions, "transactions", [
        ["tenant", r.tenant],
        ["outcome", r.outcome],
        ["decision", r.decision === "unstamped" ? (r.reason ?? "unstamped") : r.decision]
      ])
      if (!tenantLabels) continue
      for (const c of r.copies)
        for (const rule of c.rules)
          add(ruleCopies, "rules", [
            ["tenant", r.tenant],
            ["rule", rule],
            ["outcome", r.outcome]
          ])
    }
    return Effect.forEach(sums.values(), ({ metric, n }) => Metric.incrementBy(metric, n), { discard: true })
  })
