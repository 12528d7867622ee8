import { HttpApiBuilder } from "@effect/platform"
import { Effect, Metric } from "effect"
import { Api } from "../Api.js"
import { requireOperator } from "../Principal.js"
import { formatPrometheus } from "../PrometheusText.js"

/**
 * GET /metrics: every metric in Effect's registry, whoever defined it (the
 * relay's counters and histograms are declared next to the code they count).
 */
export const MetricsLive = (options: { readonly tenantLabels: boolean }) =>
  HttpApiBuilder.group(Api, "metrics", (handlers) =>
    handlers.handle("metrics", () =>
      requireOperator.pipe(Effect.zipRight(Effect.map(Metric.snapshot, (pairs) => formatPrometheus(pairs, options))))))
