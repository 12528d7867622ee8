/**
 * `npm run perf:cluster [-- --changes N]`
 *
 * Issue 18, done-means 1, measured: two nodes (each its own LMDB folder, in
 * this process) on one Debian nats-server (JetStream, temp folder, loopback),
 * N template saves on node A through the store as the admin API writes them
 * (compare-and-set on the key's revision), each timed from the write's start
 * until node B's applier applied that revision to its LMDB. Also times one
 * first full resync of a third node. p50/p99; results to perf/results/local/
 * (or perf/results/ with --record). A benchmark: nothing asserted.
 */
import { Effect, Exit, Layer, Logger, LogLevel, Scope } from "effect"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { ClusterStatus } from "../src/cluster/Applier.js"
import { decodeConfig } from "../src/config.js"
import { Template } from "../src/domain/Template.js"
import type { TenantId } from "../src/domain/Tenant.js"
import { liveLayer } from "../src/Server.js"
import { Db, templateKey } from "../src/store/Keys.js"
import { Store, Write } from "../src/store/Store.js"
import { TenantRepo } from "../src/store/TenantRepo.js"
import { natsUnavailable, startNats } from "../spec/peers/NatsPeer.js"
import { resultsDir } from "./ResultsDir.js"
import { tenantImport } from "../src/actors/TenantImport.js"

const flag = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}
const CHANGES = flag("changes", 200)
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")
const quiet = Logger.withMinimumLogLevel(LogLevel.Error)

const startNode = async (servers: ReadonlyArray<string>, name: string) => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `imprint-clusterbench-${name}-`))
  const config = await Effect.runPromise(decodeConfig({ dataDir, smtp: { port: 0 }, admin: { enabled: false }, cluster: { servers, node: name } }))
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

const percentile = (xs: ReadonlyArray<number>, p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]

const main = async () => {
  const missing = natsUnavailable()
  if (missing !== undefined) throw new Error(missing)
  const nats = await startNats()
  const a = await startNode([nats.url], "a")
  const b = await startNode([nats.url], "b")
  const acme = "acme" as TenantId
  try {
    await a.run(Effect.flatMap(TenantRepo, (r) => tenantImport(r).importTenant({ id: "acme", name: "Acme", domains: ["acme.example"], connectors: [] })))
    const latencies: Array<number> = []
    for (let i = 0; i < CHANGES; i++) {
      const t0 = performance.now()
      const revision = await a.run(
        Effect.gen(function* () {
          const store = yield* Store
          yield* store.batch([
            Write.put(Db.templates, Template, templateKey(acme, "sig"), new Template({ id: "sig", name: "Sig", html: `<p>v${i}</p>`, version: i + 1 }))
          ])
          return store.keyRevision(Db.templates, templateKey(acme, "sig"))
        })
      )
      await b.run(Effect.flatMap(ClusterStatus, (s) => s.awaitApplied(revision)))
      latencies.push(performance.now() - t0)
    }
    // a third node joining: its first full resync of the bucket
    const t0 = performance.now()
    const c = await startNode([nats.url], "c")
    const last = await a.run(Effect.map(Store, (s) => s.lastApplied()))
    await c.run(Effect.flatMap(ClusterStatus, (s) => s.awaitApplied(last)))
    const joinMs = performance.now() - t0
    await c.close()
    const result = {
      bench: "cluster",
      changes: CHANGES,
      node: process.version,
      propagationMs: { p50: +percentile(latencies, 0.5).toFixed(1), p99: +percentile(latencies, 0.99).toFixed(1), max: +Math.max(...latencies).toFixed(1) },
      joinMs: +joinMs.toFixed(0)
    }
    const out = resultsDir(ROOT)
    mkdirSync(out, { recursive: true })
    const stamp = new Date()
      .toISOString()
      .replace(/[:.]/g, "-")
      .replace(/-\d{3}Z$/, "Z")
    writeFileSync(path.join(out, `cluster-${stamp}.json`), JSON.stringify(result, null, 2) + "\n")
    console.log(JSON.stringify(result))
  } finally {
    await a.close()
    await b.close()
    await nats.stop()
  }
}

await main()
