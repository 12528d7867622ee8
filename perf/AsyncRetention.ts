/**
 * `npm run build:perf && node dist/perf/AsyncRetention.js [--iterations N] [--record]`
 *
 * No Imprint code: what an Effect fiber's wait keeps from the young generation's collector
 * (perf/issue-16.md, "the eighth session"). A long-lived `Effect.gen` loop; each iteration builds
 * a 200-object graph and waits on one effect, in several forms: a `map`, `sync` or `flatMap` whose
 * closure sees the graph, an `Effect.async` (resumed at once) whose register closure does or does
 * not see it (or sees a box it empties), a bare `Async` primitive, a closure assigned straight to a property
 * or bound to a local first, and a plain `await` for comparison. Each form runs in a
 * child process of its own under `--trace-gc-nvp`, with and without V8's allocation-site
 * pretenuring; the table gives µs per iteration, bytes promoted by scavenges and mark-compacts.
 * The cause (perf/issue-16.md, "the ninth session"): V8's parser allocates a function literal assigned
 * straight to a property in the old generation, and effect's `Effect.async` did that with its resume
 * wrapper, whose context reaches the register; a dead old closure keeps what it reaches through scavenges.
 * patches/apply.mjs "effect-young-closures" fixes effect's; run this against an unpatched install to see it.
 * Writes perf/results/local/async-retention-<timestamp>.json (perf/results/ with --record).
 * A benchmark, not a test: nothing is asserted.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { resultsDir } from "./ResultsDir.js"

const argument = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : undefined
}
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")
const ITERATIONS = Number(argument("iterations") ?? 20_000)

type Graph = ReadonlyArray<{ readonly i: number; readonly s: string; readonly b: ReadonlyArray<number> }>
const graph = (): Graph => Array.from({ length: 200 }, (_, i) => ({ i, s: `x${i}`, b: new Array<number>(8).fill(i) }))

/** an effect primitive with opcode "Async", as core.unsafeAsync makes it, without the interrupt handler */
const bareAsync = (register: (resume: (e: Effect.Effect<number>) => void) => void): Effect.Effect<number> => {
  const Primitive = (Effect.void as unknown as { constructor: new (op: string) => Record<string, unknown> }).constructor
  const op = new Primitive("Async")
  op.effect_instruction_i0 = register
  op.effect_instruction_i1 = undefined
  return op as unknown as Effect.Effect<number>
}

// each form in a function of its own, so no closure shares a context that holds the graph by accident
const forms: Record<string, (g: Graph) => Effect.Effect<number>> = {
  "map sees it": (g) => Effect.map(Effect.void, () => g.length),
  "sync sees it": (g) => Effect.sync(() => g.length),
  "flatMap sees it": (g) => Effect.flatMap(Effect.void, () => Effect.succeed(g.length)),
  "async, register does not see it": (g) => {
    const n = g.length
    return Effect.async<number>((resume) => resume(Effect.succeed(n)))
  },
  "async, register sees it": (g) => Effect.async<number>((resume) => resume(Effect.succeed(g.length))),
  "async, register sees a box it empties": (g) => {
    const box: { g: Graph | undefined } = { g }
    return Effect.async<number>((resume) => {
      const n = box.g?.length ?? 0
      box.g = undefined
      resume(Effect.succeed(n))
    })
  },
  "bare Async primitive sees it": (g) => bareAsync((resume) => resume(Effect.succeed(g.length))),
  // the cause (V8's parser): a function literal assigned straight to a property is allocated in the old generation
  "sync, its closure assigned straight to a property": (g) => {
    const holder: { f?: () => number } = {}
    holder.f = () => g.length
    return Effect.sync(holder.f)
  },
  "sync, its closure bound to a local first": (g) => {
    const holder: { f?: () => number } = {}
    const f = () => g.length
    holder.f = f
    return Effect.sync(holder.f)
  }
}
const PLAIN = "plain await of a setImmediate Promise"

const child = async (form: string): Promise<void> => {
  const started = process.hrtime.bigint()
  let total = 0
  if (form === PLAIN) {
    for (let i = 0; i < ITERATIONS; i++) {
      const g = graph()
      total += await new Promise<number>((resolve) => setImmediate(() => resolve(g.length)))
    }
  } else {
    const step = forms[form]!
    await Effect.runPromise(
      Effect.gen(function* () {
        for (let i = 0; i < ITERATIONS; i++) total += yield* step(graph())
      })
    )
  }
  const us = Number(process.hrtime.bigint() - started) / 1000 / ITERATIONS
  process.stderr.write(`RESULT ${JSON.stringify({ us, total })}\n`)
}

interface Row {
  readonly form: string
  readonly pretenuring: boolean
  readonly usPerIteration: number
  readonly promotedMB: number
  readonly scavenges: number
  readonly markCompacts: number
}

const measure = (form: string, pretenuring: boolean): Row => {
  const flags = ["--trace-gc-nvp", ...(pretenuring ? [] : ["--no-allocation-site-pretenuring"])]
  const run = spawnSync(process.execPath, [...flags, fileURLToPath(import.meta.url), "--child", form, "--iterations", String(ITERATIONS)], {
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024
  })
  const result = /RESULT (.*)/.exec(run.stderr)
  if (result === null) throw new Error(`${form}: the child printed no result (${run.stderr.slice(0, 500)})`)
  let promoted = 0
  let scavenges = 0
  let markCompacts = 0
  for (const line of run.stdout.split("\n")) {
    if (line.includes("gc=s ")) {
      scavenges++
      promoted += Number(/promoted=(\d+)/.exec(line)?.[1] ?? 0)
    } else if (/gc=m[cs] /.test(line)) markCompacts++
  }
  return { form, pretenuring, usPerIteration: (JSON.parse(result[1]!) as { us: number }).us, promotedMB: promoted / 1e6, scavenges, markCompacts }
}

const main = (): void => {
  const rows = [...Object.keys(forms), PLAIN].flatMap((form) => [measure(form, true), measure(form, false)])
  const lines = [
    `| the iteration waits on | pretenuring | µs per iteration | promoted MB | scavenges | mark-compacts |`,
    `|---|---|--:|--:|--:|--:|`,
    ...rows.map(
      (r) =>
        `| ${r.form} | ${r.pretenuring ? "on" : "off"} | ${r.usPerIteration.toFixed(1)} | ${r.promotedMB.toFixed(1)} | ${r.scavenges} | ${r.markCompacts} |`
    )
  ]
  console.log(lines.join("\n"))
  const dir = resultsDir(ROOT)
  mkdirSync(dir, { recursive: true })
  const file = path.join(dir, `async-retention-${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}Z.json`)
  writeFileSync(file, JSON.stringify({ iterations: ITERATIONS, node: process.version, rows }, null, 2))
  console.log(`written ${path.relative(ROOT, file)}`)
}

const form = argument("child")
if (form !== undefined) await child(form)
else main()
