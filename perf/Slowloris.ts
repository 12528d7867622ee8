/**
 * Issue 13's load test: does a bound tenant's mail still flow while 2,000
 * hostile connections are open? (`npm run perf:slowloris`)
 *
 * One Imprint (the built CLI, stamping tenant bound by the CIDR connector
 * 127.0.0.1/32, default limits) in front of the perf sink. Two phases, same
 * load each time — the tenant's server sending 10 KB replies from 127.0.0.1,
 * a new connection per message, PERF_SLOWLORIS_SESSIONS sessions:
 *
 *   baseline  the tenant alone
 *   attack    the tenant, plus ATTACKERS sockets from 40 other loopback
 *             addresses (127.0.0.10–49, unbound): half say nothing after
 *             connecting (idle), half trickle a command one byte per second
 *             (slowloris); each reconnects 100 ms after it is refused or
 *             closed. Plus BOUND_TRICKLERS sessions of the tenant itself that
 *             open DATA and send a line every 2 s (holding downstream
 *             connections until the minimum rate cuts them off).
 *
 * The hostile side runs in a child process of its own (`--attacker`), so its
 * sockets do not slow down the load generator's event loop.
 *
 * Reported: msgs/s, p50/p99 latency (the dot to the 250) and errors per
 * phase, the attack/baseline ratios, and what the attackers got (greetings,
 * refusals, closes). Bounded: each phase stops after PHASE_MESSAGES messages
 * or PHASE_MS. Results go to perf/results/slowloris-<timestamp>.{json,md}.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { execFileSync, fork } from "node:child_process"
import { fileURLToPath } from "node:url"
import { killAllChildren, startServer } from "./Child.js"
import { freePort } from "./FreePort.js"
import { quantile, runLoad, type LoadResult } from "./LoadGenerator.js"
import { PERF_DOMAIN, PERF_SENDER } from "./Messages.js"
import { ROOT, STAMP_MARKER } from "./Targets.js"

const ATTACKERS = Number(process.env.PERF_SLOWLORIS_ATTACKERS ?? 2_000)
const ATTACK_ADDRESSES = 40
const BOUND_TRICKLERS = 50
const SESSIONS = Number(process.env.PERF_SLOWLORIS_SESSIONS ?? 10)
const PHASE_MESSAGES = Number(process.env.PERF_SLOWLORIS_MESSAGES ?? 1_500)
const PHASE_MS = 30_000
/** attackers get this long to connect before the attack phase is measured */
const RAMP_MS = 5_000
/** how soon a refused or closed attacker comes back (PERF_SLOWLORIS_RECONNECT_MS): the connection churn */
const RECONNECT_MS = Number(process.env.PERF_SLOWLORIS_RECONNECT_MS ?? 100)
const TRICKLE_MS = 1_000
const BOUND_TRICKLE_MS = 2_000
const MAIN = path.join(ROOT, "dist", "src", "main.js")

const tenant = {
  id: "perf",
  name: "Perf",
  domains: [PERF_DOMAIN],
  connectors: [{ type: "cidr", cidrs: ["127.0.0.1/32"] }],
  templates: [{ id: "sig", name: "Sig", html: `<p>{{displayName}} <span>${STAMP_MARKER}</span></p>` }],
  rules: [{ id: "everyone", name: "Everyone", templateId: "sig" }],
  directory: [{ mail: PERF_SENDER, displayName: "Alice Example" }]
}

interface AttackStats {
  connects: number
  greeted: number
  refused: number
  closedByServer: number
  connectErrors: number
}

/** What the attacker process reports over IPC. */
interface AttackerReport {
  readonly open: number
  readonly stats?: AttackStats
  readonly replies?: Record<string, number>
}

/** The hostile clients; stop() ends every socket and the reconnect loops. */
const attack = (port: number) => {
  const stats: AttackStats = { connects: 0, greeted: 0, refused: 0, closedByServer: 0, connectErrors: 0 }
  const sockets = new Set<net.Socket>()
  let stopped = false
  const slot = (i: number) => {
    if (stopped) return
    const localAddress = `127.0.0.${10 + (i % ATTACK_ADDRESSES)}`
    const socket = net.connect({ host: "127.0.0.1", port, localAddress })
    sockets.add(socket)
    stats.connects++
    let timer: NodeJS.Timeout | undefined
    let greeting = ""
    socket.setEncoding("latin1")
    socket.on("data", (s: string) => {
      if (greeting.includes("\n")) return
      greeting += s
      if (!greeting.includes("\n")) return
      if (greeting.startsWith("220")) {
        stats.greeted++
        // the slowloris half trickles "EHLO x" a byte a second, never ending the line
        if (i % 2 === 1) {
          const line = "EHLO slowloris.example.invalid"
          let at = 0
          timer = setInterval(() => socket.write(line[at++ % line.length]), TRICKLE_MS)
        }
      } else stats.refused++
    })
    socket.on("error", () => {
      if (!greeting) stats.connectErrors++
    })
    socket.on("close", () => {
      clearInterval(timer)
      sockets.delete(socket)
      if (!stopped && greeting.startsWith("220")) stats.closedByServer++
      if (!stopped) setTimeout(() => slot(i), RECONNECT_MS)
    })
  }
  for (let i = 0; i < ATTACKERS; i++) slot(i)
  return {
    stats,
    open: () => sockets.size,
    stop: () => {
      stopped = true
      for (const s of sockets) s.destroy()
    }
  }
}

/** The tenant's own misbehaving sessions: DATA opened, a line every 2 s. */
const boundTricklers = (port: number) => {
  const sockets: Array<net.Socket> = []
  const replies: Record<string, number> = {}
  for (let i = 0; i < BOUND_TRICKLERS; i++) {
    const socket = net.connect({ host: "127.0.0.1", port, localAddress: "127.0.0.1" })
    sockets.push(socket)
    let timer: NodeJS.Timeout | undefined
    let seen = ""
    socket.setEncoding("latin1")
    socket.on("data", (s: string) => {
      seen += s
      if (/^220 /m.test(seen) && !seen.includes("\n354") && !timer) {
        socket.write(`EHLO trickle.example\r\nMAIL FROM:<${PERF_SENDER}>\r\nRCPT TO:<bob@remote.example>\r\nDATA\r\n`)
        timer = setInterval(() => socket.write(`X-Trickle: ${i}\r\n`), BOUND_TRICKLE_MS)
      }
      const final = /\n(4\d\d|5\d\d) [^\n]*\n?$/.exec(seen)
      if (final) replies[final[1]] = (replies[final[1]] ?? 0) + 1
    })
    socket.on("error", () => undefined)
    socket.on("close", () => clearInterval(timer))
  }
  return { replies, stop: () => sockets.forEach((s) => s.destroy()) }
}

const summary = (r: LoadResult) => ({
  ok: r.ok,
  errors: r.errors,
  errorSamples: r.errorSamples,
  msgsPerS: Number(((r.ok * 1000) / r.elapsedMs).toFixed(1)),
  /** a message's whole time for its session: connect, greeting, EHLO, MAIL, RCPT, DATA, QUIT */
  sessionMsPerMessage: Number(((r.elapsedMs * SESSIONS) / Math.max(1, r.ok)).toFixed(1)),
  p50Ms: Number(quantile(r.latenciesMs, 0.5).toFixed(2)),
  p99Ms: Number(quantile(r.latenciesMs, 0.99).toFixed(2)),
  maxMs: Number((r.latenciesMs[r.latenciesMs.length - 1] ?? NaN).toFixed(2))
})

const phase = (port: number, name: string) =>
  runLoad({ port, kind: "10k", concurrency: SESSIONS, pattern: "new", messages: PHASE_MESSAGES, maxMs: PHASE_MS, runId: `slowloris-${name}` })

const main = async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "imprint-slowloris-"))
  const sink = await startServer({ name: "sink", args: [path.join(ROOT, "dist", "perf", "Sink.js")], ipc: true, cwd: ROOT, env: { PERF_EARLY_TALKER_MS: "0" } })
  try {
    const config = path.join(dir, "config.json")
    writeFileSync(
      config,
      JSON.stringify({
        dataDir: path.join(dir, "data"),
        smtp: { host: "127.0.0.1", port: await freePort() },
        downstream: { host: "127.0.0.1", port: sink.port, tls: "none" },
        admin: { enabled: false }
      })
    )
    writeFileSync(path.join(dir, "tenant.json"), JSON.stringify(tenant))
    execFileSync(process.execPath, [MAIN, "tenant", "import", path.join(dir, "tenant.json"), "--config", config], { cwd: ROOT, stdio: "ignore" })
    const relay = await startServer({ name: "imprint", args: [MAIN, "serve", "--config", config], cwd: ROOT })
    try {
      // warm-up, then the tenant alone
      await runLoad({ port: relay.port, kind: "10k", concurrency: SESSIONS, pattern: "new", messages: 200, maxMs: PHASE_MS, runId: "warm" })
      const baseline = summary(await phase(relay.port, "baseline"))
      console.log("baseline", baseline)

      // the attackers run in their own process, so their sockets do not slow the load generator's event loop
      const attacker = fork(fileURLToPath(import.meta.url), ["--attacker", String(relay.port)], { stdio: "inherit" })
      const ask = (type: string) =>
        new Promise<AttackerReport>((resolve) => {
          attacker.once("message", resolve)
          attacker.send({ type })
        })
      await new Promise((r) => setTimeout(r, RAMP_MS))
      const openAtStart = (await ask("open")).open
      const underAttack = summary(await phase(relay.port, "attack"))
      const report = await ask("stop")
      attacker.kill()
      const attackers = { stats: report.stats }
      const openAtEnd = report.open
      const tricklers = { replies: report.replies }
      console.log("attack", underAttack, attackers.stats, { openAtStart, openAtEnd }, tricklers.replies)

      const result = {
        when: new Date().toISOString(),
        setup: {
          reconnectMs: RECONNECT_MS,
          attackers: ATTACKERS,
          attackAddresses: ATTACK_ADDRESSES,
          boundTricklers: BOUND_TRICKLERS,
          sessions: SESSIONS,
          message: "10k",
          pattern: "new connection per message",
          limits: "defaults"
        },
        baseline,
        attack: underAttack,
        ratios: {
          msgsPerS: Number((underAttack.msgsPerS / baseline.msgsPerS).toFixed(2)),
          sessionMsPerMessage: Number((underAttack.sessionMsPerMessage / baseline.sessionMsPerMessage).toFixed(2)),
          p50: Number((underAttack.p50Ms / baseline.p50Ms).toFixed(2)),
          p99: Number((underAttack.p99Ms / baseline.p99Ms).toFixed(2))
        },
        attackers: { ...attackers.stats, openAtStart, openAtEnd },
        boundTricklerReplies: tricklers.replies
      }
      const stamp = result.when.replace(/[:.]/g, "-").replace(/-\d{3}Z$/, "Z")
      const out = path.join(ROOT, "perf", "results", `slowloris-${stamp}`)
      writeFileSync(`${out}.json`, JSON.stringify(result, null, 2) + "\n")
      writeFileSync(
        `${out}.md`,
        [
          `# Slowloris load test, ${result.when}`,
          "",
          `${ATTACKERS} hostile sockets from ${ATTACK_ADDRESSES} unbound loopback addresses (half idle, half trickling a command; back ${RECONNECT_MS} ms after a refusal or close), ${BOUND_TRICKLERS} bound sessions trickling DATA; the tenant's server sends 10 KB messages, ${SESSIONS} sessions, a new connection per message. Default limits. p50/p99: the dot to the 250; session ms/msg: a message's whole session (connect to QUIT).`,
          "",
          "| phase | ok | errors (4xx/5xx/net) | msgs/s | session ms/msg | p50 ms | p99 ms | max ms |",
          "|---|--:|--:|--:|--:|--:|--:|--:|",
          ...(
            [
              ["baseline", baseline],
              ["attack", underAttack]
            ] as const
          ).map(
            ([n, s]) =>
              `| ${n} | ${s.ok} | ${s.errors["4xx"]}/${s.errors["5xx"]}/${s.errors.network} | ${s.msgsPerS} | ${s.sessionMsPerMessage} | ${s.p50Ms} | ${s.p99Ms} | ${s.maxMs} |`
          ),
          "",
          `Ratios attack/baseline: msgs/s ${result.ratios.msgsPerS}, session ms/msg ${result.ratios.sessionMsPerMessage}, p50 ${result.ratios.p50}, p99 ${result.ratios.p99}.`,
          `Attackers: ${JSON.stringify(result.attackers)}. Bound tricklers' final replies: ${JSON.stringify(result.boundTricklerReplies)}.`,
          ""
        ].join("\n")
      )
      console.log(`written ${path.relative(ROOT, out)}.{json,md}`)
    } finally {
      await relay.stop()
    }
  } finally {
    await sink.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** `--attacker <port>`: the hostile side, in a child process; answers "open" and "stop" over IPC. */
const attackerProcess = (port: number) => {
  const attackers = attack(port)
  const tricklers = boundTricklers(port)
  process.on("message", (m: { type: string }) => {
    if (m.type === "open") process.send?.({ open: attackers.open() })
    if (m.type === "stop") {
      const open = attackers.open()
      attackers.stop()
      tricklers.stop()
      process.send?.({ open, stats: attackers.stats, replies: tricklers.replies }, () => process.exit(0))
    }
  })
}

if (process.argv[2] === "--attacker") attackerProcess(Number(process.argv[3]))
else {
  main().catch((e) => {
    console.error(e)
    killAllChildren()
    process.exitCode = 1
  })
}
