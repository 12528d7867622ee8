/**
 * `npm run perf:sync [-- --users N] [--runs N] [--page-size N] [--changes N]`
 *
 * Directory sync of 100,000 users from the Microsoft Graph stand-in (the
 * specs' HTTPS server, spec/sync/GraphStandIn.ts, here in the parent
 * process): each run is a fresh child process (its peak RSS, VmHWM, is that
 * run's alone) with a fresh LMDB store, doing through DirectorySync.runOnce
 *   - a full pass into an empty cache (/users/delta paged, every user
 *     mapped, applied in APPLY_BATCH_SIZE batches through the tenant actor);
 *   - five single changes through the tenant actor (as the admin API makes
 *     them), each timed until a lookup (the mail path's read) sees it;
 *   - a delta pass after --changes users changed at the source (each
 *     changed user read whole, as Graph delta entries are partial).
 * Medians over the runs; writes perf/results/sync-<timestamp>.json and .md.
 * A benchmark, not a test: nothing is asserted beyond the counts. LDAP has
 * its own bench (perf/LdapSyncBench.ts, `npm run perf:ldap`).
 */
import { resultsDir } from "./ResultsDir.js"
import { Duration, Effect, Layer, Logger, LogLevel, Option } from "effect"
import { DirectoryUser } from "../src/domain/Directory.js"
import type { TenantId } from "../src/domain/Tenant.js"
import { fork } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { TenantRegistry } from "../src/actors/TenantRegistry.js"
import { DirectoryWriterLive } from "../src/actors/DirectoryWriterLive.js"
import { Store, StorePath } from "../src/store/Store.js"
import { TenantRepo } from "../src/store/TenantRepo.js"
import { SecretKeys } from "../src/store/SecretCipher.js"
import { DirectorySync, SyncOptions } from "../src/sync/DirectorySync.js"
import { SyncRepo } from "../src/sync/SyncRepo.js"
import { GraphSourceSettings, TenantSyncSettings } from "../src/domain/SyncSettings.js"
import { CLIENT_ID, CLIENT_SECRET, GraphStandIn, graphUser } from "../spec/sync/GraphStandIn.js"
import { makeSelfSigned } from "../spec/support/Certs.js"
import { readProc } from "./Child.js"
import { tenantImport } from "../src/actors/TenantImport.js"
import { PhotoNormaliserLive } from "../src/images/PhotoNormaliser.js"

const flag = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}
const USERS = flag("users", 100_000)
const RUNS = flag("runs", 3)
/** Graph's largest $top for users */
const PAGE_SIZE = flag("page-size", 999)
const CHANGES = flag("changes", 1_000)
const DOMAIN = "bench.example"
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")
const mb = (kb: number) => +(kb / 1024).toFixed(1)

interface Sample {
  readonly fullMs: number
  readonly fullUpserted: number
  /** a single directory change through the actor until a lookup sees it (median of 5) */
  readonly singleChangeMs: number
  readonly deltaMs: number
  readonly deltaUpserted: number
  readonly peakRssMb: number
  readonly rssBeforeMb: number
}

// ---- child: one run ------------------------------------------------------------------
const childRun = async (tokenUrl: string, graphBase: string, ca: string) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "imprint-syncbench-"))
  const layer = DirectorySync.Default.pipe(
    Layer.provideMerge(DirectoryWriterLive),
    Layer.provide(PhotoNormaliserLive),
    Layer.provideMerge(Layer.mergeAll(TenantRegistry.Default, TenantRepo.Default, Store.Default, SyncRepo.Default)),
    Layer.provide(SyncOptions.layer({ enabled: false, defaultInterval: Duration.hours(24), jitter: 0.1 })),
    Layer.provide(SecretKeys.random),
    Layer.provide(Layer.succeed(StorePath, dir))
  )
  const program = Effect.gen(function* () {
    const repo = yield* TenantRepo
    yield* tenantImport(repo).importTenant({ id: "bench", name: "Bench", domains: [DOMAIN], connectors: [], templates: [], rules: [], directory: [] })
    yield* (yield* SyncRepo).putSettings(
      "bench",
      TenantSyncSettings.make({
        sources: [
          GraphSourceSettings.make({
            name: "entra",
            tokenUrl,
            graphBaseUrl: graphBase,
            clientId: CLIENT_ID,
            clientSecret: CLIENT_SECRET,
            includeGroups: false,
            caCertPem: ca
          })
        ]
      })
    )
    const sync = yield* DirectorySync
    const rssBeforeMb = mb(readProc(process.pid)?.rssKb ?? NaN)
    let start = performance.now()
    const full = yield* sync.runOnce("bench")
    const fullMs = performance.now() - start
    if (full.state !== "idle") throw new Error(`full pass failed: ${full.lastError}`)
    // one change as the admin API makes it (through the actor), then the read the mail path makes
    const actor = yield* (yield* TenantRegistry).actor("bench" as TenantId)
    const singles: Array<number> = []
    for (let i = 0; i < 5; i++) {
      const mail = `user${(i * 7919) % USERS}@${DOMAIN}`
      const title = `Changed ${i}`
      const t0 = performance.now()
      yield* actor.applyDirectoryDelta({ upsert: [new DirectoryUser({ mail, displayName: `User ${i}`, title })], remove: [] })
      const seen = yield* actor.lookupUser(mail)
      singles.push(performance.now() - t0)
      if (Option.getOrUndefined(seen)?.title !== title) throw new Error("the change was not visible")
    }
    const singleChangeMs = +median(singles).toFixed(1)
    // the parent changes users at the source between the passes
    yield* Effect.promise(
      () =>
        new Promise<void>((resolve) => {
          process.once("message", () => resolve())
          process.send!({ changeNow: true })
        })
    )
    start = performance.now()
    const delta = yield* sync.runOnce("bench")
    const deltaMs = performance.now() - start
    if (delta.state !== "idle") throw new Error(`delta pass failed: ${delta.lastError}`)
    const sample: Sample = {
      fullMs,
      fullUpserted: full.counts.upserted,
      singleChangeMs,
      deltaMs,
      deltaUpserted: delta.counts.upserted,
      peakRssMb: mb(readProc(process.pid)?.hwmKb ?? NaN),
      rssBeforeMb
    }
    return sample
  })
  try {
    const sample = await Effect.runPromise(program.pipe(Effect.provide(layer), Effect.scoped, Logger.withMinimumLogLevel(LogLevel.Warning)))
    process.send!({ sample })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

// ---- parent ---------------------------------------------------------------------------
const runOne = (graph: GraphStandIn, ca: string, run: number): Promise<Sample> =>
  new Promise((resolve, reject) => {
    const c = fork(fileURLToPath(import.meta.url), ["--child", graph.tokenUrl, graph.base], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env: { ...process.env, SYNCBENCH_CA: ca }
    })
    c.on("message", (m: { changeNow?: boolean; sample?: Sample }) => {
      if (m.changeNow) {
        for (let i = 0; i < CHANGES; i++) graph.put(graphUser((i * 97 + run) % USERS, DOMAIN, { jobTitle: `Title ${run}.${i}` }))
        c.send({ go: true })
      } else if (m.sample) resolve(m.sample)
    })
    c.on("exit", (code) => (code === 0 ? undefined : reject(new Error(`bench child exited with ${code}`))))
  })

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const main = async () => {
  const cert = await makeSelfSigned("127.0.0.1")
  const graph = await new GraphStandIn({ key: cert.key, cert: cert.cert, pageSize: PAGE_SIZE }).start()
  for (let i = 0; i < USERS; i++) graph.put(graphUser(i, DOMAIN))
  const samples: Array<Sample> = []
  try {
    for (let run = 0; run < RUNS; run++) {
      graph.forgetDeltaLinks()
      const s = await runOne(graph, cert.cert, run)
      samples.push(s)
      console.log(
        `run ${run + 1}/${RUNS}: full ${(s.fullMs / 1000).toFixed(1)} s (${s.fullUpserted} users), one change visible in ${s.singleChangeMs} ms, delta ${(s.deltaMs / 1000).toFixed(1)} s (${s.deltaUpserted} changed), peak RSS ${s.peakRssMb} MB`
      )
    }
  } finally {
    await graph.stop()
  }
  const fullMs = median(samples.map((s) => s.fullMs))
  const result = {
    bench: "sync-graph",
    users: USERS,
    pageSize: PAGE_SIZE,
    changes: CHANGES,
    runs: RUNS,
    node: process.version,
    fullSeconds: +(fullMs / 1000).toFixed(2),
    fullUsersPerSecond: Math.round(USERS / (fullMs / 1000)),
    singleChangeMs: median(samples.map((s) => s.singleChangeMs)),
    deltaSeconds: +(median(samples.map((s) => s.deltaMs)) / 1000).toFixed(2),
    peakRssMb: median(samples.map((s) => s.peakRssMb)),
    rssBeforeMb: median(samples.map((s) => s.rssBeforeMb)),
    samples
  }
  const out = resultsDir(ROOT)
  mkdirSync(out, { recursive: true })
  const stamp = new Date()
    .toISOString()
    .replace(/[:.]/g, "-")
    .replace(/-\d{3}Z$/, "Z")
  const file = path.join(out, `sync-${stamp}`)
  writeFileSync(`${file}.json`, JSON.stringify(result, null, 2) + "\n")
  const md = [
    `# Directory sync from the Graph stand-in (${USERS.toLocaleString("en")} users, ${RUNS} runs, medians)`,
    "",
    "| pass | time | users/s | peak RSS (child) |",
    "|---|---|---|---|",
    `| full, empty cache | ${result.fullSeconds} s | ${result.fullUsersPerSecond} | ${result.peakRssMb} MB (before: ${result.rssBeforeMb} MB) |`,
    `| one change through the actor until a lookup sees it | ${result.singleChangeMs} ms | — | (same process) |`,
    `| delta, ${CHANGES} changed | ${result.deltaSeconds} s | — | (same process) |`,
    ""
  ].join("\n")
  writeFileSync(`${file}.md`, md)
  console.log(md)
  console.log(`written to ${file}.json`)
}

if (process.argv.includes("--child")) {
  const i = process.argv.indexOf("--child")
  await childRun(process.argv[i + 1], process.argv[i + 2], process.env.SYNCBENCH_CA ?? "")
  process.disconnect?.()
} else await main()
