import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Metric, MetricBoundaries, MetricKey, MetricPair, MetricState } from "effect"
import { PROMETHEUS_CONTENT_TYPE, UNAUTHORIZED_MESSAGE } from "../../src/admin/Api.js"
import { formatPrometheus } from "../../src/admin/metrics/PrometheusText.js"
import { AdminEnv, adminTestLayer, apiClient, operatorClient, operatorHeaders, rawRequest } from "./AdminHarness.js"
import { parseExposition } from "./PrometheusParse.js"

/** Metric names are global to the process: each test uses its own prefix. */
const uniq = () => `spec_${Math.random().toString(36).slice(2, 10)}`

const snapshotOf = (prefix: string) => Effect.map(Metric.snapshot, (pairs) => pairs.filter((p) => p.metricKey.name.startsWith(prefix)))

describe("PrometheusText", () => {
  it.effect("counters, gauges, histograms, frequencies and summaries, each a parseable family", () =>
    Effect.gen(function* () {
      const p = uniq()
      const relayed = Metric.counter(`${p}_relayed`, { description: "messages relayed\nper tenant" })
      yield* Metric.incrementBy(relayed, 3)
      yield* Metric.set(Metric.gauge(`${p}_sessions`), 7)
      const latency = Metric.histogram(`${p}_latency_ms`, MetricBoundaries.fromIterable([1, 5, 10]))
      for (const v of [0.5, 3, 3, 20]) yield* Metric.update(latency, v)
      const reasons = Metric.frequency(`${p}_unstamped`)
      for (const r of ["smime", "smime", "calendar"]) yield* Metric.update(reasons, r)
      const summary = Metric.summary({ name: `${p}_size`, maxAge: "1 minute", maxSize: 100, error: 0.01, quantiles: [0.5, 0.9] })
      for (const v of [1, 2, 3, 4]) yield* Metric.update(summary, v)

      const text = formatPrometheus(yield* snapshotOf(p), { tenantLabels: false })
      const parsed = parseExposition(text)
      expect(parsed.types).toEqual({
        [`${p}_relayed`]: "counter",
        [`${p}_sessions`]: "gauge",
        [`${p}_latency_ms`]: "histogram",
        [`${p}_unstamped`]: "counter",
        [`${p}_size`]: "summary"
      })
      expect(parsed.help[`${p}_relayed`]).toBe("messages relayed\\nper tenant")
      const value = (name: string, labels: Record<string, string> = {}) =>
        parsed.samples.filter((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels)).map((s) => s.value)
      expect(value(`${p}_relayed`)).toEqual([3])
      expect(value(`${p}_sessions`)).toEqual([7])
      // cumulative buckets ending at +Inf = count
      expect(parsed.samples.filter((s) => s.name === `${p}_latency_ms_bucket`).map((s) => [s.labels.le, s.value])).toEqual([
        ["1", 1],
        ["5", 3],
        ["10", 3],
        ["+Inf", 4]
      ])
      expect(value(`${p}_latency_ms_count`)).toEqual([4])
      expect(value(`${p}_latency_ms_sum`)).toEqual([26.5])
      expect(value(`${p}_unstamped`, { key: "smime" })).toEqual([2])
      expect(value(`${p}_unstamped`, { key: "calendar" })).toEqual([1])
      expect(value(`${p}_size_count`)).toEqual([4])
      expect(value(`${p}_size_sum`)).toEqual([10])
      expect(parsed.samples.filter((s) => s.name === `${p}_size` && s.labels.quantile !== undefined).length).toBe(2)
    })
  )

  it.effect("drops the tenant tag and merges the series it separated, unless tenant labels are enabled", () =>
    Effect.gen(function* () {
      const p = uniq()
      const relayed = Metric.counter(`${p}_relayed`)
      const latency = Metric.histogram(`${p}_latency`, MetricBoundaries.fromIterable([10]))
      for (const [tenant, n] of [
        ["acme", 2],
        ["globex", 5]
      ] as const) {
        yield* Metric.incrementBy(Metric.tagged(Metric.tagged(relayed, "tenant", tenant), "result", "ok"), n)
        yield* Metric.update(Metric.tagged(latency, "tenant", tenant), n)
      }
      const pairs = yield* snapshotOf(p)

      const hidden = parseExposition(formatPrometheus(pairs, { tenantLabels: false }))
      expect(hidden.samples.every((s) => !("tenant" in s.labels))).toBe(true)
      expect(hidden.samples.filter((s) => s.name === `${p}_relayed`)).toEqual([{ name: `${p}_relayed`, labels: { result: "ok" }, value: 7 }])
      expect(hidden.samples.filter((s) => s.name === `${p}_latency_bucket`).map((s) => s.value)).toEqual([2, 2])
      expect(hidden.samples.find((s) => s.name === `${p}_latency_sum`)?.value).toBe(7)

      const shown = parseExposition(formatPrometheus(pairs, { tenantLabels: true }))
      expect(
        shown.samples
          .filter((s) => s.name === `${p}_relayed`)
          .map((s) => [s.labels.tenant, s.value])
          .sort()
      ).toEqual([
        ["acme", 2],
        ["globex", 5]
      ])
    })
  )

  it.effect("escapes label values and rewrites names Prometheus would reject", () =>
    Effect.gen(function* () {
      const p = uniq()
      yield* Metric.increment(Metric.tagged(Metric.counter(`${p}.weird-name`), "reason", 'quote " back\\slash\nnewline'))
      const parsed = parseExposition(formatPrometheus(yield* snapshotOf(p), { tenantLabels: false }))
      expect(parsed.samples).toEqual([{ name: `${p}_weird_name`, labels: { reason: 'quote " back\\slash\nnewline' }, value: 1 }])
    })
  )

  it("an empty registry is an empty page", () => {
    expect(formatPrometheus([], { tenantLabels: false })).toBe("")
  })
})

layer(adminTestLayer())("admin API: /metrics", (it) => {
  it.effect("serves the registry as text/plain exposition that parses line by line, tenant tags dropped", () =>
    Effect.gen(function* () {
      const p = uniq()
      yield* Metric.incrementBy(Metric.tagged(Metric.counter(`${p}_relayed_total`), "tenant", "acme"), 4)
      const raw = yield* rawRequest("GET", "/metrics", { headers: yield* operatorHeaders })
      expect(raw.status).toBe(200)
      expect(raw.headers["content-type"]).toBe(PROMETHEUS_CONTENT_TYPE)
      const parsed = parseExposition(raw.text)
      expect(parsed.types[`${p}_relayed_total`]).toBe("counter")
      expect(parsed.samples.filter((s) => s.name === `${p}_relayed_total`)).toEqual([{ name: `${p}_relayed_total`, labels: {}, value: 4 }])
      expect(raw.text).not.toContain('tenant="acme"')
      // the typed client reads the same text
      const client = yield* operatorClient
      expect(yield* client.metrics.metrics()).toContain(`${p}_relayed_total 4`)
    })
  )

  it.effect("401 without a token and with a revoked one", () =>
    Effect.gen(function* () {
      const env = yield* AdminEnv
      expect((yield* rawRequest("GET", "/metrics")).status).toBe(401)
      const revoked = yield* apiClient(env.revokedToken)
      const error = yield* Effect.flip(revoked.metrics.metrics())
      expect(error).toMatchObject({ _tag: "Unauthorized", message: UNAUTHORIZED_MESSAGE })
    })
  )
})

layer(adminTestLayer({ metricsTenantLabels: true }))("admin API: /metrics with tenant labels enabled", (it) => {
  it.effect("keeps the tenant label", () =>
    Effect.gen(function* () {
      const p = uniq()
      yield* Metric.incrementBy(Metric.tagged(Metric.counter(`${p}_relayed_total`), "tenant", "acme"), 2)
      const raw = yield* rawRequest("GET", "/metrics", { headers: yield* operatorHeaders })
      const parsed = parseExposition(raw.text)
      expect(parsed.samples.filter((s) => s.name === `${p}_relayed_total`)).toEqual([{ name: `${p}_relayed_total`, labels: { tenant: "acme" }, value: 2 }])
    })
  )
})

describe("PrometheusText: Effect's runtime metrics", () => {
  it("exposes the live-fiber counter, which goes down, as a gauge; other counters stay counters", () => {
    const pairs = [
      MetricPair.unsafeMake(MetricKey.counter("effect_fiber_active"), MetricState.counter(3)),
      MetricPair.unsafeMake(MetricKey.counter("imprint_spec_other_total"), MetricState.counter(5))
    ]
    const parsed = parseExposition(formatPrometheus(pairs, { tenantLabels: false }))
    expect(parsed.types).toEqual({ effect_fiber_active: "gauge", imprint_spec_other_total: "counter" })
    expect(parsed.samples.map((s) => [s.name, s.value])).toEqual([
      ["effect_fiber_active", 3],
      ["imprint_spec_other_total", 5]
    ])
  })
})
