import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { Effect, Metric, type MetricPair } from "effect"
import { Api } from "../Api.js"
import { requireOperator } from "../http/Principal.js"
import { formatPrometheus } from "./PrometheusText.js"

/**
 * GET /metrics: every metric in Effect's registry, whoever defined it (the
 * relay's counters and histograms are declared next to the code they count),
 * with `workers: N` added up over the workers' registries (equal series sum).
 */
export const MetricsLive = (options: {
  readonly tenantLabels: boolean
  readonly workerMetrics?: Effect.Effect<ReadonlyArray<MetricPair.MetricPair.Untyped>> | undefined
}) =>
  HttpApiBuilder.group(Api, "metrics", (handlers) =>
    handlers.handle("metrics", () =>
      requireOperator.pipe(
        Effect.zipRight(
          Effect.map(Effect.zip(Metric.snapshot, options.workerMetrics ?? Effect.succeed([])), ([own, workers]) =>
            formatPrometheus([...own, ...workers], options)
          )
        )
      )
    )
  )
