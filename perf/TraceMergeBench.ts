/**
 * `npm run perf:trace-merge [-- --records N --rounds R] [--record]`
 *
 * Issue 19 item 5, measured: two nodes (each its own data folder, in this
 * process) on one Debian nats-server (loopback), N trace records of one
 * tenant written into each node's trace store, then R rounds of a first page
 * (50 records) searched on node A: its own records only (what a single node
 * does) and merged across both nodes (a NATS request to B and the merge),
 * taking turns round by round; then the parts of a merged search alone (the
 * node list, one request to B with its reply). Medians and their ratio; results to
 * perf/results/local/ (or perf/results/ with --record). Nothing asserted.
 */
import { Effect, Exit, Layer, Logger, LogLevel, Scope } from "effect"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { decodeConfig } from "../src/config.js"
import { NodeMesh } from "../src/domain/NodeMesh.js"
import { TraceRecord } from "../src/domain/Trace.js"
import { TRACE_TOPIC } from "../src/trace/TraceFanout.js"
import { liveLayer } from "../src/Server.js"
import { SCAN_BUDGET, TraceSearch } from "../src/trace/TraceSearch.js"
import { makeId, TraceStore } from "../src/trace/TraceStore.js"
import { natsUnavailable, startNats } from "../spec/peers/NatsPeer.js"
import { resultsDir } from "./ResultsDir.js"

const flag = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}
const RECORDS = flag("records", 20_000)
const ROUNDS = flag("rounds", 200)
const PAGE = 50
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")
const quiet = Logger.withMinimumLogLevel(LogLevel.Error)

const startNode = async (servers: ReadonlyArray<string>, name: string) => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `imprint-tracemerge-${name}-`))
  const config = await Effect.runPromise(
    decodeConfig({ dataDir, smtp: { port: 0 }, admin: { enabled: false }, cluster: { servers, node: name }, trace: { node: name } })
  )
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(Layer.buildWithScope(liveLayer(config), scope).pipe(quiet))
  const run = <A, E>(effect: Effect.Effect<A, E, any>) => Effect.runPromise(effect.pipe(Effect.provide(context), quiet) as Effect.Effect<A, E>)
  return {
    run,
    close: async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      rmSync(dataDir, { recursive: true, force: true })
    }
  }
}

const record = (node: string, at: number, i: number) =>
  new TraceRecord({
    id: makeId(at, i),
    node,
    at,
    tenant: "acme",
    connector: "address",
    client: "192.0.2.7",
    sender: "alice@acme.example",
    recipients: ["bob@example.org"],
    messageId: `<m${i}@${node}.example>`,
    size: 10_240,
    decision: "stamped",
    outcome: "relayed",
    reply: { code: 250, enhanced: "2.6.0", text: "relayed" },
    copies: [
      { recipients: ["bob@example.org"], rules: ["all"], templates: ["sig@3"], stamped: ["html", "text"], reply: { code: 250, text: "ok" }, durationMs: 3 }
    ],
    durationMs: 9
  })

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const main = async () => {
  const missing = natsUnavailable()
  if (missing !== undefined) throw new Error(missing)
  const nats = await startNats()
  const a = await startNode([nats.url], "a")
  const b = await startNode([nats.url], "b")
  try {
    const now = Date.now()
    for (const [node, name] of [
      [a, "a"],
      [b, "b"]
    ] as const) {
      for (let start = 0; start < RECORDS; start += 5_000) {
        const batch = Array.from({ length: Math.min(5_000, RECORDS - start) }, (_, k) => record(name, now - (start + k) * 7, start + k))
        await node.run(Effect.flatMap(TraceStore, (s) => s.write(batch)))
      }
    }
    // until B has announced itself and answers
    for (let tries = 0; ; tries++) {
      const page = await a.run(Effect.flatMap(TraceSearch, (t) => t.search({ tenant: "acme", limit: PAGE })))
      if (page.nodes?.length === 2 && page.partial === false) break
      if (tries > 200) throw new Error("node b never answered")
      await new Promise((r) => setTimeout(r, 50))
    }
    const local: Array<number> = []
    const merged: Array<number> = []
    for (let round = 0; round < ROUNDS; round++) {
      for (const which of round % 2 === 0 ? ["local", "merged"] : ["merged", "local"]) {
        const t0 = performance.now()
        if (which === "local") await a.run(Effect.flatMap(TraceSearch, (t) => t.local({ tenant: "acme" }, PAGE, SCAN_BUDGET)))
        else await a.run(Effect.flatMap(TraceSearch, (t) => t.search({ tenant: "acme", limit: PAGE })))
        ;(which === "local" ? local : merged).push(performance.now() - t0)
      }
    }
    // where the merged search's time goes: the node list, and one request to B (B's page, the wire, no decode)
    const listMs: Array<number> = []
    const askMs: Array<number> = []
    const request = new TextEncoder().encode(JSON.stringify({ query: { tenant: "acme" }, limit: PAGE }))
    for (let round = 0; round < ROUNDS; round++) {
      let t0 = performance.now()
      await a.run(Effect.flatMap(NodeMesh, (m) => m.nodes()))
      listMs.push(performance.now() - t0)
      t0 = performance.now()
      await a.run(Effect.flatMap(NodeMesh, (m) => m.ask("b", TRACE_TOPIC, request, 2_000)))
      askMs.push(performance.now() - t0)
    }
    const result = {
      bench: "trace-merge",
      recordsPerNode: RECORDS,
      rounds: ROUNDS,
      page: PAGE,
      node: process.version,
      loadavg: os.loadavg().map((x) => +x.toFixed(1)),
      localMs: { p50: +median(local).toFixed(2) },
      mergedMs: { p50: +median(merged).toFixed(2) },
      ratio: +(median(merged) / median(local)).toFixed(2),
      nodeListMs: { p50: +median(listMs).toFixed(2) },
      requestToBMs: { p50: +median(askMs).toFixed(2) }
    }
    const out = resultsDir(ROOT)
    mkdirSync(out, { recursive: true })
    const stamp = new Date()
      .toISOString()
      .replace(/[:.]/g, "-")
      .replace(/-\d{3}Z$/, "Z")
    writeFileSync(path.join(out, `trace-merge-${stamp}.json`), JSON.stringify(result, null, 2) + "\n")
    console.log(JSON.stringify(result))
  } finally {
    await a.close()
    await b.close()
    await nats.stop()
  }
}

await main()
