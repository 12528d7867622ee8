/**
 * `workers: 2` for real: `imprint serve` from dist/ as a child process (a
 * primary and two node:cluster workers sharing one SMTP port and one LMDB
 * environment, spec/support/ServeProcess.ts), a real sink downstream, raw
 * SMTP upstream on loopback.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { RawSmtp } from "../support/RawSmtp.js"
import { buildDist, eventually, MAIN, ROOT, runCli, type ServeProcess, startServe, testMessage as message } from "../support/ServeProcess.js"
import { startSink, type Sink } from "../support/Sink.js"

const TENANT = "acme"
const AUTH_USER = "relay@acme"

let dir: string
let sink: Sink
let serve: ServeProcess
let port: number

const authOnce = async (password: string) => {
  const c = await RawSmtp.connect(port)
  await c.starttls()
  await c.command("EHLO spec.example")
  const reply = await c.command(`AUTH PLAIN ${Buffer.from(`\0${AUTH_USER}\0${password}`).toString("base64")}`)
  c.end()
  return reply.code
}

beforeAll(async () => {
  await buildDist()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "imprint-workers-"))
  sink = await startSink({ starttls: false })
  const config = path.join(dir, "imprint.json")
  fs.writeFileSync(
    config,
    JSON.stringify({
      dataDir: path.join(dir, "data"),
      workers: 2,
      smtp: { host: "127.0.0.1", port: 0, name: "relay.test", authFailuresBeforeThrottle: 2, shutdownGraceMs: 20_000 },
      admin: { host: "127.0.0.1", port: 0 },
      downstream: { host: "127.0.0.1", port: sink.port, tls: "none" },
      trace: { enabled: false }
    })
  )
  fs.writeFileSync(
    path.join(dir, "tenant.json"),
    JSON.stringify({
      id: TENANT,
      name: "Acme",
      domains: ["acme.example"],
      connectors: [
        { type: "cidr", cidrs: ["127.0.0.0/8"] },
        { type: "auth", username: AUTH_USER, password: "Correct-Horse-9" }
      ],
      templates: [{ id: "main", name: "Main", html: "<p>Signature one {{displayName}}</p>", text: "Signature one {{displayName}}" }],
      rules: [{ id: "everyone", name: "Everyone", templateId: "main" }],
      directory: [{ mail: "alice@acme.example", displayName: "Alice Example" }]
    })
  )
  await runCli(["tenant", "import", path.join(dir, "tenant.json"), "--config", config])
  serve = await startServe({ config, dataDir: path.join(dir, "data"), workers: 2, sink })
  port = serve.port
}, 240_000)

afterAll(async () => {
  serve?.kill()
  await sink?.close()
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
})

describe("workers: 2", () => {
  it("relays through both workers, every message stamped", async () => {
    const served = new Set<number>()
    for (let i = 0; i < 6; i++) {
      const { reply, worker, body } = await serve.relayOne()
      expect(reply.code).toBe(250)
      expect(body).toContain("Signature one Alice Example")
      served.add(worker!)
    }
    expect([...served].sort()).toEqual([1, 2])
  })

  it("GET /metrics on the primary adds up the workers' counters", async () => {
    const relayed = serve.lines.filter((l) => l.message === "relayed").length
    const { status, text } = await serve.adminCall("GET", "/metrics")
    expect(status).toBe(200)
    // the primary relays nothing itself: every relayed message was counted in a worker
    expect(Number(/^imprint_messages_relayed_total (\d+)$/m.exec(text)?.[1])).toBe(relayed)
    expect(text.match(/^# TYPE imprint_messages_relayed_total /gm)).toHaveLength(1)
  })

  it("an admin change made through the API reaches mail in every worker", async () => {
    const { status } = await serve.adminCall("PATCH", `/tenants/${TENANT}/templates/main`, {
      html: "<p>Signature two {{displayName}}</p>",
      text: "Signature two {{displayName}}"
    })
    expect(status).toBe(200)
    const updated = new Set<number>()
    await eventually("the new signature from both workers", async () => {
      const { reply, worker, body } = await serve.relayOne()
      expect(reply.code).toBe(250)
      if (body.includes("Signature two Alice Example")) updated.add(worker!)
      return updated.size === 2 ? true : undefined
    })
  })

  it("the AUTH throttle is one count across workers", async () => {
    // two failures, one per worker (connections are handed out in turn): per-process counts would be 1 and 1
    expect(await authOnce("wrong-1")).toBe(535)
    expect(await authOnce("wrong-2")).toBe(535)
    // four more connections, two on each worker: each worker has counted both failures
    for (let i = 0; i < 4; i++) expect(await authOnce("Correct-Horse-9")).toBe(454)
  })

  it("a worker killed with SIGKILL is restarted while the other keeps serving", async () => {
    const before = serve.lines.length
    const killed = serve.workerPid(1)!
    process.kill(killed, "SIGKILL")
    await eventually("the primary to see worker 1 exit", () => serve.lines.slice(before).find((l) => l.message.startsWith("worker 1 exited")))
    const { reply } = await serve.relayOne()
    expect(reply.code).toBe(250)
    const restarted = await eventually("worker 1 restarted", () => serve.workerPid(1, before))
    expect(restarted).not.toBe(killed)
    await eventually("worker 1 serving again", async () => {
      const { reply, worker } = await serve.relayOne()
      expect(reply.code).toBe(250)
      return worker === 1 ? true : undefined
    })
  })

  it("SIGKILL of a worker under load: every message answered 250 is at the downstream, whole; none partial", async () => {
    const acked: Array<string> = []
    const failed: Array<string> = []
    let killed = false
    const before = serve.lines.length
    const tag = `load-${Date.now()}`
    const session = async (n: number) => {
      for (let i = 0; i < 15; i++) {
        const id = `${tag}-${n}-${i}`
        try {
          const c = await RawSmtp.connect(port)
          const reply = await c.send("alice@acme.example", ["someone@example.org"], message(id) + "END-OF-MESSAGE\r\n")
          c.end()
          ;(reply.code === 250 ? acked : failed).push(id)
        } catch {
          failed.push(id) // the connection died with its worker: no 250, the client retries later
        }
        if (!killed && acked.length >= 10) {
          killed = true
          process.kill(serve.workerPid(2)!, "SIGKILL")
        }
      }
    }
    await Promise.all([1, 2, 3, 4, 5, 6].map(session))
    expect(killed).toBe(true)
    await eventually("worker 2 restarted", () => serve.workerPid(2, before))
    const received = sink.messages.map((m) => m.raw.toString("utf8")).filter((raw) => raw.includes(tag))
    for (const id of acked) expect(received.some((raw) => raw.includes(`<${id}@acme.example>`))).toBe(true)
    // a copy the killed worker had not finished never reached the downstream's dot
    for (const raw of received) expect(raw).toContain("END-OF-MESSAGE")
    expect(acked.length + failed.length).toBe(6 * 15)
  })

  it("SIGTERM on the primary lets a transaction in flight finish (250), then exits 0", async () => {
    const tx = await RawSmtp.connect(port)
    expect((await tx.command("MAIL FROM:<alice@acme.example>")).code).toBe(250)
    expect((await tx.command("RCPT TO:<someone@example.org>")).code).toBe(250)
    expect((await tx.command("DATA")).code).toBe(354)
    tx.write(message(`sigterm-${Date.now()}`).split("\r\n\r\n")[0] + "\r\n\r\n")
    // idle sessions on both workers: each hears 421 once its worker has begun to stop
    const idle = await Promise.all([1, 2, 3].map(() => RawSmtp.connect(port)))
    serve.child.kill("SIGTERM")
    for (const c of idle) expect((await c.reply()).code).toBe(421)
    tx.write("Hello after SIGTERM.\r\n.\r\n")
    expect((await tx.reply()).code).toBe(250)
    expect(await serve.exit).toEqual({ code: 0, signal: null })
  })
})

describe("workers: 2 that cannot listen", () => {
  it("exits 1 at start-up, saying why, instead of restarting workers forever", async () => {
    const blocker = net.createServer()
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve))
    const taken = (blocker.address() as net.AddressInfo).port
    const config = path.join(dir, "taken.json")
    fs.writeFileSync(
      config,
      JSON.stringify({
        dataDir: path.join(dir, "data-taken"),
        workers: 2,
        smtp: { host: "127.0.0.1", port: taken },
        admin: { enabled: false }
      })
    )
    try {
      const result = await new Promise<{ code: number | null; text: string }>((resolve) => {
        const p = spawn(process.execPath, [MAIN, "serve", "--config", config], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] })
        let text = ""
        p.stdout!.on("data", (c: Buffer) => (text += c.toString("utf8")))
        p.stderr!.on("data", (c: Buffer) => (text += c.toString("utf8")))
        p.once("close", (code) => resolve({ code, text }))
      })
      expect(result.code).toBe(1)
      expect(result.text).toContain("EADDRINUSE")
      expect(result.text).toMatch(/imprint serve: worker \d stopped \(exit code 1\) before the node was listening/)
    } finally {
      blocker.close()
    }
  })
})
