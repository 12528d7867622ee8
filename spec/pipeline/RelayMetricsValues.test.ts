import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import { bytes, countRelayed, duration, failed, recordFailed, relayed, stamped, unstamped } from "../../src/pipeline/RelayMetrics.js"

/**
 * What countRelayed and recordFailed add to the registry the admin API
 * exports: the same series (name and tags) and values whichever way the
 * per-message update finds them. Tenants here are this spec's own, so the
 * values start from zero.
 */

const value = <T>(m: Metric.Metric<any, any, T>) => Metric.value(m)

describe("the relay's per-message metrics", () => {
  it.effect("countRelayed: relayed, bytes, duration, and stamped or unstamped by reason, per tenant", () =>
    Effect.gen(function* () {
      countRelayed("spec-metrics-a", 10_240, 0.004, 1, undefined)
      countRelayed("spec-metrics-a", 2_048, 0.5, 0, "loop")
      countRelayed("spec-metrics-a", 1_000, 0.01, 0, undefined)
      countRelayed("spec-metrics-b", 7, 0.001, 0, "loop")
      countRelayed("spec-metrics-a", 5, 0.002, 0, "loop")
      const a = (m: Metric.Metric<any, any, any>) => Metric.tagged(m, "tenant", "spec-metrics-a")
      expect((yield* value(a(relayed))).count).toBe(4)
      expect((yield* value(Metric.tagged(relayed, "tenant", "spec-metrics-b"))).count).toBe(1)
      expect((yield* value(a(bytes))).count).toBe(10_240 + 2_048 + 1_000 + 5)
      const d = yield* value(a(duration))
      expect(d.count).toBe(4)
      expect(d.sum).toBeCloseTo(0.516, 10)
      expect(d.min).toBe(0.002)
      expect(d.max).toBe(0.5)
      expect((yield* value(a(stamped))).count).toBe(1)
      expect((yield* value(Metric.tagged(a(unstamped), "reason", "loop"))).count).toBe(2)
      expect((yield* value(Metric.tagged(a(unstamped), "reason", "unknown"))).count).toBe(1)
      expect((yield* value(Metric.tagged(Metric.tagged(unstamped, "tenant", "spec-metrics-b"), "reason", "loop"))).count).toBe(1)
      expect((yield* value(Metric.tagged(stamped, "tenant", "spec-metrics-b"))).count).toBe(0)
    })
  )

  it.effect("recordFailed: by tenant, SMTP class and reason", () =>
    Effect.gen(function* () {
      yield* recordFailed("spec-metrics-c", 451, "DownstreamUnavailable")
      yield* recordFailed("spec-metrics-c", 554, "DownstreamRefused")
      yield* recordFailed("spec-metrics-c", 451, "DownstreamUnavailable")
      const c = (cls: string, reason: string) => Metric.tagged(Metric.tagged(Metric.tagged(failed, "tenant", "spec-metrics-c"), "class", cls), "reason", reason)
      expect((yield* value(c("4xx", "DownstreamUnavailable"))).count).toBe(2)
      expect((yield* value(c("5xx", "DownstreamRefused"))).count).toBe(1)
    })
  )
})
