/**
 * `npm run build:perf && node dist/perf/ResolveBench.js [--runs N] [--calls N] [--users N]`
 *
 * Resolve + render throughput of the signature engine through a tenant actor
 * (mailbox, Deferred reply, LMDB directory lookup, render cache), for a sender
 * whose signature is cached and for a different sender on every call (always a
 * cache miss: more distinct users than the cache holds). The same two cases
 * through the pure resolveSignature (users decoded beforehand, no actor, no
 * LMDB) run in the same process, interleaved run by run, as the baseline.
 * Medians over the runs; writes perf/results/resolve-<timestamp>.json and
 * prints a table. A benchmark, not a test: nothing is asserted.
 */
import { resultsDir } from "./ResultsDir.js"
import { Effect, Either, Layer, Option, Schema } from "effect"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as TenantActor from "../src/actors/TenantActor.js"
import { DirectoryUser } from "../src/domain/Directory.js"
import { SignatureSettings } from "../src/domain/Rule.js"
import { HeaderSummary, MessageEnvelope, type SignatureElement } from "../src/domain/Signature.js"
import { TenantFile } from "../src/domain/TenantFile.js"
import type { TenantId } from "../src/domain/Tenant.js"
import { demoDirectory, demoRules, demoTemplates } from "../src/signature/DemoContent.js"
import { RenderCache, RENDER_CACHE_CAPACITY } from "../src/signature/RenderCache.js"
import { resolveSignature } from "../src/signature/SignatureResolver.js"
import { compileTemplate, type CompiledTemplate } from "../src/signature/TemplateEngine.js"
import { Store, StorePath } from "../src/store/Store.js"
import { TenantRepo } from "../src/store/TenantRepo.js"
import { tenantImport } from "../src/actors/TenantImport.js"

const flag = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}
const RUNS = flag("runs", 5)
const CALLS = flag("calls", 5_000)
/** more than the render cache holds, so cycling through them misses every time */
const USERS = Math.max(flag("users", 20_000), RENDER_CACHE_CAPACITY * 4)
const WARMUP_CALLS = 1_000
const TENANT = "bench" as TenantId
const DOMAIN = "bench.example"

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")

/** The demo templates and rules over a generated directory shaped like the demo's entries. */
const tenantFile = () => {
  const template = demoDirectory[0]
  const directory = Array.from({ length: USERS }, (_, i) => ({
    ...template,
    mail: `user${i}@${DOMAIN}`,
    displayName: `User ${i}`,
    mobile: `+44 7700 ${String(900000 + (i % 100000)).padStart(6, "0")}`,
    proxyAddresses: [`SMTP:user${i}@${DOMAIN}`, `smtp:u${i}@${DOMAIN}`]
  }))
  return { id: TENANT, name: "Bench", domains: [DOMAIN], connectors: [], templates: demoTemplates, rules: demoRules, directory, settings: {} }
}

const RCPT = [`colleague@${DOMAIN}`, "customer@customer.example"]
const header = new HeaderSummary({ subject: "Quote for next year", contentType: "text/html" })
const senderOf = (i: number) => `user${i % USERS}@${DOMAIN}`

interface Sample {
  readonly case: string
  readonly opsPerSec: number
  readonly microsPerOp: number
}

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

const timed = (name: string, calls: number, body: Effect.Effect<void>) =>
  Effect.gen(function* () {
    const start = performance.now()
    yield* body
    const ms = performance.now() - start
    return { case: name, opsPerSec: (calls / ms) * 1000, microsPerOp: (ms * 1000) / calls } satisfies Sample
  })

const program = Effect.gen(function* () {
  const repo = yield* TenantRepo
  const importStart = performance.now()
  yield* tenantImport(repo).importTenant(tenantFile())
  const importMs = performance.now() - importStart
  const actor = yield* TenantActor.make(TENANT)

  // the baseline's inputs, prepared outside the timing: compiled templates and decoded users
  const decoded = Schema.decodeUnknownSync(TenantFile)(tenantFile())
  const templates = new Map<string, CompiledTemplate>(decoded.templates!.map((t) => [t.id, Either.getOrThrow(compileTemplate(t))]))
  const users = decoded.directory!.map((u) => new DirectoryUser(u))
  const pure = (user: DirectoryUser, cache: RenderCache<SignatureElement> | undefined) =>
    resolveSignature({
      rules: decoded.rules!,
      templates,
      user: Option.some(user),
      envelope: { mailFrom: user.mail, rcptTo: RCPT },
      header,
      tenantDomains: decoded.domains,
      settings: new SignatureSettings({}),
      now: Date.now(),
      ...(cache ? { cache } : {})
    })
  const pureCache = new RenderCache<SignatureElement>()

  let next = 0 // distinct senders across all runs of the uncached cases
  const cases: ReadonlyArray<readonly [string, (calls: number) => Effect.Effect<void>]> = [
    [
      "actor, cached sender",
      (calls) =>
        Effect.repeatN(actor.resolveSignature(new MessageEnvelope({ mailFrom: senderOf(0), rcptTo: RCPT }), header), calls - 1).pipe(
          Effect.orDie,
          Effect.asVoid
        )
    ],
    [
      "actor, uncached sender",
      (calls) =>
        Effect.suspend(() => actor.resolveSignature(new MessageEnvelope({ mailFrom: senderOf(next++), rcptTo: RCPT }), header)).pipe(
          Effect.repeatN(calls - 1),
          Effect.orDie,
          Effect.asVoid
        )
    ],
    ["actor, GetRelayState (mailbox round trip)", (calls) => Effect.repeatN(actor.relayState, calls - 1).pipe(Effect.orDie, Effect.asVoid)],
    ["actor, LookupUser (recent sender)", (calls) => Effect.repeatN(actor.lookupUser(senderOf(0)), calls - 1).pipe(Effect.orDie, Effect.asVoid)],
    [
      "pure, cached sender (baseline)",
      (calls) =>
        Effect.sync(() => {
          for (let i = 0; i < calls; i++) pure(users[0], pureCache)
        })
    ],
    [
      "pure, uncached sender (baseline)",
      (calls) =>
        Effect.sync(() => {
          for (let i = 0; i < calls; i++) pure(users[next++ % USERS], undefined)
        })
    ]
  ]

  for (const [, run] of cases) yield* run(WARMUP_CALLS)
  const samples: Array<Sample> = []
  for (let r = 0; r < RUNS; r++) {
    for (const [name, run] of cases) samples.push(yield* timed(name, CALLS, run(CALLS)))
  }
  const stats = yield* actor.renderCacheStats
  return { importMs, samples, stats, names: cases.map(([n]) => n) }
})

const main = async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "imprint-resolve-bench-"))
  try {
    const layer = Layer.mergeAll(TenantRepo.Default, Store.Default).pipe(Layer.provide(Layer.succeed(StorePath, dir)))
    const { importMs, samples, stats, names } = await Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(layer)))
    const rows = names.map((name) => {
      const mine = samples.filter((s) => s.case === name)
      return {
        case: name,
        runs: mine.length,
        medianOpsPerSec: Math.round(median(mine.map((s) => s.opsPerSec))),
        medianMicrosPerOp: +median(mine.map((s) => s.microsPerOp)).toFixed(1)
      }
    })
    const result = {
      bench: "resolve",
      at: new Date().toISOString(),
      node: process.version,
      cpu: os.cpus()[0]?.model,
      users: USERS,
      callsPerRun: CALLS,
      runs: RUNS,
      recipients: RCPT,
      importMs: Math.round(importMs),
      actorRenderCache: stats,
      rows,
      samples
    }
    const out = resultsDir(ROOT)
    mkdirSync(out, { recursive: true })
    const file = path.join(out, `resolve-${result.at.replace(/:/g, "-").replace(/\.\d+Z$/, "Z")}.json`)
    writeFileSync(file, JSON.stringify(result, null, 2) + "\n")
    console.log(`resolve + render, ${USERS} users, ${CALLS} calls x ${RUNS} runs, 2 recipients (internal + external), import ${Math.round(importMs)} ms`)
    console.log(`${"case".padEnd(42)} ${"ops/s".padStart(10)} ${"µs/op".padStart(9)}`)
    for (const r of rows) console.log(`${r.case.padEnd(42)} ${String(r.medianOpsPerSec).padStart(10)} ${String(r.medianMicrosPerOp).padStart(9)}`)
    console.log(`actor render cache: ${stats.hits} hits, ${stats.misses} misses; written ${path.relative(ROOT, file)}`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
