/**
 * `npm run build && node dist/perf/TraceBench.js [--entries N] [--rate PER_SECOND] [--rounds N]`
 *
 * The message trace's own CPU per message, in-process and independent of the
 * relay: entries built as DataPhase builds them arrive at `rate` per second
 * (bursts every 10 ms) and go to the real writer over a real LMDB in a temp
 * folder; rounds alternate trace off (entries built and discarded) and on
 * (offered, gathered, committed), after a warm-up round. Reports the median of
 * the per-round differences in process CPU (user + system, all threads) per
 * entry. A benchmark, not a test: nothing is asserted. The relay A/B is
 * `perf:cpu -- --targets imprint-stamp-untraced,imprint-stamp`.
 */
import { Duration, Effect, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import type { SmtpReply } from "../src/pipeline/RelayError.js"
import { traceEntry, type TraceFacts } from "../src/pipeline/TraceEntry.js"
import { TracePath, TraceStore } from "../src/trace/TraceStore.js"
import { TraceOptions, TraceSettingsSource, TraceWriter } from "../src/trace/TraceWriter.js"
import type { SignatureElement } from "../src/domain/Signature.js"

const option = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? fallback : Number(process.argv[i + 1])
}
const ENTRIES = option("entries", 3000)
const RATE = option("rate", 1000)
const ROUNDS = option("rounds", 5)

/** a stamped 10 KB message with one copy, as the perf tenant sends them */
const facts = (i: number): TraceFacts => ({
  tenant: "perf",
  connector: "address",
  client: "127.0.0.1",
  sender: "alice@perf.example",
  recipients: ["bob@example.org"],
  started: Date.now() - 4,
  messageId: `<m${i}@perf.example>`,
  size: 10_240,
  decision: {
    copies: [
      {
        recipients: ["bob@example.org"],
        ruleIds: ["everyone"],
        plan: { elements: [{ templateId: "perf-sig", templateVersion: 1 } as SignatureElement], skipIfPresent: [] }
      }
    ]
  },
  outcomes: [{ stamped: ["html", "text"], parts: [] }],
  copyReplies: [{ reply: { code: 250, text: "OK: queued as 123" }, afterMs: 3 }]
})
const reply: SmtpReply = { code: 250, enhanced: "2.6.0", text: "relayed (downstream: 250 OK: queued as 123)" }

/** CPU µs per entry for one round: entries arrive at RATE, then `flush` waits for them to be written. */
const round = (record: (e: ReturnType<typeof traceEntry>) => Effect.Effect<void>, flush: Effect.Effect<void>) =>
  new Promise<number>((resolve) => {
    let i = 0
    const perTick = Math.max(1, Math.round(RATE / 100))
    const start = process.cpuUsage()
    const tick = () => {
      for (let k = 0; k < perTick && i < ENTRIES; k++, i++) Effect.runSync(record(traceEntry(facts(i), reply, undefined, Date.now())))
      if (i < ENTRIES) setTimeout(tick, 10)
      else
        void Effect.runPromise(flush).then(() => {
          const c = process.cpuUsage(start)
          resolve((c.user + c.system) / ENTRIES)
        })
    }
    tick()
  })

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const main = async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "imprint-trace-bench-"))
  const layer = TraceWriter.Default.pipe(
    Layer.provideMerge(TraceStore.Default.pipe(Layer.provide(Layer.succeed(TracePath, dir)))),
    Layer.provide(
      Layer.succeed(TraceOptions, {
        node: "bench",
        queueCapacity: 10_000,
        batchSize: 1000,
        flushInterval: Duration.millis(250),
        maxRecords: 10_000_000,
        maxBytes: 4 * 1024 ** 3,
        retentionDays: 30,
        expiryInterval: Duration.hours(1),
        hashKey: Buffer.alloc(32),
        tenantLabels: false
      })
    ),
    Layer.provide(Layer.succeed(TraceSettingsSource, () => Effect.succeed(undefined)))
  )
  try {
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const writer = yield* TraceWriter
          yield* Effect.promise(() => round(writer.record, writer.flush)) // warm-up
          const off: Array<number> = []
          const on: Array<number> = []
          for (let r = 0; r < ROUNDS; r++) {
            off.push(yield* Effect.promise(() => round(() => Effect.void, Effect.void)))
            on.push(yield* Effect.promise(() => round(writer.record, writer.flush)))
          }
          const cost = median(on.map((x, i) => x - off[i]))
          console.log(
            `${ENTRIES} entries × ${ROUNDS} rounds at ${RATE}/s: CPU µs per entry, trace off ${off.map((x) => x.toFixed(0)).join(" ")}, on ${on.map((x) => x.toFixed(0)).join(" ")}`
          )
          console.log(`the trace's cost: ${cost.toFixed(1)} µs of CPU per message (median of the per-round differences)`)
        })
      ).pipe(Effect.provide(layer))
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((e) => {
  console.error(e)
  process.exitCode = 1
})
