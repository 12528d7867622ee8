/**
 * `npm run perf:auth [-- --batches N] [--messages N] [--baseline FILE]`
 *
 * What SMTP AUTH costs per connection (issue 21.3), measured as the relay
 * process's CPU per message with a new connection per message (10 KB, no
 * stamping, 10 sessions): one Imprint process, one tenant with two connectors,
 * so the modes differ only in how the session binds —
 *
 *   cidr       from 127.0.0.2, bound by its range, no TLS
 *   cidr+tls   from 127.0.0.2, bound by its range, STARTTLS
 *   auth+tls   from 127.0.0.1, STARTTLS, AUTH PLAIN (the auth cache answers after the first login)
 *
 * The modes take turns batch by batch (reversed every other batch) after a
 * warm-up; the report gives the medians and "auth+tls − cidr+tls", the CPU
 * AUTH adds per connection. `--baseline FILE`: another build's
 * dist/src/main.js (e.g. before the auth cache), started beside this one with
 * the same tenant, adds "auth+tls@baseline" to the turns. Written to
 * perf/results/auth-<timestamp>.json. A benchmark, not a test: nothing is asserted.
 */
import { execFile } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { killAllChildren, startServer } from "./Child.js"
import { freePort } from "./FreePort.js"
import { runLoad, type LoadOptions } from "./LoadGenerator.js"
import { PERF_DOMAIN, PERF_SENDER } from "./Messages.js"
import { ROOT } from "./Targets.js"

const option = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? undefined : process.argv[i + 1]
}
const BATCHES = Number(option("batches") ?? 5)
const MESSAGES = Number(option("messages") ?? 300)
const WARMUP_MESSAGES = 400
const SESSIONS = 10
const BATCH_MAX_MS = 120_000
const IMPORT_TIMEOUT_MS = 60_000
const MAIN = path.join(ROOT, "dist", "src", "main.js")
const BASELINE = option("baseline") === undefined ? undefined : path.resolve(option("baseline") as string)
const LOGIN = { user: "perf-relay", pass: "perf-Relay-password-1" }

type Mode = "cidr" | "cidr+tls" | "auth+tls" | "auth+tls@baseline"
const MODES: ReadonlyArray<Mode> = ["cidr", "cidr+tls", "auth+tls", ...(BASELINE === undefined ? [] : ["auth+tls@baseline" as const])]
const modeOptions: Record<Mode, Partial<LoadOptions>> = {
  cidr: { localAddress: "127.0.0.2" },
  "cidr+tls": { localAddress: "127.0.0.2", starttls: true },
  "auth+tls": { localAddress: "127.0.0.1", login: LOGIN },
  "auth+tls@baseline": { localAddress: "127.0.0.1", login: LOGIN }
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const run = (args: ReadonlyArray<string>): Promise<void> =>
  new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: ROOT, timeout: IMPORT_TIMEOUT_MS }, (err, _out, stderr) =>
      err ? reject(new Error(`${args.slice(1, 3).join(" ")} failed: ${err.message} ${stderr.slice(-500)}`)) : resolve()
    )
  })

const main = async () => {
  const sink = await startServer({ name: "sink", args: [path.join(ROOT, "dist", "perf", "Sink.js")], ipc: true, cwd: ROOT, env: { PERF_EARLY_TALKER_MS: "0" } })
  const dir = mkdtempSync(path.join(tmpdir(), "imprint-perf-auth-"))
  const samples = new Map<Mode, Array<number>>(MODES.map((m) => [m, []]))
  try {
    const tenant = path.join(dir, "tenant.json")
    const prepare = async (name: string, main: string) => {
      const config = path.join(dir, `${name}.json`)
      writeFileSync(
        config,
        JSON.stringify({
          dataDir: path.join(dir, `data-${name}`),
          smtp: { host: "127.0.0.1", port: await freePort() },
          downstream: { host: "127.0.0.1", port: sink.port, tls: "none" },
          admin: { enabled: false }
        })
      )
      await run([main, "tenant", "import", tenant, "--config", config])
      return startServer({ name, args: [main, "serve", "--config", config], cwd: ROOT })
    }
    writeFileSync(
      tenant,
      JSON.stringify({
        id: "perf",
        name: "Perf",
        domains: [PERF_DOMAIN],
        connectors: [
          { type: "cidr", cidrs: ["127.0.0.2/32"] },
          { type: "auth", username: LOGIN.user, password: LOGIN.pass }
        ],
        directory: [{ mail: PERF_SENDER, displayName: "Alice Example" }]
      })
    )
    const relay = await prepare("imprint", MAIN)
    const baseline = BASELINE === undefined ? undefined : await prepare("baseline", BASELINE)
    const serverOf = (mode: Mode) => (mode === "auth+tls@baseline" ? baseline! : relay)
    const load = (mode: Mode, messages: number, runId: string) =>
      runLoad({ port: serverOf(mode).port, kind: "10k", concurrency: SESSIONS, pattern: "new", messages, maxMs: BATCH_MAX_MS, runId, ...modeOptions[mode] })
    for (const mode of MODES) {
      const warm = await load(mode, WARMUP_MESSAGES, `w-${mode}`)
      if (warm.ok === 0) throw new Error(`${mode}: nothing relayed in the warm-up: ${warm.errorSamples.join(" | ")}`)
    }
    for (let b = 0; b < BATCHES; b++) {
      for (const mode of b % 2 === 0 ? MODES : [...MODES].reverse()) {
        const stop = serverOf(mode).measure()
        const result = await load(mode, MESSAGES, `b${b}-${mode}`)
        const { cpuS } = stop()
        if (result.ok < MESSAGES) console.error(`${mode}: ${MESSAGES - result.ok} not relayed: ${result.errorSamples.join(" | ")}`)
        samples.get(mode)!.push((cpuS * 1000) / Math.max(1, result.ok))
      }
    }
    await relay.stop()
    await baseline?.stop()
  } finally {
    await sink.stop()
    killAllChildren()
    rmSync(dir, { recursive: true, force: true })
  }
  const rows = MODES.map((mode) => ({ mode, cpuMsPerMessage: median(samples.get(mode)!) }))
  const perBatch = samples.get("auth+tls")!.map((a, i) => a - samples.get("cidr+tls")![i])
  console.log(`| binding, new connection per 10 KB message | relay CPU ms per message (median of ${BATCHES} × ${MESSAGES}) |\n|---|--:|`)
  for (const r of rows) console.log(`| ${r.mode} | ${r.cpuMsPerMessage.toFixed(2)} |`)
  console.log(
    `AUTH adds ${median(perBatch).toFixed(2)} ms CPU per connection (auth+tls − cidr+tls, median of per-batch differences: ${perBatch.map((d) => d.toFixed(2)).join(" ")})`
  )
  const baselinePerBatch = BASELINE === undefined ? [] : samples.get("auth+tls@baseline")!.map((a, i) => a - samples.get("cidr+tls")![i])
  if (BASELINE !== undefined) {
    console.log(
      `baseline build: AUTH adds ${median(baselinePerBatch).toFixed(2)} ms CPU per connection (per batch: ${baselinePerBatch.map((d) => d.toFixed(2)).join(" ")})`
    )
  }
  const out = path.join(ROOT, "perf", "results")
  mkdirSync(out, { recursive: true })
  const file = path.join(out, `auth-${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}Z.json`)
  writeFileSync(
    file,
    JSON.stringify(
      {
        batches: BATCHES,
        messages: MESSAGES,
        sessions: SESSIONS,
        rows,
        authMinusCidrTlsPerBatch: perBatch,
        baseline: BASELINE,
        baselineAuthMinusCidrTlsPerBatch: baselinePerBatch,
        samples: Object.fromEntries(samples)
      },
      null,
      2
    )
  )
  console.log(`written ${path.relative(ROOT, file)}`)
}

main().catch((e) => {
  console.error(e)
  killAllChildren()
  process.exitCode = 1
})
