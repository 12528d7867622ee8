import { Context, Effect, Either, Exit, Layer, Logger, LogLevel, Scope } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { decodeConfig } from "../src/config.js"
import { liveLayer, RunningServer, serverLayer } from "../src/Server.js"
import { localAuthPeers } from "../src/workers/NodeAuthPermits.js"
import { loopbackTenant, type RunningImprint, startImprint } from "./support/Imprint.js"
import { RawSmtp } from "./support/RawSmtp.js"
import { type Sink, startSink } from "./support/Sink.js"

/**
 * The composition root's server Layer (Server.ts serverLayer: the SMTP listener, the admin API
 * and the image listener as scoped Layers): built, it listens on the ports it reports (0 in the
 * configuration: the ones the system chose); its scope's close gives every port back.
 */

const FROM = "alice@acme.example"
const MESSAGE = "From: alice@acme.example\r\nTo: bob@customer.example\r\nSubject: layers\r\nMessage-ID: <layers-1@acme.example>\r\n\r\nHello.\r\n"

/** how a TCP connect to 127.0.0.1:`port` ends: "connected" or the error's code */
const connectOutcome = (port: number) =>
  new Promise<string>((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" })
    socket.once("connect", () => {
      socket.destroy()
      resolve("connected")
    })
    socket.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message))
  })

let sink: Sink | undefined
let imprint: RunningImprint | undefined

afterEach(async () => {
  await imprint?.close()
  await sink?.close()
  imprint = undefined
  sink = undefined
})

describe("serverLayer", () => {
  it("relays on the SMTP port it reports, logs each listener's bound address, and gives both ports back when its scope closes", async () => {
    sink = await startSink({ starttls: false })
    const lines: Array<string> = []
    imprint = await startImprint({ tenants: [loopbackTenant(sink.port)], admin: true, logLines: lines })
    const { port, admin } = imprint
    expect(port).toBeGreaterThan(0)
    expect(admin?.port).toBeGreaterThan(0)

    const c = await RawSmtp.connect(port)
    expect((await c.send(FROM, ["bob@customer.example"], MESSAGE)).code).toBe(250)
    await c.quit()
    expect((await sink.waitFor(1))[0].raw.toString("latin1")).toContain("Message-ID: <layers-1@acme.example>")

    // the start's log lines, in the order the parts start: SMTP first, then the admin API
    const messages = lines.map((l) => (JSON.parse(l) as { message: unknown }).message)
    const smtpLine = messages.indexOf(`listening on 127.0.0.1:${port}`)
    const adminLine = messages.indexOf(`admin API listening on https://127.0.0.1:${admin!.port}`)
    expect(smtpLine).toBeGreaterThanOrEqual(0)
    expect(adminLine).toBeGreaterThan(smtpLine)

    expect(await connectOutcome(admin!.port)).toBe("connected")
    await imprint.close()
    // the SMTP listener stopped the graceful way (Shutdown), and nothing listens on either port
    expect(lines.map((l) => (JSON.parse(l) as { message: unknown }).message)).toContain("smtp shutdown")
    expect(await connectOutcome(port)).toBe("ECONNREFUSED")
    expect(await connectOutcome(admin!.port)).toBe("ECONNREFUSED")
  })

  it("in a worker's form is the SMTP listener only: no admin API even when asked, no start line of its own", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "imprint-server-layer-"))
    try {
      const config = Either.getOrThrow(decodeConfig({ dataDir, smtp: { host: "127.0.0.1", port: 0 }, admin: { port: 0 } }))
      const lines: Array<string> = []
      const scope = Effect.runSync(Scope.make())
      const layer = serverLayer(config, { admin: true, worker: { authPeers: localAuthPeers(config), admissionPeers: undefined } }).pipe(
        Layer.provide(liveLayer(config))
      )
      const capture = Logger.replace(
        Logger.defaultLogger,
        Logger.map(Logger.jsonLogger, (line) => void lines.push(line))
      )
      const server = await Effect.runPromise(
        Layer.buildWithScope(layer, scope).pipe(Effect.map(Context.get(RunningServer)), Logger.withMinimumLogLevel(LogLevel.Info), Effect.provide(capture))
      )
      expect(server.port).toBeGreaterThan(0)
      expect(server.adminPort).toBeUndefined()
      expect(server.imagesPort).toBeUndefined()
      const c = await RawSmtp.connect(server.port)
      expect(c.greeting.code).toBe(220)
      await c.quit()
      // the worker logs "worker N ready on …" itself (main.ts); the single process's and the primary's lines are not written
      expect(lines.filter((l) => l.includes("listening on"))).toEqual([])
      expect(lines.length).toBeGreaterThan(0)
      await Effect.runPromise(Scope.close(scope, Exit.void))
      expect(await connectOutcome(server.port)).toBe("ECONNREFUSED")
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
