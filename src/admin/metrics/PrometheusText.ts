import { MetricState, Option } from "effect"
import type { MetricPair } from "effect"

/**
 * Effect's metric registry (Metric.snapshot) in the Prometheus text
 * exposition format 0.0.4. Pure: the /metrics handler takes the snapshot.
 *
 * Tenant isolation in metrics (DESIGN.md invariant 10): the `tenant` tag is
 * dropped unless the operator enables tenant labels, and series that become
 * identical are merged (counters, gauges, histograms and frequencies add up;
 * a merged summary keeps its count and sum but not its quantiles, which
 * cannot be combined).
 */

export const TENANT_TAG = "tenant"

/**
 * Counters that go down: Effect's runtime counts live fibers with a counter it
 * decrements. A Prometheus counter must never decrease (rate() would read each
 * drop as a restart), so these are exposed as gauges.
 */
export const UP_DOWN_COUNTERS: ReadonlySet<string> = new Set(["effect_fiber_active"])

type Kind = "counter" | "gauge" | "histogram" | "summary"

interface Series {
  readonly labels: ReadonlyArray<readonly [string, string]>
  state: MetricState.MetricState.Untyped
  merged: boolean
}

interface Family {
  readonly name: string
  readonly kind: Kind
  readonly help: string | undefined
  readonly series: Map<string, Series>
}

/** Prometheus names: [a-zA-Z_:][a-zA-Z0-9_:]*; anything else becomes '_'. */
export const metricName = (raw: string): string => {
  const s = raw.replace(/[^a-zA-Z0-9_:]/g, "_")
  return /^[a-zA-Z_:]/.test(s) ? s : `_${s}`
}

/** Label names: [a-zA-Z_][a-zA-Z0-9_]* (no ':'), and '__' is reserved. */
export const labelName = (raw: string): string => {
  const s = raw.replace(/[^a-zA-Z0-9_]/g, "_").replace(/^__+/, "_")
  return /^[a-zA-Z_]/.test(s) ? s : `_${s}`
}

const escapeLabelValue = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")
const escapeHelp = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

const formatValue = (n: number | bigint): string => {
  if (typeof n === "bigint") return n.toString()
  if (Number.isNaN(n)) return "NaN"
  if (n === Infinity) return "+Inf"
  if (n === -Infinity) return "-Inf"
  return String(n)
}

const labelText = (labels: ReadonlyArray<readonly [string, string]>): string =>
  labels.length === 0 ? "" : `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",")}}`

const kindOf = (state: MetricState.MetricState.Untyped): Kind | undefined => {
  if (MetricState.isCounterState(state) || MetricState.isFrequencyState(state)) return "counter"
  if (MetricState.isGaugeState(state)) return "gauge"
  if (MetricState.isHistogramState(state)) return "histogram"
  if (MetricState.isSummaryState(state)) return "summary"
  return undefined
}

const add = (a: number | bigint, b: number | bigint): number | bigint => (typeof a === "bigint" && typeof b === "bigint" ? a + b : Number(a) + Number(b))

/** Two series of one family that lost their only difference (the tenant tag). */
const merge = (a: MetricState.MetricState.Untyped, b: MetricState.MetricState.Untyped): MetricState.MetricState.Untyped => {
  if (MetricState.isCounterState(a) && MetricState.isCounterState(b)) return MetricState.counter(add(a.count, b.count) as number)
  if (MetricState.isGaugeState(a) && MetricState.isGaugeState(b)) return MetricState.gauge(add(a.value, b.value) as number)
  if (MetricState.isFrequencyState(a) && MetricState.isFrequencyState(b)) {
    const occurrences = new Map(a.occurrences)
    for (const [k, n] of b.occurrences) occurrences.set(k, (occurrences.get(k) ?? 0) + n)
    return MetricState.frequency(occurrences)
  }
  if (MetricState.isHistogramState(a) && MetricState.isHistogramState(b)) {
    const counts = new Map<number, number>(a.buckets.map(([le, n]) => [le, n]))
    for (const [le, n] of b.buckets) counts.set(le, (counts.get(le) ?? 0) + n)
    return MetricState.histogram({
      buckets: Array.from(counts).sort(([x], [y]) => x - y),
      count: a.count + b.count,
      min: Math.min(a.min, b.min),
      max: Math.max(a.max, b.max),
      sum: a.sum + b.sum
    })
  }
  if (MetricState.isSummaryState(a) && MetricState.isSummaryState(b)) {
    return MetricState.summary({
      error: a.error,
      quantiles: [],
      count: a.count + b.count,
      min: Math.min(a.min, b.min),
      max: Math.max(a.max, b.max),
      sum: a.sum + b.sum
    })
  }
  return a
}

const seriesLines = (name: string, s: Series): Array<string> => {
  const st = s.state
  const l = s.labels
  if (MetricState.isCounterState(st)) return [`${name}${labelText(l)} ${formatValue(st.count)}`]
  if (MetricState.isGaugeState(st)) return [`${name}${labelText(l)} ${formatValue(st.value)}`]
  if (MetricState.isFrequencyState(st)) {
    return Array.from(st.occurrences, ([key, n]) => `${name}${labelText([...l, ["key", key]])} ${formatValue(n)}`)
  }
  if (MetricState.isHistogramState(st)) {
    // Effect's buckets are already cumulative and normally end at +Inf; add +Inf when they do not
    const buckets = st.buckets.some(([le]) => le === Infinity) ? st.buckets : [...st.buckets, [Infinity, st.count] as const]
    return [
      ...buckets.map(([le, n]) => `${name}_bucket${labelText([...l, ["le", formatValue(le)]])} ${formatValue(n)}`),
      `${name}_sum${labelText(l)} ${formatValue(st.sum)}`,
      `${name}_count${labelText(l)} ${formatValue(st.count)}`
    ]
  }
  if (MetricState.isSummaryState(st)) {
    const quantiles = s.merged
      ? []
      : st.quantiles.flatMap(([q, v]) => (Option.isSome(v) ? [`${name}${labelText([...l, ["quantile", formatValue(q)]])} ${formatValue(v.value)}`] : []))
    return [...quantiles, `${name}_sum${labelText(l)} ${formatValue(st.sum)}`, `${name}_count${labelText(l)} ${formatValue(st.count)}`]
  }
  return []
}

/** The exposition text for a metric snapshot; families sorted by name, one HELP/TYPE each. */
export const formatPrometheus = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>, options: { readonly tenantLabels: boolean }): string => {
  const families = new Map<string, Family>()
  for (const pair of pairs) {
    const state = pair.metricState as MetricState.MetricState.Untyped
    const name = metricName(pair.metricKey.name)
    const declared = kindOf(state)
    if (declared === undefined) continue
    const kind = declared === "counter" && UP_DOWN_COUNTERS.has(name) ? "gauge" : declared
    let family = families.get(name)
    if (family === undefined) {
      family = { name, kind, help: Option.getOrUndefined(pair.metricKey.description), series: new Map() }
      families.set(name, family)
    } else if (family.kind !== kind) {
      continue // one name, two kinds: a programming error elsewhere; exposing both would make the whole page unparseable
    }
    const byName = new Map<string, string>()
    for (const tag of pair.metricKey.tags) {
      if (!options.tenantLabels && tag.key === TENANT_TAG) continue
      byName.set(labelName(tag.key), tag.value)
    }
    const labels = Array.from(byName).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    const id = JSON.stringify(labels)
    const existing = family.series.get(id)
    if (existing === undefined) family.series.set(id, { labels, state, merged: false })
    else {
      existing.state = merge(existing.state, state)
      existing.merged = true
    }
  }
  const lines: Array<string> = []
  for (const family of Array.from(families.values()).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (family.help !== undefined) lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`)
    lines.push(`# TYPE ${family.name} ${family.kind}`)
    for (const series of family.series.values()) lines.push(...seriesLines(family.name, series))
  }
  return lines.length === 0 ? "" : lines.join("\n") + "\n"
}
