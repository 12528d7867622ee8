/**
 * `imprint serve` from dist/ as a child process, for specs of what only a
 * real process shows (node:cluster workers, signals, exit codes): the CLI
 * prepares the data folder (`tenant import`, `admin token create`), the log
 * lines are parsed as they come, and mail goes through raw SMTP on loopback.
 * The worker that relayed a message is read from its "relayed" log line
 * (annotation `worker`), matched to the sink's copy by Message-ID.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as https from "node:https"
import * as os from "node:os"
import * as path from "node:path"
import { RawSmtp } from "./RawSmtp.js"
import { startSink, type Sink } from "./Sink.js"

export const ROOT = path.resolve(__dirname, "..", "..")
export const MAIN = path.join(ROOT, "dist", "src", "main.js")
/** every wait is a bounded poll of this period */
const POLL_MS = 100
const WAIT_MS = 30_000

export interface LogLine {
  readonly message: string
  readonly annotations: Record<string, unknown>
}

/** `node dist/src/main.js …`, its standard output */
export const runCli = (args: ReadonlyArray<string>) =>
  new Promise<string>((resolve, reject) =>
    execFile(process.execPath, [MAIN, ...args], { cwd: ROOT }, (err, stdout, stderr) =>
      err ? reject(new Error(`${args.join(" ")}: ${stderr}`)) : resolve(stdout)
    )
  )

/** the specs run from src/; node:cluster forks the built entry point, so dist/ must be current */
export const buildDist = () =>
  new Promise<void>((resolve, reject) =>
    execFile(path.join(ROOT, "node_modules", ".bin", "tsc"), ["-b", "tsconfig.build.json"], { cwd: ROOT }, (err, _o, stderr) =>
      err ? reject(new Error(stderr)) : resolve()
    )
  )

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** polls `f` until it returns a value (not undefined), bounded by WAIT_MS */
export const eventually = async <A>(what: string, f: () => A | undefined | Promise<A | undefined>): Promise<A> => {
  const deadline = Date.now() + WAIT_MS
  for (;;) {
    const a = await f()
    if (a !== undefined) return a
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(POLL_MS)
  }
}

export const testMessage = (id: string) =>
  [`From: Alice <alice@acme.example>`, `To: <someone@example.org>`, `Subject: workers ${id}`, `Message-ID: <${id}@acme.example>`, "", "Hello.", ""].join("\r\n")

export interface ServeProcess {
  readonly child: ChildProcess
  readonly lines: ReadonlyArray<LogLine>
  readonly port: number
  readonly adminPort: number
  readonly exit: Promise<{ code: number | null; signal: string | null }>
  /** one message on a new connection: the reply, the worker that relayed it, and what the sink got */
  readonly relayOne: () => Promise<{ reply: { code: number }; worker: number | undefined; body: string }>
  /** an admin API call with the operator token, trusting the certificate generated into dataDir */
  readonly adminCall: (method: string, route: string, body?: unknown) => Promise<{ status: number; text: string }>
  /** the pid of the worker in `slot` as its last "ready" line (from line `after` on) says */
  readonly workerPid: (slot: number, after?: number) => number | undefined
  /** SIGKILL to the primary and its workers (the failure path) */
  readonly kill: () => void
}

let counter = 0

/** Starts `imprint serve --config <config>` (one process, or a primary and its workers) and waits for the primary's listening line and its admin API. */
export const startServe = async (o: {
  readonly config: string
  readonly dataDir: string
  readonly workers: number
  readonly sink: Sink
}): Promise<ServeProcess> => {
  // the token is the one line that is not a log line (with `cluster`, the CLI also logs its NATS connection on stdout)
  const created = await runCli(["admin", "token", "create", "--name", "spec", "--config", o.config])
  const token =
    created
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("{"))
      .at(-1) ?? ""
  const child = spawn(process.execPath, [MAIN, "serve", "--config", o.config], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] })
  const exit = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })))
  const lines: Array<LogLine> = []
  let output = ""
  let partial = ""
  child.stdout!.on("data", (chunk: Buffer) => {
    partial += chunk.toString("utf8")
    const complete = partial.split("\n")
    partial = complete.pop()!
    for (const text of complete) {
      output += text + "\n"
      try {
        const parsed = JSON.parse(text) as { message: unknown; annotations?: Record<string, unknown> }
        lines.push({ message: String(parsed.message), annotations: parsed.annotations ?? {} })
      } catch {
        // not a log line
      }
    }
  })
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
  // one process (workers: 1) says where it listens without a worker count
  const listening = new RegExp(`^listening on 127\\.0\\.0\\.1:(\\d+)${o.workers > 1 ? ` \\(${o.workers} workers\\)` : ""}$`)
  const port = await eventually("the primary's listening line", () => {
    if (child.exitCode !== null) throw new Error(`imprint serve exited:\n${output}`)
    const m = lines.map((l) => listening.exec(l.message)).find((x) => x !== null)
    return m ? Number(m[1]) : undefined
  })
  const adminPort = await eventually("the admin API line", () => {
    const m = lines.map((l) => /admin API listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(l.message)).find((x) => x !== null)
    return m ? Number(m[1]) : undefined
  })
  const workerPid = (slot: number, after = 0) =>
    lines
      .slice(after)
      .filter((l) => l.message === `worker ${slot} ready on 127.0.0.1:${port}`)
      .map((l) => Number(l.annotations.pid))
      .at(-1)
  return {
    child,
    lines,
    port,
    adminPort,
    exit,
    workerPid,
    relayOne: async () => {
      const id = `w${++counter}-${Date.now()}`
      const c = await RawSmtp.connect(port)
      const reply = await c.send("alice@acme.example", ["someone@example.org"], testMessage(id))
      await c.quit()
      if (reply.code !== 250) return { reply, worker: undefined, body: "" }
      const line = await eventually(`the relayed line of ${id}`, () =>
        lines.find((l) => l.message === "relayed" && String(l.annotations.messageId).includes(id))
      )
      const body = o.sink.messages.find((m) => m.raw.toString("utf8").includes(`${id}@acme.example`))?.raw.toString("utf8") ?? ""
      return { reply, worker: Number(line.annotations.worker), body }
    },
    adminCall: (method, route, body) =>
      new Promise((resolve, reject) => {
        const payload = body === undefined ? undefined : JSON.stringify(body)
        const req = https.request(
          {
            host: "127.0.0.1",
            port: adminPort,
            path: route,
            method,
            ca: fs.readFileSync(path.join(o.dataDir, "tls", "self-signed.cert.pem")),
            headers: {
              authorization: `Bearer ${token}`,
              ...(payload === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) })
            }
          },
          (res) => {
            let text = ""
            res.on("data", (c: Buffer) => (text += c.toString("utf8")))
            res.on("end", () => resolve({ status: res.statusCode ?? 0, text }))
          }
        )
        req.on("error", reject)
        req.end(payload)
      }),
    kill: () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      for (let slot = 1; slot <= o.workers; slot++) {
        const pid = workerPid(slot)
        if (pid !== undefined)
          try {
            process.kill(pid, "SIGKILL")
          } catch {
            /* gone */
          }
      }
      child.kill("SIGKILL")
    }
  }
}

/** A node of `workers: N` for a spec: its folder, its sink, `imprint serve` running, one tenant (acme) imported. */
export interface WorkersNode {
  readonly dir: string
  readonly sink: Sink
  readonly serve: ServeProcess
  /** kills the node, closes the sink, removes the folder */
  readonly close: () => Promise<void>
}

/**
 * Builds dist/, writes imprint.json (`smtp` on top of the loopback defaults: port 0, no early-talker
 * wait; admin on port 0; the sink as downstream; no trace) and tenant acme with `connectors`,
 * imports it and starts `imprint serve`.
 */
export const startWorkersNode = async (o: {
  readonly name: string
  readonly workers: number
  readonly smtp: Record<string, unknown>
  readonly connectors: ReadonlyArray<Record<string, unknown>>
}): Promise<WorkersNode> => {
  await buildDist()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `imprint-${o.name}-`))
  const sink = await startSink({ starttls: false })
  const config = path.join(dir, "imprint.json")
  fs.writeFileSync(
    config,
    JSON.stringify({
      dataDir: path.join(dir, "data"),
      workers: o.workers,
      smtp: { host: "127.0.0.1", port: 0, name: "relay.test", earlyTalkerDelayMs: 0, ...o.smtp },
      admin: { host: "127.0.0.1", port: 0 },
      downstream: { host: "127.0.0.1", port: sink.port, tls: "none" },
      trace: { enabled: false }
    })
  )
  fs.writeFileSync(
    path.join(dir, "tenant.json"),
    JSON.stringify({
      id: "acme",
      name: "Acme",
      domains: ["acme.example"],
      connectors: o.connectors,
      templates: [{ id: "main", name: "Main", html: "<p>Sig</p>", text: "Sig" }],
      rules: [{ id: "everyone", name: "Everyone", templateId: "main" }]
    })
  )
  await runCli(["tenant", "import", path.join(dir, "tenant.json"), "--config", config])
  const serve = await startServe({ config, dataDir: path.join(dir, "data"), workers: o.workers, sink })
  return {
    dir,
    sink,
    serve,
    close: async () => {
      serve.kill()
      await sink.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}
