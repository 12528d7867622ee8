import { MetricKey, MetricLabel, MetricPair, MetricState, Option } from "effect"

/**
 * A worker's metric snapshot as plain JSON for the cluster channel, and back.
 * The primary adds its workers' pairs to its own before formatting /metrics;
 * the formatter sums series that are equal (a counter per worker becomes the
 * node's counter), so the page keeps its names and labels with `workers`.
 * Only what the formatter reads crosses: name, description, tags, state.
 */

type Num = number | null // JSON has no Infinity or NaN: null stands for +Inf in bucket bounds

export type PlainState =
  | { readonly kind: "counter"; readonly count: number }
  | { readonly kind: "gauge"; readonly value: number }
  | { readonly kind: "frequency"; readonly occurrences: ReadonlyArray<readonly [string, number]> }
  | {
      readonly kind: "histogram"
      readonly buckets: ReadonlyArray<readonly [Num, number]>
      readonly count: number
      readonly min: number
      readonly max: number
      readonly sum: number
    }
  | {
      readonly kind: "summary"
      readonly error: number
      readonly quantiles: ReadonlyArray<readonly [number, Num]>
      readonly count: number
      readonly min: number
      readonly max: number
      readonly sum: number
    }

export interface PlainPair {
  readonly name: string
  readonly description: string | undefined
  readonly tags: ReadonlyArray<readonly [string, string]>
  readonly state: PlainState
}

const toNum = (n: number): Num => (Number.isFinite(n) ? n : null)

const plainState = (s: MetricState.MetricState.Untyped): PlainState | undefined => {
  if (MetricState.isCounterState(s)) return { kind: "counter", count: Number(s.count) }
  if (MetricState.isGaugeState(s)) return { kind: "gauge", value: Number(s.value) }
  if (MetricState.isFrequencyState(s)) return { kind: "frequency", occurrences: Array.from(s.occurrences) }
  if (MetricState.isHistogramState(s)) {
    return { kind: "histogram", buckets: s.buckets.map(([le, n]) => [toNum(le), n] as const), count: s.count, min: s.min, max: s.max, sum: s.sum }
  }
  if (MetricState.isSummaryState(s)) {
    return {
      kind: "summary",
      error: s.error,
      count: s.count,
      min: s.min,
      max: s.max,
      sum: s.sum,
      quantiles: s.quantiles.map(([q, v]) => [q, Option.isSome(v) ? toNum(v.value) : null] as const)
    }
  }
  return undefined
}

export const toPlain = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): Array<PlainPair> =>
  pairs.flatMap((pair) => {
    const state = plainState(pair.metricState as MetricState.MetricState.Untyped)
    if (state === undefined) return []
    const tags = pair.metricKey.tags.map((t) => [t.key, t.value] as const)
    return [{ name: pair.metricKey.name, description: Option.getOrUndefined(pair.metricKey.description), tags, state }]
  })

const fromState = (s: PlainState): MetricState.MetricState.Untyped => {
  switch (s.kind) {
    case "counter":
      return MetricState.counter(s.count)
    case "gauge":
      return MetricState.gauge(s.value)
    case "frequency":
      return MetricState.frequency(new Map(s.occurrences))
    case "histogram":
      return MetricState.histogram({ buckets: s.buckets.map(([le, n]) => [le ?? Infinity, n] as const), count: s.count, min: s.min, max: s.max, sum: s.sum })
    case "summary":
      return MetricState.summary({
        error: s.error,
        count: s.count,
        min: s.min,
        max: s.max,
        sum: s.sum,
        quantiles: s.quantiles.map(([q, v]) => [q, v === null ? Option.none() : Option.some(v)] as const)
      })
  }
}

/** The pairs again; the key's type is a counter's whatever the state (the formatter reads the kind from the state). */
export const fromPlain = (pairs: ReadonlyArray<PlainPair>): Array<MetricPair.MetricPair.Untyped> =>
  pairs.map((p) => {
    const key = MetricKey.taggedWithLabels(
      MetricKey.counter(p.name, p.description === undefined ? undefined : { description: p.description }),
      p.tags.map(([k, v]) => MetricLabel.make(k, v))
    )
    return MetricPair.unsafeMake(key as MetricKey.MetricKey.Untyped, fromState(p.state))
  })
