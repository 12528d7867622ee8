import { Effect, Metric, MetricBoundaries } from "effect"
import { describe, expect, it } from "vitest"
import { formatPrometheus } from "../../src/admin/metrics/PrometheusText.js"
import { fromPlain, toPlain } from "../../src/workers/MetricsTransfer.js"

const counter = Metric.counter("spec_transfer_total", { description: "a counter" }).pipe(Metric.tagged("tenant", "acme"), Metric.tagged("reason", "x"))
const gauge = Metric.gauge("spec_transfer_gauge")
const histogram = Metric.histogram("spec_transfer_ms", MetricBoundaries.fromIterable([1, 10, 100]))
const frequency = Metric.frequency("spec_transfer_kind")
const summary = Metric.summary({ name: "spec_transfer_summary", maxAge: "1 minute", maxSize: 10, error: 0.01, quantiles: [0.5] })

const ours = (text: string) =>
  text
    .split("\n")
    .filter((l) => l.includes("spec_transfer"))
    .join("\n")

describe("a worker's metrics over the cluster channel", () => {
  it("come back from JSON as the same exposition text, and equal series from two workers add up", async () => {
    const pairs = await Effect.runPromise(
      Effect.gen(function* () {
        yield* Metric.incrementBy(counter, 3)
        yield* Metric.set(gauge, 2)
        yield* Metric.update(histogram, 5)
        yield* Metric.update(histogram, 500)
        yield* Metric.update(frequency, "a")
        yield* Metric.update(summary, 7)
        return yield* Metric.snapshot
      })
    )
    const options = { tenantLabels: true }
    const wire = fromPlain(JSON.parse(JSON.stringify(toPlain(pairs))))
    expect(ours(formatPrometheus(wire, options))).toBe(ours(formatPrometheus(pairs, options)))
    const twice = ours(formatPrometheus([...wire, ...fromPlain(JSON.parse(JSON.stringify(toPlain(pairs))))], options))
    expect(twice).toContain('spec_transfer_total{reason="x",tenant="acme"} 6')
    expect(twice).toContain("spec_transfer_gauge 4")
    expect(twice).toContain('spec_transfer_ms_bucket{le="+Inf"} 4')
    expect(twice).toContain('spec_transfer_kind{key="a"} 2')
  })
})
