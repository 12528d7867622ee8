/**
 * The README's Quick start, Admin walkthrough included, run as written: every
 * command of every ```sh block of that section is read from README.md itself
 * and executed with bash from the repository root, in order, so the README
 * cannot drift from the code. `npm start` runs the demo for real (build included).
 *
 * What differs from a person at a terminal, and only this:
 *  - the demo's folders are a scratch folder (IMPRINT_DATA_DIR, IMPRINT_CAPTURE_DIR)
 *    and its ports are chosen by the system (IMPRINT_SMTP_PORT=0,
 *    IMPRINT_ADMIN_PORT=0), so the commands get `var/data/`, `var/outbox/`, 2525 and
 *    8443 replaced by those;
 *  - shell variables a command sets (TOKEN=$(…)) are passed to the later commands;
 *  - `npm ci` and `npm test` are not run (.ci/run ran the first on this fresh clone,
 *    the second is what is running this); swaks runs only where it is installed.
 * Every other command must have a check below; a new README command without one fails.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const ROOT = path.resolve(import.meta.dirname, "..", "..")
const SECTION = "## Quick start"
/** a first start compiles src/ on a busy machine; bounded, never waited for forever */
const START_TIMEOUT_MS = 480_000
const COMMAND_TIMEOUT_MS = 120_000
const STOP_TIMEOUT_MS = 30_000

/** The ```sh blocks of a section, its subsections included; headings inside code blocks are not headings. */
export const sectionBlocks = (markdown: string, heading: string): string[] => {
  const level = heading.indexOf(" ")
  const blocks: string[] = []
  let inSection = false
  let block: string[] | undefined
  let fence = false
  for (const line of markdown.split("\n")) {
    if (line.startsWith("```")) {
      if (!fence && inSection && line.trim() === "```sh") block = []
      else if (fence && block !== undefined) {
        blocks.push(block.join("\n"))
        block = undefined
      }
      fence = !fence
      continue
    }
    if (fence) {
      block?.push(line)
      continue
    }
    const m = /^(#+) /.exec(line)
    if (m) {
      if (line.trim() === heading) inSection = true
      else if (inSection && m[1].length <= level) inSection = false
    }
  }
  return blocks
}

/** A block's commands: continuation lines joined, blank lines dropped. */
export const blockCommands = (block: string): string[] =>
  block
    .replace(/\\\n\s*/g, "")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "")

interface Demo {
  readonly child: ChildProcess
  readonly output: () => string
  readonly smtpPort: number
  readonly adminPort: number
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "imprint-readme-"))
const dataDir = path.join(scratch, "data")
const outbox = path.join(scratch, "outbox")
const env: Record<string, string> = {
  ...(process.env as Record<string, string>),
  IMPRINT_DATA_DIR: dataDir,
  IMPRINT_CAPTURE_DIR: outbox,
  IMPRINT_SMTP_PORT: "0",
  IMPRINT_ADMIN_PORT: "0"
}
const vars: Record<string, string> = {}
let demo: Demo | undefined

const withoutComment = (command: string) => command.replace(/\s+#[^'"]*$/, "")

const substitute = (command: string): string => {
  if (demo === undefined) throw new Error(`"${command}" needs the demo running: the README runs npm start first`)
  return command
    .replaceAll("var/data/", `${dataDir}/`)
    .replaceAll("var/outbox/", `${outbox}/`)
    .replaceAll("127.0.0.1:8443", `127.0.0.1:${demo.adminPort}`)
    .replaceAll("127.0.0.1:2525", `127.0.0.1:${demo.smtpPort}`)
    .replaceAll("--port 2525", `--port ${demo.smtpPort}`)
}

/** Runs a program without blocking this worker (a blocked worker misses vitest's calls); bounded by a timeout. */
const exec = (file: string, args: ReadonlyArray<string>, extraEnv: Record<string, string>, cwd = ROOT) =>
  new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(file, args, { cwd, env: { ...env, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")))
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")))
    const timer = setTimeout(() => child.kill("SIGKILL"), COMMAND_TIMEOUT_MS)
    child.on("close", (status) => {
      clearTimeout(timer)
      resolve({ status, stdout, stderr })
    })
  })

/** One command in bash (`set -euo pipefail`), with the variables earlier commands set; the ones it sets are kept. */
const runCommand = async (command: string): Promise<string> => {
  const assigned = [...command.matchAll(/(?:^|;|&&)\s*([A-Z_][A-Z0-9_]*)=/g)].map((m) => m[1])
  const keep = assigned.map((name) => `printf '%s' "$${name}" > ${JSON.stringify(path.join(scratch, `var-${name}`))}`)
  const result = await exec("bash", ["-c", ["set -euo pipefail", substitute(command), ...keep].join("\n")], vars)
  if (result.status !== 0) throw new Error(`README command failed (exit ${result.status}): ${command}\n${result.stdout}${result.stderr}`)
  for (const name of assigned) vars[name] = fs.readFileSync(path.join(scratch, `var-${name}`), "utf8")
  return result.stdout
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** `npm start …` in the background, as a terminal would hold it; resolves at the demo's banner. */
const startDemo = async (command: string): Promise<Demo> => {
  const child = spawn("bash", ["-c", command], { cwd: ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] })
  let output = ""
  child.stdout!.on("data", (c: Buffer) => (output += c.toString("utf8")))
  child.stderr!.on("data", (c: Buffer) => (output += c.toString("utf8")))
  const deadline = Date.now() + START_TIMEOUT_MS
  while (!/^Stop with Ctrl-C\.$/m.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      if (child.exitCode === null) process.kill(-child.pid!, "SIGKILL")
      throw new Error(`${command} did not start the demo:\n${output}`)
    }
    await sleep(200)
  }
  const smtpPort = Number(/^Imprint demo: relaying for tenant "demo" \(domain demo\.example\) on 127\.0\.0\.1:(\d+)$/m.exec(output)?.[1])
  const adminPort = Number(/^Admin API: https:\/\/127\.0\.0\.1:(\d+)\//m.exec(output)?.[1])
  expect(smtpPort).toBeGreaterThan(0)
  expect(adminPort).toBeGreaterThan(0)
  return { child, output: () => output, smtpPort, adminPort }
}

/** Ctrl-C: SIGINT to the process group (npm and the relay under it); the relay shuts down gracefully. */
const stopDemo = async () => {
  const running = demo
  demo = undefined
  if (running === undefined || running.child.exitCode !== null) return
  const exited = new Promise<void>((resolve) => running.child.once("exit", () => resolve()))
  process.kill(-running.child.pid!, "SIGINT")
  const deadline = Date.now() + STOP_TIMEOUT_MS
  while (running.child.exitCode === null && running.child.signalCode === null && Date.now() < deadline) await sleep(100)
  if (running.child.exitCode === null && running.child.signalCode === null) process.kill(-running.child.pid!, "SIGKILL")
  await exited
}

const newestMessage = () => {
  const files = fs
    .readdirSync(outbox)
    .filter((f) => f.endsWith(".eml"))
    .sort()
  return fs.readFileSync(path.join(outbox, files[files.length - 1]), "utf8")
}

const hasTool = async (name: string) => (await exec("bash", ["-c", `command -v ${name}`], {})).status === 0

type Check = (stdout: string) => void | Promise<void>

/** The check of every README command, by what the command is. */
const CHECKS: ReadonlyArray<readonly [RegExp, Check]> = [
  [/send-sample --port/, (out) => expect(out).toMatch(/^250 2\.6\.0 relayed/m)],
  [/^ls var\/outbox\/$/, (out) => expect(out).toMatch(/\.eml$/m)],
  [/^swaks /, (out) => expect(out).toMatch(/250 2\.6\.0 relayed/)],
  [/^TOKEN=\$\(node dist\/src\/main\.js admin token create/, () => expect(vars.TOKEN).toMatch(/^imp_op_[\w-]{43}$/)],
  [/\/tenants$/, (out) => expect(JSON.parse(out)).toEqual(expect.arrayContaining([expect.objectContaining({ id: "demo", domains: ["demo.example"] })]))],
  [/\/tenants\/demo\/users$/, (out) => expect(JSON.parse(out)).toMatchObject({ email: "alice@demo.example", role: "owner" })],
  [/^ATTEMPT=/, () => expect(vars.ATTEMPT).toMatch(/^[\w-]{8,}$/)],
  [/^CODE=/, () => expect(vars.CODE).toMatch(/^\d{6}$/)],
  [/^SESSION=/, () => expect(vars.SESSION).toMatch(/^imp_ses_/)],
  [/\/auth\/me$/, (out) => expect(JSON.parse(out)).toMatchObject({ tenantId: "demo", role: "owner", label: "alice@demo.example" })],
  [/-X PATCH .*\/templates\/standard$/, (out) => expect(JSON.parse(out)).toMatchObject({ template: { id: "standard", version: 2 }, removed: [] })],
  [/^grep -c 'Changed through the admin API'/, (out) => expect(Number(out.trim())).toBeGreaterThanOrEqual(1)]
]

const SKIPPED: ReadonlyArray<readonly [RegExp, string]> = [
  [/^npm test$/, "the suite running this"],
  [/^swaks /, "swaks is not installed here"]
]

afterAll(async () => {
  await stopDemo()
  fs.rmSync(scratch, { recursive: true, force: true })
})

describe("README: Quick start and Admin walkthrough", () => {
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8")
  const commands = sectionBlocks(readme, SECTION).flatMap(blockCommands).map(withoutComment)

  beforeAll(async () => {
    for (const tool of ["curl", "jq"]) if (!(await hasTool(tool))) throw new Error(`the README walkthrough uses ${tool}: install it`)
  })

  it("has the commands a new operator is told to run", () => {
    expect(commands[0]).toBe("npm ci && npm start")
    expect(commands).toContain("npm start -- --reset")
    expect(commands.length).toBeGreaterThan(10)
  })

  it("runs every command as written and each does what the README says", { timeout: 3 * START_TIMEOUT_MS }, async () => {
    const ran: string[] = []
    const skipped: string[] = []
    for (const command of commands) {
      if (command === "npm ci && npm start") {
        // npm ci: .ci/run installed this clone a moment ago
        demo = await startDemo("npm start")
        expect(demo.output()).toContain("The demo tenant was imported (first start).")
        ran.push(command)
        continue
      }
      if (command === "npm start -- --reset") {
        // first a plain restart (Ctrl-C, npm start): the walkthrough's template change survives it
        await stopDemo()
        demo = await startDemo("npm start")
        expect(demo.output()).toContain("The demo tenant is kept as you left it")
        expect(await runCommand("node dist/src/main.js send-sample --port 2525")).toMatch(/^250 2\.6\.0/m)
        expect(newestMessage()).toContain("Changed through the admin API")
        // then the README's line: the demo tenant as shipped
        await stopDemo()
        demo = await startDemo(command)
        expect(demo.output()).toContain("The demo tenant was restored (--reset).")
        expect(await runCommand("node dist/src/main.js send-sample --port 2525")).toMatch(/^250 2\.6\.0/m)
        expect(newestMessage()).not.toContain("Changed through the admin API")
        expect(newestMessage()).toContain("Head of Customer Success")
        ran.push(command)
        continue
      }
      const swaks = await hasTool("swaks")
      const skip = SKIPPED.find(([pattern, reason]) => pattern.test(command) && (reason !== "swaks is not installed here" || !swaks))
      if (skip !== undefined) {
        skipped.push(`${command} (${skip[1]})`)
        continue
      }
      const checks = CHECKS.filter(([pattern]) => pattern.test(command))
      expect(
        checks.map(([p]) => String(p)),
        `exactly one check for the README command: ${command}`
      ).toHaveLength(1)
      await checks[0][1](await runCommand(command))
      ran.push(command)
    }
    expect(ran.length + skipped.length).toBe(commands.length)
    // the sign-in code came through the capture server, next to the relayed mail
    expect(fs.readdirSync(outbox).some((f) => fs.readFileSync(path.join(outbox, f), "utf8").includes("Your Imprint sign-in code"))).toBe(true)
  })
})

describe("the built command line", () => {
  const cli = (args: ReadonlyArray<string>, extra: Record<string, string> = {}) =>
    exec(process.execPath, [path.join(ROOT, "dist", "src", "main.js"), ...args], extra, scratch)

  it("prints help and exits 0 for --help, -h and help, and for every command's --help", async () => {
    // (every command's --help and every usage error: spec/cli/CliArgs.test.ts; here, that the process exits as it should)
    for (const args of [["--help"], ["-h"], ["help"], ["tenant", "--help"]]) {
      const r = await cli(args)
      expect(r.status, args.join(" ")).toBe(0)
      expect(r.stdout).toMatch(/^usage:/)
      expect(r.stderr).toBe("")
    }
  })

  it("answers a usage error with one line and the usage, exit 2, no stack trace", async () => {
    const r = await cli(["tenant", "import"])
    expect(r.status).toBe(2)
    expect(r.stdout).toBe("")
    expect(r.stderr.split("\n")[0]).toBe("imprint: missing PATH")
    expect(r.stderr).toContain("imprint tenant import PATH [--mode MODE] [--config FILE]")
    expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/)
  })

  it("answers a wrong configuration value with the key, the value and what is allowed, exit 1", async () => {
    const r = await cli(["tenant", "list"], { IMPRINT_SMTP_PORT: "x" })
    expect(r.status).toBe(1)
    expect(r.stderr).toContain('smtp.port (IMPRINT_SMTP_PORT): "x" is not allowed: expected an integer between 0 and 65535')
    expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/)
  })
})
