/**
 * `npm run perf:tenants [-- --sizes 100,1000,10000] [--users 50] [--skip-warm-above N] [--skip-load] [--record]`
 *
 * Hosting many tenants (issue 21 items 4 and 5), per tenant count N, each
 * tenant with `--users` directory entries, its own domain and its own source
 * address (127.1.x.y/32, so a connection binds by its range):
 *
 *   import    `imprint tenant import tenants.jsonl` (one batch, all-or-nothing, one process): wall time and per tenant
 *   single    then, in-process, SINGLE_IMPORTS more tenants imported one by one (TenantRepo.importTenant): median ms each,
 *             beside what the old conflict check read on every import (listTenants: every tenant decoded), same run
 *   start     `imprint serve` from spawn to "listening"; RSS idle
 *   first     first-message latency (new connection, SMTP from MAIL to 250 after DATA): cold (no warm actor) vs warm, median of SAMPLE tenants
 *   msgs/s    10 KB messages, a new connection each, LOAD_CONCURRENCY sessions: all from tenant 0 vs round-robin over all N
 *             tenants (perf/LoadGenerator.ts), alternating, median of LOAD_ROUNDS; `--skip-load` skips it
 *   warm      RSS after one message from every tenant (no budget), and again on a fresh server with tenants.maxWarm = N/10
 *
 * Written to perf/results/local/tenants-<timestamp>.{json,md} (perf/results/ with --record).
 * A benchmark, not a test: nothing is asserted.
 */
import { execFile } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Effect, Layer, Logger, LogLevel } from "effect"
import nodemailer from "nodemailer"
import { Store, StorePath } from "../src/store/Store.js"
import { TenantRepo } from "../src/store/TenantRepo.js"
import { killAllChildren, readProc, startServer, type Server } from "./Child.js"
import { freePort } from "./FreePort.js"
import { runLoad } from "./LoadGenerator.js"
import { resultsDir } from "./ResultsDir.js"
import { ROOT } from "./Targets.js"
import { tenantImport } from "../src/actors/TenantImport.js"

const option = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? undefined : process.argv[i + 1]
}
const SIZES = (option("sizes") ?? "100,1000,10000").split(",").map(Number)
const USERS = Number(option("users") ?? 50)
/** above this N the all-warm and budget passes are skipped (each sends N messages) */
const SKIP_WARM_ABOVE = Number(option("skip-warm-above") ?? 100_000)
/** `--skip-load`: no msgs/s pass */
const SKIP_LOAD = process.argv.includes("--skip-load")
const SINGLE_IMPORTS = 20
const SAMPLE = 30
const WARM_CONCURRENCY = 8
/** msgs/s pass: 10 KB messages, a new connection per message, this many sessions at once, ROUNDS alternating rounds */
const LOAD_CONCURRENCY = 10
const LOAD_MESSAGES = 300
const LOAD_ROUNDS = 3
const MAIN = path.join(ROOT, "dist", "src", "main.js")
const IMPORT_TIMEOUT_MS = 30 * 60_000

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN

const addressOf = (i: number) => `127.1.${i >> 8}.${i & 255}`

const tenantFile = (i: number, prefix = "t") => {
  const id = `${prefix}${i}`
  return {
    id,
    name: `Tenant ${i}`,
    domains: [`${id}.example`],
    connectors: [{ type: "cidr", cidrs: [`${addressOf(i)}/32`] }],
    templates: [{ id: "default", name: "Default", html: "<p><b>{{displayName}}</b><br>{{title}}, " + id + "</p>" }],
    rules: [{ id: "all", name: "Everyone", templateId: "default" }],
    directory: Array.from({ length: USERS }, (_, u) => ({ mail: `user${u}@${id}.example`, displayName: `User ${u} of ${id}`, title: "Engineer" }))
  }
}

const run = (args: ReadonlyArray<string>): Promise<void> =>
  new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: ROOT, timeout: IMPORT_TIMEOUT_MS, maxBuffer: 256 * 1024 * 1024 }, (err, _out, stderr) =>
      err ? reject(new Error(`${args.slice(1, 3).join(" ")} failed: ${err.message} ${stderr.slice(-500)}`)) : resolve()
    )
  })

/** one message on a new connection from the tenant's address; ms from connect to the 250 after DATA */
const send = async (port: number, i: number): Promise<number> => {
  const transport = nodemailer.createTransport({ host: "127.0.0.1", port, secure: false, ignoreTLS: true, localAddress: addressOf(i), name: "perf.client" })
  const started = performance.now()
  try {
    await transport.sendMail({
      envelope: { from: `user0@t${i}.example`, to: ["bob@remote.example"] },
      raw: `From: user0@t${i}.example\r\nTo: bob@remote.example\r\nSubject: hello\r\nMessage-ID: <${i}.${Date.now()}@perf>\r\nContent-Type: text/plain\r\n\r\nHello from tenant ${i}.\r\n`
    })
    return performance.now() - started
  } finally {
    transport.close()
  }
}

const sendAll = async (port: number, ids: ReadonlyArray<number>) => {
  let next = 0
  let failed = 0
  await Promise.all(
    Array.from({ length: WARM_CONCURRENCY }, async () => {
      while (next < ids.length) {
        const i = ids[next++]!
        await send(port, i).catch(() => void failed++)
      }
    })
  )
  return failed
}

const rssMb = (server: Server) => (readProc(server.pid)?.rssKb ?? NaN) / 1024
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** In-process: SINGLE_IMPORTS new tenants one by one, and what the old conflict check read per import. */
const singleImports = (dataDir: string, n: number) =>
  Effect.gen(function* () {
    const repo = yield* TenantRepo
    const single: Array<number> = []
    for (let k = 0; k < SINGLE_IMPORTS; k++) {
      const file = tenantFile(n + 100 + k, "s")
      const t0 = performance.now()
      yield* tenantImport(repo).importTenant(file)
      single.push(performance.now() - t0)
    }
    const list: Array<number> = []
    for (let k = 0; k < 3; k++) {
      const t0 = performance.now()
      yield* repo.listTenants()
      list.push(performance.now() - t0)
    }
    return { singleMs: median(single), listAllMs: median(list) }
  }).pipe(
    Effect.provide(Layer.mergeAll(TenantRepo.Default, Store.Default).pipe(Layer.provide(Layer.succeed(StorePath, path.join(dataDir, "lmdb"))))),
    Effect.scoped,
    Logger.withMinimumLogLevel(LogLevel.Error),
    Effect.runPromise
  )

/**
 * msgs/s with every session from tenant 0 vs sessions round-robin over all N
 * tenants (each from its own address, with its own sender domain),
 * alternating, median of LOAD_ROUNDS each; same server, same run.
 */
const throughput = async (port: number, n: number) => {
  const single: Array<number> = []
  const roundRobin: Array<number> = []
  let failed = 0
  let next = 0
  for (let round = 0; round < LOAD_ROUNDS; round++) {
    for (const mode of ["single", "round-robin"] as const) {
      const result = await runLoad({
        port,
        kind: "10k",
        concurrency: LOAD_CONCURRENCY,
        pattern: "new",
        messages: LOAD_MESSAGES,
        maxMs: 120_000,
        runId: `tenants-${n}-${mode}-${round}`,
        sessionSource: () => {
          const i = mode === "single" ? 0 : next++ % n
          return { localAddress: addressOf(i), sender: `user0@t${i}.example` }
        }
      })
      failed += result.attempted - result.ok
      if (result.ok < result.attempted && result.errorSamples.length > 0) console.error(`${mode}: ${result.errorSamples[0]}`)
      ;(mode === "single" ? single : roundRobin).push((result.ok * 1000) / result.elapsedMs)
    }
  }
  return { singleMsgsPerS: median(single), roundRobinMsgsPerS: median(roundRobin), failed }
}

interface Row {
  n: number
  importS: number
  importMsPerTenant: number
  singleMs: number
  oldCheckReadMs: number
  startMs: number
  rssIdleMb: number
  coldMs: number
  warmMs: number
  singleMsgsPerS?: number
  roundRobinMsgsPerS?: number
  rssAllWarmMb?: number
  allWarmS?: number
  budget?: number
  rssBudgetMb?: number
  failed: number
}

const measure = async (n: number, sinkPort: number): Promise<Row> => {
  const dir = mkdtempSync(path.join(tmpdir(), `imprint-perf-tenants-${n}-`))
  try {
    const dataDir = path.join(dir, "data")
    const configFor = async (tenants: Record<string, number>) => {
      const file = path.join(dir, `config-${Object.values(tenants).join("-")}.json`)
      writeFileSync(
        file,
        JSON.stringify({
          dataDir,
          smtp: { host: "127.0.0.1", port: await freePort(), maxConnectionsPerAddress: 1000 },
          downstream: { host: "127.0.0.1", port: sinkPort, tls: "none" },
          admin: { enabled: false },
          trace: { enabled: false },
          tenants
        })
      )
      return file
    }
    const unlimited = await configFor({ maxWarm: 0, memoryBudgetMb: 0 })
    const jsonl = path.join(dir, "tenants.jsonl")
    writeFileSync(jsonl, Array.from({ length: n }, (_, i) => JSON.stringify(tenantFile(i))).join("\n"))
    const t0 = performance.now()
    await run([MAIN, "tenant", "import", jsonl, "--config", unlimited])
    const importS = (performance.now() - t0) / 1000
    console.error(`N=${n}: batch import ${importS.toFixed(1)} s`)
    const { singleMs, listAllMs } = await singleImports(dataDir, n)
    console.error(`N=${n}: single import ${singleMs.toFixed(1)} ms, listTenants ${listAllMs.toFixed(1)} ms`)

    const s0 = performance.now()
    const server = await startServer({ name: `imprint-${n}`, args: [MAIN, "serve", "--config", unlimited], cwd: ROOT })
    const startMs = performance.now() - s0
    await settle(2000)
    const rssIdleMb = rssMb(server)
    const sample = Array.from({ length: Math.min(SAMPLE, n) }, (_, k) => Math.floor((k * n) / Math.min(SAMPLE, n)))
    const cold: Array<number> = []
    const warm: Array<number> = []
    let failed = 0
    for (const i of sample) {
      try {
        cold.push(await send(server.port, i))
        warm.push(await send(server.port, i))
      } catch (e) {
        failed++
        if (failed === 1) console.error(`send failed: ${(e as Error).message}`)
      }
    }
    const row: Row = {
      n,
      importS,
      importMsPerTenant: (importS * 1000) / n,
      singleMs,
      oldCheckReadMs: listAllMs,
      startMs,
      rssIdleMb,
      coldMs: median(cold),
      warmMs: median(warm),
      failed
    }
    console.error(`N=${n}: start ${startMs.toFixed(0)} ms, idle ${rssIdleMb.toFixed(0)} MB, cold ${row.coldMs.toFixed(1)} ms, warm ${row.warmMs.toFixed(1)} ms`)
    if (!SKIP_LOAD) {
      const load = await throughput(server.port, n)
      row.singleMsgsPerS = load.singleMsgsPerS
      row.roundRobinMsgsPerS = load.roundRobinMsgsPerS
      row.failed += load.failed
      console.error(`N=${n}: ${load.singleMsgsPerS.toFixed(1)} msgs/s one tenant, ${load.roundRobinMsgsPerS.toFixed(1)} round-robin`)
    }
    if (n <= SKIP_WARM_ABOVE) {
      const all = Array.from({ length: n }, (_, i) => i)
      const w0 = performance.now()
      row.failed += await sendAll(server.port, all)
      row.allWarmS = (performance.now() - w0) / 1000
      await settle(2000)
      row.rssAllWarmMb = rssMb(server)
      await server.stop()
      row.budget = Math.max(10, Math.floor(n / 10))
      const budgeted = await configFor({ maxWarm: row.budget, memoryBudgetMb: 0 })
      const limited = await startServer({ name: `imprint-${n}-budget`, args: [MAIN, "serve", "--config", budgeted], cwd: ROOT })
      row.failed += await sendAll(limited.port, all)
      await settle(2000)
      row.rssBudgetMb = rssMb(limited)
      await limited.stop()
      console.error(`N=${n}: all warm ${row.rssAllWarmMb.toFixed(0)} MB (${row.allWarmS.toFixed(0)} s), budget ${row.budget}: ${row.rssBudgetMb.toFixed(0)} MB`)
    } else {
      await server.stop()
    }
    return row
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const main = async () => {
  const sink = await startServer({ name: "sink", args: [path.join(ROOT, "dist", "perf", "Sink.js")], ipc: true, cwd: ROOT, env: { PERF_EARLY_TALKER_MS: "0" } })
  const rows: Array<Row> = []
  try {
    for (const n of SIZES) rows.push(await measure(n, sink.port))
  } finally {
    await sink.stop()
    killAllChildren()
  }
  const f = (x: number | undefined, d = 0) =>
    x === undefined || Number.isNaN(x) ? "–" : x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d })
  const lines = [
    `| tenants | batch import | per tenant | one more tenant (single import) | old check read (all tenants decoded) | serve start | RSS idle | first message cold / warm | msgs/s one tenant / round-robin | RSS all warm | RSS, maxWarm = N/10 |`,
    `|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|`,
    ...rows.map(
      (r) =>
        `| ${f(r.n)} | ${f(r.importS, 1)} s | ${f(r.importMsPerTenant, 1)} ms | ${f(r.singleMs, 1)} ms | ${f(r.oldCheckReadMs, 1)} ms | ${f(r.startMs)} ms | ${f(r.rssIdleMb)} MB | ${f(r.coldMs, 1)} / ${f(r.warmMs, 1)} ms | ${r.singleMsgsPerS === undefined ? "skipped" : `${f(r.singleMsgsPerS, 1)} / ${f(r.roundRobinMsgsPerS, 1)} (${f((100 * r.roundRobinMsgsPerS!) / r.singleMsgsPerS, 0)} %)`} | ${r.rssAllWarmMb === undefined ? "skipped" : `${f(r.rssAllWarmMb)} MB`} | ${r.rssBudgetMb === undefined ? "skipped" : `${f(r.rssBudgetMb)} MB (${f(r.budget)} warm)`} |`
    )
  ]
  console.log(lines.join("\n"))
  const out = resultsDir(ROOT)
  mkdirSync(out, { recursive: true })
  const stamp = `${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}Z`
  writeFileSync(path.join(out, `tenants-${stamp}.json`), JSON.stringify({ users: USERS, sample: SAMPLE, singleImports: SINGLE_IMPORTS, rows }, null, 2))
  writeFileSync(
    path.join(out, `tenants-${stamp}.md`),
    `${lines.join("\n")}\n\n${USERS} users per tenant; failed sends: ${rows.map((r) => r.failed).join(", ")}\n`
  )
  console.log(`written ${path.relative(ROOT, path.join(out, `tenants-${stamp}.md`))}`)
}

main().catch((e) => {
  console.error(e)
  killAllChildren()
  process.exitCode = 1
})
