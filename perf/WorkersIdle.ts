/**
 * `npm run build:perf && node dist/perf/WorkersIdle.js [--baseline OTHER/dist/src/main.js] [--reps N] [--settle-ms N] [--record]`
 *
 * Idle VmRSS of `imprint serve` with `workers: 2`: the primary and each worker. Each repetition
 * runs `init` into a temp folder, gives its configuration free loopback ports (SMTP, admin API,
 * image listener) and `workers: 2`, starts `serve`, waits until both workers logged that they are
 * ready plus `--settle-ms` (8,000), reads /proc/<pid>/status of the primary and of its children
 * that run `serve`, and stops it. With `--baseline` the other build takes turns, the order
 * reversed every other repetition; medians per build. No mail is sent: what a process holds
 * for the modules it loaded. Writes `results/local/workers-idle-<timestamp>.json`
 * (`results/` with `--record`).
 */
import { execFileSync, spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { resultsDir } from "./ResultsDir.js"

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")
const option = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : undefined
}
const REPS = Number(option("reps") ?? 3)
const SETTLE_MS = Number(option("settle-ms") ?? 8_000)
const READY_TIMEOUT_MS = 60_000
const builds: Record<string, string> = { this: path.join(ROOT, "dist", "src", "main.js") }
if (option("baseline") !== undefined) builds.baseline = path.resolve(option("baseline")!)

interface Sample {
  readonly build: string
  readonly primaryMb: number
  readonly workersMb: ReadonlyArray<number>
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

const rssMb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN) / 1024

const serveChildren = (pid: number): Array<number> => {
  let out = ""
  try {
    out = execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" })
  } catch {
    return []
  }
  return out
    .split("\n")
    .filter((l) => l !== "")
    .map(Number)
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "utf8").includes("serve")
      } catch {
        return false
      }
    })
}

const once = async (build: string, main: string): Promise<Sample> => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "imprint-workers-idle-"))
  try {
    execFileSync(process.execPath, [main, "init", dir], { stdio: "ignore" })
    const file = path.join(dir, "imprint.json")
    const config = JSON.parse(readFileSync(file, "utf8"))
    config.dataDir = path.join(dir, "data")
    config.smtp.port = await freePort()
    config.admin.port = await freePort()
    if (config.images?.listen !== undefined) config.images.listen.port = await freePort()
    config.workers = 2
    writeFileSync(file, JSON.stringify(config, null, 2))
    const child = spawn(process.execPath, [main, "serve", "--config", file], { stdio: ["ignore", "pipe", "pipe"] })
    let log = ""
    child.stdout.on("data", (d: Buffer) => void (log += d.toString()))
    child.stderr.on("data", (d: Buffer) => void (log += d.toString()))
    try {
      const started = Date.now()
      while ((log.match(/worker \d+ ready/g) ?? []).length < 2) {
        if (child.exitCode !== null || Date.now() - started > READY_TIMEOUT_MS) throw new Error(`${build}: the workers did not start\n${log.slice(-2000)}`)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS))
      return { build, primaryMb: rssMb(child.pid!), workersMb: serveChildren(child.pid!).map(rssMb) }
    } finally {
      if (child.exitCode === null) {
        child.kill("SIGTERM")
        await new Promise((resolve) => child.once("exit", resolve))
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

const main = async (): Promise<void> => {
  const samples: Array<Sample> = []
  const names = Object.keys(builds)
  for (let rep = 0; rep < REPS; rep++) {
    for (const build of rep % 2 === 0 ? names : [...names].reverse()) {
      const sample = await once(build, builds[build])
      samples.push(sample)
      console.error(`${build} rep ${rep + 1}: primary ${sample.primaryMb.toFixed(1)} MB, workers ${sample.workersMb.map((w) => w.toFixed(1)).join(", ")} MB`)
    }
  }
  const summary = names.map((build) => {
    const mine = samples.filter((s) => s.build === build)
    return { build, main: builds[build], workerMedianMb: median(mine.flatMap((s) => s.workersMb)), primaryMedianMb: median(mine.map((s) => s.primaryMb)) }
  })
  for (const s of summary)
    console.log(`${s.build}: a worker's idle VmRSS median ${s.workerMedianMb.toFixed(1)} MB, the primary's ${s.primaryMedianMb.toFixed(1)} MB`)
  const dir = resultsDir(ROOT)
  mkdirSync(dir, { recursive: true })
  const stamp = new Date()
    .toISOString()
    .replace(/:/g, "-")
    .replace(/\.\d+Z$/, "Z")
  const out = path.join(dir, `workers-idle-${stamp}.json`)
  writeFileSync(out, JSON.stringify({ reps: REPS, settleMs: SETTLE_MS, summary, samples }, null, 2))
  console.error(`written ${path.relative(ROOT, out)}`)
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack : e)
  process.exit(1)
})
