/**
 * The four things a scenario is run against, all delivering to the same sink:
 *   (1) direct        load generator straight to the sink (the physical floor)
 *   (2) passthrough   smtp-server → nodemailer, no parsing (the library floor)
 *   (2b) passthrough-own  smtp-server → Imprint's own SmtpClient, MAIL/RCPT mirrored
 *   (3) imprint-plain Imprint relaying for a tenant without rules
 *   (4) imprint-stamp Imprint stamping: one rule, one template
 *   (4t) imprint-stamp-untraced  (4) with the message trace off (trace.enabled: false), for its cost
 * Imprint is driven only through its CLI (`dist/src/main.js tenant import`,
 * `serve --config`), the way an operator runs it.
 */
import { execFile } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { freePort } from "./FreePort.js"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { startServer, type Server } from "./Child.js"
import { PERF_DOMAIN, PERF_SENDER } from "./Messages.js"

export const TargetIds = ["direct", "passthrough", "passthrough-own", "imprint-plain", "imprint-stamp", "imprint-stamp-untraced"] as const
export type TargetId = (typeof TargetIds)[number]

/** text in the perf signature; the sink counts messages that contain it */
export const STAMP_MARKER = "PERFSIG7Q"

/** the repository root: this file runs as dist/perf/Targets.js */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")
/** PERF_IMPRINT_MAIN points the Imprint targets at another build (e.g. a stand-in to test the harness) */
const IMPRINT_MAIN = process.env.PERF_IMPRINT_MAIN ?? path.join(ROOT, "dist", "src", "main.js")
const IMPORT_TIMEOUT_MS = 60_000

/**
 * `run.js --cpu-prof <dir>` (or PERF_CPU_PROF_DIR): the relay processes write V8
 * CPU profiles there when they stop (open them in Chrome DevTools → Performance).
 */
const profiled = (args: ReadonlyArray<string>): ReadonlyArray<string> => {
  const dir = process.env.PERF_CPU_PROF_DIR
  return dir === undefined || dir === "" ? args : ["--cpu-prof", "--cpu-prof-dir", path.resolve(dir), ...args]
}

export interface Running {
  readonly port: number
  /** the process whose memory and CPU the run reports (the sink for "direct") */
  readonly measured: Server
  readonly stop: () => Promise<void>
}

export interface Target {
  readonly id: TargetId
  readonly label: string
  /** why this target cannot run here, or undefined */
  readonly unavailable: () => string | undefined
  readonly start: (sink: Server) => Promise<Running>
  /** removes what start() kept between runs (Imprint's data dir) */
  readonly dispose?: () => Promise<void>
}

const tenantFile = (stamping: boolean) => ({
  id: "perf",
  name: "Perf",
  domains: [PERF_DOMAIN],
  connectors: [{ type: "cidr", cidrs: ["127.0.0.0/8"] }],
  templates: stamping
    ? [
        {
          id: "perf-sig",
          name: "Perf signature",
          html:
            `<table cellpadding="0" cellspacing="0"><tr><td style="font-family:Arial,sans-serif;font-size:10pt">` +
            `<b>{{displayName}}</b><br>{{title}}, {{department}}<br>{{company}}<br>` +
            `Tel. {{telephoneNumber}} <span style="color:#ffffff">${STAMP_MARKER}</span></td></tr></table>`
        }
      ]
    : [],
  rules: stamping ? [{ id: "everyone", name: "Everyone", templateId: "perf-sig" }] : [],
  directory: [
    {
      mail: PERF_SENDER,
      displayName: "Alice Example",
      givenName: "Alice",
      sn: "Example",
      title: "Engineer",
      department: "Performance",
      company: "Perf Ltd",
      telephoneNumber: "+1 555 0100"
    }
  ]
})

const run = (args: ReadonlyArray<string>): Promise<void> =>
  new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: ROOT, timeout: IMPORT_TIMEOUT_MS }, (err, _out, stderr) =>
      err ? reject(new Error(`${args.slice(1, 3).join(" ")} failed: ${err.message} ${stderr.slice(-500)}`)) : resolve()
    )
  })

/** a provisioned data dir: tenant imported, TLS certificate generated on first serve */
interface Prepared {
  readonly dir: string
  readonly config: string
}

/** an Imprint target; `main` may be another build's dist/src/main.js (perf:cpu --baseline) */
export const imprintTarget = (
  id: TargetId,
  label: string,
  stamping: boolean,
  main: string = IMPRINT_MAIN,
  extraConfig: Record<string, unknown> = {},
  /** environment of the serve process (perf-only switches) */
  env: Record<string, string> = {}
): Target => {
  // One data dir per target for the whole benchmark: every run gets a fresh serve
  // process, but import and certificate generation (seconds) happen once.
  let prepared: Promise<Prepared> | undefined
  const prepare = async (sinkPort: number): Promise<Prepared> => {
    const dir = mkdtempSync(path.join(tmpdir(), `imprint-perf-${id}-`))
    const config = path.join(dir, "config.json")
    const tenant = path.join(dir, "tenant.json")
    writeFileSync(
      config,
      JSON.stringify(
        {
          dataDir: path.join(dir, "data"),
          smtp: { host: "127.0.0.1", port: await freePort() },
          downstream: { host: "127.0.0.1", port: sinkPort, tls: "none" },
          // two Imprint targets may run side by side; the admin API is not measured here
          admin: { enabled: false },
          ...extraConfig
        },
        null,
        2
      )
    )
    writeFileSync(tenant, JSON.stringify(tenantFile(stamping), null, 2))
    try {
      await run([main, "tenant", "import", tenant, "--config", config])
    } catch (e) {
      rmSync(dir, { recursive: true, force: true })
      throw e
    }
    return { dir, config }
  }
  return {
    id,
    label,
    unavailable: () => (existsSync(main) ? undefined : `${path.relative(ROOT, main)} is missing (the Imprint CLI is not built yet)`),
    start: async (sink) => {
      prepared ??= prepare(sink.port)
      const { config } = await prepared
      const flags = main === IMPRINT_MAIN ? (process.env.PERF_IMPRINT_NODE_FLAGS ?? "").split(" ").filter((f) => f !== "") : []
      const server = await startServer({ name: id, args: profiled([...flags, main, "serve", "--config", config]), cwd: ROOT, env })
      return { port: server.port, measured: server, stop: server.stop }
    },
    dispose: async () => {
      const p = await prepared?.catch(() => undefined)
      prepared = undefined
      if (p !== undefined) rmSync(p.dir, { recursive: true, force: true })
    }
  }
}

const OWN_CLIENT = path.join(ROOT, "dist", "src", "pipeline", "downstream", "SmtpClient.js")

const passThrough = (id: TargetId, label: string, client: "nodemailer" | "own"): Target => ({
  id,
  label,
  unavailable: () => (client === "own" && !existsSync(OWN_CLIENT) ? `${path.relative(ROOT, OWN_CLIENT)} is missing` : undefined),
  start: async (sink) => {
    const server = await startServer({
      name: id,
      args: profiled([path.join(ROOT, "dist", "perf", "PassThrough.js"), "--downstream", String(sink.port), "--client", client]),
      cwd: ROOT
    })
    return { port: server.port, measured: server, stop: server.stop }
  }
})

export const Targets: Record<TargetId, Target> = {
  direct: {
    id: "direct",
    label: "(1) direct to sink",
    unavailable: () => undefined,
    start: async (sink) => ({ port: sink.port, measured: sink, stop: async () => undefined })
  },
  passthrough: passThrough("passthrough", "(2) pass-through, nodemailer", "nodemailer"),
  "passthrough-own": passThrough("passthrough-own", "(2b) pass-through, Imprint's SmtpClient", "own"),
  "imprint-plain": imprintTarget("imprint-plain", "(3) Imprint, no stamping", false),
  "imprint-stamp": imprintTarget("imprint-stamp", "(4) Imprint, stamping", true),
  "imprint-stamp-untraced": imprintTarget("imprint-stamp-untraced", "(4t) Imprint, stamping, message trace off", true, IMPRINT_MAIN, {
    trace: { enabled: false }
  })
}
