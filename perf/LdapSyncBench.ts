/**
 * `npm run perf:ldap [-- --users N] [--runs N] [--page-size N]`
 *
 * A full LDAP directory pass of 100,000 users (issue 7): Debian's slapd
 * started as in the peer specs (perf/Slapd.ts, generated AD-like directory
 * loaded with slapadd), then, interleaved run by run:
 *   - floor: ldapts paging through the same search with the same attributes,
 *     entries counted and dropped (what the client library costs);
 *   - LdapSource, streamed: every entry mapped into a DirectoryUser and
 *     counted, nothing kept (the source's own memory: one page);
 *   - LdapSource, collected: the same users kept in an array, as a full sync
 *     holds a pass until it completed;
 *   - the whole sync: DirectorySync.runOnce into a real LMDB store through the
 *     tenant actor, into an empty cache and again with nothing changed.
 * Time, users/s, peak RSS of the run's own process and slapd's CPU. Medians; writes perf/results/ldap-<timestamp>.json and
 * .md. A benchmark, not a test: nothing is asserted beyond the counts.
 */
import { resultsDir } from "./ResultsDir.js"
import { Chunk, Effect, Layer, Logger, LogLevel, Option, Stream } from "effect"
import { Client } from "ldapts"
import { fork } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { TenantRegistry } from "../src/actors/TenantRegistry.js"
import { DirectoryWriterLive } from "../src/actors/DirectoryWriterLive.js"
import { Store, StorePath } from "../src/store/Store.js"
import { TenantRepo } from "../src/store/TenantRepo.js"
import { LDAP_DEFAULT_MAPPING } from "../src/sync/AttributeMapping.js"
import { SecretKeys } from "../src/store/SecretCipher.js"
import { DirectorySync, SyncOptions } from "../src/sync/DirectorySync.js"
import { SyncRepo } from "../src/sync/SyncRepo.js"
import { LdapSourceSettings, TenantSyncSettings } from "../src/domain/SyncSettings.js"
import type { SourceChange } from "../src/sync/DirectorySource.js"
import { baseAttribute } from "../src/sync/LdapEntry.js"
import { LDAP_DEFAULT_FILTER, makeLdapSource } from "../src/sync/LdapSource.js"
import { readProc } from "./Child.js"
import { MAIL_DOMAIN, ROOT_DN, SERVICE_DN, SERVICE_PASSWORD, SUFFIX, writeDirectory } from "./LdapDirectory.js"
import { slapdUnavailable, startSlapd, type SlapdServer } from "./Slapd.js"
import { tenantImport } from "../src/actors/TenantImport.js"
import { PhotoNormaliserLive } from "../src/images/PhotoNormaliser.js"

const flag = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}
const USERS = flag("users", 100_000)
const RUNS = flag("runs", 3)
const PAGE_SIZE = flag("page-size", 500)
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")

interface Sample {
  readonly case: string
  readonly ms: number
  readonly users: number
  readonly rejected: number
  readonly peakRssMb: number
  readonly rssBeforeMb: number
  readonly slapdCpuS: number
  /** whole-sync runs: users written to the cache */
  readonly upserted?: number
}

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

const config = (server: SlapdServer) => ({ url: server.url, bindDn: SERVICE_DN, password: SERVICE_PASSWORD, baseDn: SUFFIX, pageSize: PAGE_SIZE })

const floor = async (server: SlapdServer) => {
  const client = new Client({ url: server.url })
  let users = 0
  try {
    await client.bind(SERVICE_DN, SERVICE_PASSWORD)
    const attributes = [...new Set(Object.values(LDAP_DEFAULT_MAPPING).map(baseAttribute))]
    for await (const page of client.searchPaginated(SUFFIX, { scope: "sub", filter: LDAP_DEFAULT_FILTER, attributes, paged: { pageSize: PAGE_SIZE } })) {
      users += page.searchEntries.length
    }
  } finally {
    await client.unbind()
  }
  return { users, rejected: 0 }
}

const count = (acc: { users: number; rejected: number }, c: SourceChange) =>
  c._tag === "Upsert" ? { users: acc.users + 1, rejected: acc.rejected } : { users: acc.users, rejected: acc.rejected + 1 }

const streamed = (server: SlapdServer) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const pass = yield* makeLdapSource(config(server)).pass(Option.none())
        return yield* Stream.runFold(pass.changes, { users: 0, rejected: 0 }, count)
      })
    )
  )

const collected = (server: SlapdServer) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const pass = yield* makeLdapSource(config(server)).pass(Option.none())
        const kept = Chunk.toReadonlyArray(yield* Stream.runCollect(pass.changes))
        return kept.reduce(count, { users: 0, rejected: 0 })
      })
    )
  )

/**
 * The whole sync: DirectorySync.runOnce for a tenant whose source is this
 * slapd, into a real LMDB store through the tenant actor, twice: into an
 * empty cache, then again with nothing changed. Reports both passes.
 */
const wholeSync = async (server: SlapdServer): Promise<ReadonlyArray<Omit<Sample, "rssBeforeMb" | "slapdCpuS">>> => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "imprint-ldap-bench-"))
  const layer = DirectorySync.Default.pipe(
    Layer.provideMerge(DirectoryWriterLive),
    Layer.provide(PhotoNormaliserLive),
    Layer.provideMerge(Layer.mergeAll(TenantRegistry.Default, TenantRepo.Default, Store.Default, SyncRepo.Default)),
    Layer.provide(SyncOptions.layer({ enabled: false })),
    Layer.provide(SecretKeys.random),
    Layer.provide(Layer.succeed(StorePath, dir))
  )
  try {
    return await Effect.runPromise(
      Effect.gen(function* () {
        yield* tenantImport(yield* TenantRepo).importTenant({ id: "bench", name: "Bench", domains: [MAIL_DOMAIN], connectors: [] })
        const source = LdapSourceSettings.make({ name: "ad", ...config(server) })
        yield* (yield* SyncRepo).putSettings("bench", TenantSyncSettings.make({ sources: [source] }))
        const sync = yield* DirectorySync
        const out: Array<Omit<Sample, "rssBeforeMb" | "slapdCpuS">> = []
        for (const name of ["DirectorySync into LMDB, empty cache", "DirectorySync into LMDB, nothing changed"]) {
          const start = performance.now()
          const status = yield* sync.runOnce("bench")
          const ms = performance.now() - start
          if (status.state !== "idle") throw new Error(`sync ${status.state}: ${status.lastError}`)
          out.push({
            case: name,
            ms,
            users: status.counts.seen,
            rejected: status.counts.rejected,
            upserted: status.counts.upserted,
            peakRssMb: mb(readProc(process.pid)?.hwmKb ?? NaN)
          })
        }
        return out
      }).pipe(Effect.scoped, Effect.provide(layer), Logger.withMinimumLogLevel(LogLevel.Warning))
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const CASES: ReadonlyArray<readonly [string, (s: SlapdServer) => Promise<{ users: number; rejected: number }>]> = [
  ["ldapts pages only (floor)", floor],
  ["LdapSource → DirectoryUsers, streamed", streamed],
  ["LdapSource → DirectoryUsers, collected", collected]
]

const mb = (kb: number) => +(kb / 1024).toFixed(1)

/**
 * A measured run happens in a fresh child process (this file with --child),
 * so that its peak RSS (VmHWM) belongs to that run alone: V8 keeps heap pages
 * it once grew, so runs in one process would inherit each other's peaks.
 */
const child = async (caseIndex: number, url: string, pid: number): Promise<void> => {
  const server = { url, pid } as SlapdServer
  if (caseIndex === CASES.length) {
    const rssBeforeMb = mb(readProc(process.pid)?.rssKb ?? NaN)
    const slapdBefore = readProc(pid)?.cpuS ?? NaN
    const passes = await wholeSync(server)
    const slapdCpuS = +(((readProc(pid)?.cpuS ?? NaN) - slapdBefore) / passes.length).toFixed(2)
    process.send!(passes.map((p) => ({ ...p, rssBeforeMb, slapdCpuS })))
    return
  }
  const [name, body] = CASES[caseIndex]
  const before = readProc(process.pid)
  const slapdBefore = readProc(pid)
  const start = performance.now()
  const { users, rejected } = await body(server)
  const ms = performance.now() - start
  const after = readProc(process.pid)
  const slapdAfter = readProc(pid)
  const sample: Sample = {
    case: name,
    ms,
    users,
    rejected,
    peakRssMb: mb(after?.hwmKb ?? NaN),
    rssBeforeMb: mb(before?.rssKb ?? NaN),
    slapdCpuS: +((slapdAfter?.cpuS ?? NaN) - (slapdBefore?.cpuS ?? NaN)).toFixed(2)
  }
  process.send!([sample])
}

const runCase = (server: SlapdServer, caseIndex: number): Promise<ReadonlyArray<Sample>> =>
  new Promise((resolve, reject) => {
    const c = fork(
      fileURLToPath(import.meta.url),
      ["--child", String(caseIndex), "--url", server.url, "--pid", String(server.pid), "--page-size", String(PAGE_SIZE)],
      { stdio: ["ignore", "inherit", "inherit", "ipc"] }
    )
    let sample: ReadonlyArray<Sample> | undefined
    c.on("message", (m) => {
      sample = m as ReadonlyArray<Sample>
    })
    c.once("error", reject)
    c.once("exit", (code) => (sample !== undefined ? resolve(sample) : reject(new Error(`run ${caseIndex} exited with ${code}`))))
  })

const main = async () => {
  const unavailable = slapdUnavailable()
  if (unavailable !== undefined) {
    console.error(`perf:ldap skipped: ${unavailable}`)
    return
  }
  const loadStart = performance.now()
  const server = await startSlapd({ suffix: SUFFIX, rootDn: ROOT_DN, rootPassword: "bench-Root-1", load: (w) => writeDirectory(USERS, w) })
  const loadMs = performance.now() - loadStart
  console.error(`slapd with ${USERS} users loaded and started in ${(loadMs / 1000).toFixed(1)} s`)
  const samples: Array<Sample> = []
  try {
    // one warm-up run of each case (JIT, slapd's caches), not recorded
    // one unrecorded pass first: slapd's caches warm, as the later runs find them
    await runCase(server, 0)
    for (let r = 0; r < RUNS; r++) {
      for (let i = 0; i <= CASES.length; i++) {
        for (const s of await runCase(server, i)) {
          samples.push(s)
          console.error(
            `${s.case.padEnd(42)} run ${r + 1}: ${(s.ms / 1000).toFixed(2)} s, ${s.users} users, ${s.rejected} rejected, peak RSS ${s.peakRssMb} MB, slapd CPU ${s.slapdCpuS} s`
          )
        }
      }
    }
  } finally {
    await server.stop()
  }
  const rows = [...new Set(samples.map((s) => s.case))].map((name) => {
    const mine = samples.filter((s) => s.case === name)
    const ms = median(mine.map((s) => s.ms))
    return {
      case: name,
      runs: mine.length,
      users: mine[0]?.users ?? 0,
      rejected: mine[0]?.rejected ?? 0,
      medianS: +(ms / 1000).toFixed(2),
      usersPerS: Math.round(((mine[0]?.users ?? 0) / ms) * 1000),
      medianPeakRssMb: median(mine.map((s) => s.peakRssMb)),
      medianRssBeforeMb: median(mine.map((s) => s.rssBeforeMb)),
      medianSlapdCpuS: median(mine.map((s) => s.slapdCpuS))
    }
  })
  const at = new Date().toISOString()
  const cpus = os.cpus()
  const context = [
    `${at}, ${RUNS} runs per case interleaved, each in a fresh process, after one unrecorded pass; medians; ${USERS} generated users (+1 rejected by design), page size ${PAGE_SIZE}`,
    `machine: ${cpus.length} × ${cpus[0]?.model ?? "?"}, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}, Node ${process.version}`,
    `slapd (Debian) on loopback, loaded with slapadd and started in ${(loadMs / 1000).toFixed(1)} s; peak RSS: the run's process (VmHWM), RSS before: after start-up, before the pass`
  ]
  const md = [
    `# LDAP directory pass, ${USERS} users`,
    "",
    ...context.map((c) => `- ${c}`),
    "",
    "| case | users | s (median) | users/s | peak RSS MB | RSS before MB | slapd CPU s |",
    "|---|---:|---:|---:|---:|---:|---:|",
    ...rows.map((r) => `| ${r.case} | ${r.users} | ${r.medianS} | ${r.usersPerS} | ${r.medianPeakRssMb} | ${r.medianRssBeforeMb} | ${r.medianSlapdCpuS} |`),
    ""
  ].join("\n")
  const dir = resultsDir(ROOT)
  mkdirSync(dir, { recursive: true })
  const stamp = at.replace(/:/g, "-").replace(/\.\d+Z$/, "Z")
  writeFileSync(
    path.join(dir, `ldap-${stamp}.json`),
    JSON.stringify({ bench: "ldap", at, users: USERS, runs: RUNS, pageSize: PAGE_SIZE, loadMs: Math.round(loadMs), context, rows, samples }, null, 2) + "\n"
  )
  writeFileSync(path.join(dir, `ldap-${stamp}.md`), md)
  console.log(md)
  console.error(`written ${path.relative(ROOT, dir)}/ldap-${stamp}.json and .md`)
}

const childCase = process.argv.indexOf("--child")
if (childCase > 0) await child(Number(process.argv[childCase + 1]), process.argv[process.argv.indexOf("--url") + 1], flag("pid", 0))
else await main()
