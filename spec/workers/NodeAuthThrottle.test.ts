/**
 * With `workers: 2` the AUTH throttle's limits hold for the node also against
 * attempts made at the same moment: `imprint serve` from dist/ as a child
 * process, two workers sharing one port. Each spec prepares many sessions from
 * one address (STARTTLS, EHLO), then sends AUTH on all of them at once. Counted
 * only once they fail, every attempt in flight would pass the throttle's check
 * (each worker's, and within a worker each session's) before any had failed:
 * a parallel guesser would get one verified guess per session, past the limit.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { RawSmtp } from "../support/RawSmtp.js"
import { buildDist, runCli, type ServeProcess, startServe } from "../support/ServeProcess.js"
import { startSink, type Sink } from "../support/Sink.js"

const AUTH_USER = "relay@acme"
const PASSWORD = "Correct-Horse-9"
const PER_USER = 3
const PER_ADDRESS = 5
const SESSIONS = 12

let dir: string
let sink: Sink
let serve: ServeProcess

beforeAll(async () => {
  await buildDist()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "imprint-node-auth-"))
  sink = await startSink({ starttls: false })
  const config = path.join(dir, "imprint.json")
  fs.writeFileSync(
    config,
    JSON.stringify({
      dataDir: path.join(dir, "data"),
      workers: 2,
      smtp: {
        host: "127.0.0.1",
        port: 0,
        name: "relay.test",
        earlyTalkerDelayMs: 0,
        authFailuresBeforeThrottle: PER_USER,
        authFailuresPerAddress: PER_ADDRESS,
        // the sessions are unbound until AUTH: room for all of them
        maxUnboundClients: 100,
        maxConnectionsPerAddress: 100,
        maxConnectionRatePerAddress: 0
      },
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
      connectors: [{ type: "auth", username: AUTH_USER, password: PASSWORD }],
      templates: [{ id: "main", name: "Main", html: "<p>Sig</p>", text: "Sig" }],
      rules: [{ id: "everyone", name: "Everyone", templateId: "main" }]
    })
  )
  await runCli(["tenant", "import", path.join(dir, "tenant.json"), "--config", config])
  serve = await startServe({ config, dataDir: path.join(dir, "data"), workers: 2, sink })
}, 240_000)

afterAll(async () => {
  serve?.kill()
  await sink?.close()
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
})

/** `credentials.length` sessions from `localAddress`, each ready for AUTH; then AUTH on all at once; the reply codes */
const authAtOnce = async (localAddress: string, credentials: ReadonlyArray<readonly [string, string]>) => {
  const sessions = await Promise.all(
    credentials.map(async () => {
      const c = await RawSmtp.connect(serve.port, { localAddress })
      await c.starttls()
      await c.command("EHLO spec.example")
      return c
    })
  )
  try {
    sessions.forEach((c, i) => c.write(`AUTH PLAIN ${Buffer.from(`\0${credentials[i][0]}\0${credentials[i][1]}`).toString("base64")}\r\n`))
    return await Promise.all(sessions.map(async (c) => (await c.reply()).code))
  } finally {
    for (const c of sessions) c.destroy()
  }
}

const count = (codes: ReadonlyArray<number>, code: number) => codes.filter((c) => c === code).length

describe("workers: 2, the AUTH throttle against parallel attempts", () => {
  it(`of ${SESSIONS} wrong passwords for one username sent at once, at most ${PER_USER} are verified (535); the others are throttled (454)`, async () => {
    const codes = await authAtOnce(
      "127.0.0.2",
      Array.from({ length: SESSIONS }, (_, i) => [AUTH_USER, `wrong-${i}`] as const)
    )
    expect(count(codes, 535) + count(codes, 454)).toBe(SESSIONS)
    expect(count(codes, 535)).toBeLessThanOrEqual(PER_USER)
    // the right password, later, from the same address: throttled too
    expect(await authAtOnce("127.0.0.2", [[AUTH_USER, PASSWORD]])).toEqual([454])
  })

  it(`of ${SESSIONS} usernames sprayed at once from one address, at most ${PER_ADDRESS} are verified`, async () => {
    const codes = await authAtOnce(
      "127.0.0.3",
      Array.from({ length: SESSIONS }, (_, i) => [`user-${i}@nowhere`, "guess"] as const)
    )
    expect(count(codes, 535) + count(codes, 454)).toBe(SESSIONS)
    expect(count(codes, 535)).toBeLessThanOrEqual(PER_ADDRESS)
  })

  it(`a tenant's server opening ${SESSIONS} sessions at once with the right password is not throttled`, async () => {
    const codes = await authAtOnce(
      "127.0.0.4",
      Array.from({ length: SESSIONS }, () => [AUTH_USER, PASSWORD] as const)
    )
    expect(codes).toEqual(Array.from({ length: SESSIONS }, () => 235))
  })
})
