/**
 * Debian's nats-server with JetStream, started by the specs on 127.0.0.1
 * (a free port, a temp store folder), as perf/Slapd.ts does for slapd: never
 * the system service. `kill()` is SIGKILL; `start()` again reuses the port
 * and the store folder, as a restarted server would.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { freePort } from "../../perf/FreePort.js"

export const NATS_SERVER = "/usr/sbin/nats-server"

export const natsUnavailable = (): string | undefined =>
  fs.existsSync(NATS_SERVER) ? undefined : `${NATS_SERVER} is missing (apt-get install --no-install-recommends nats-server; .ci/run does)`

export interface NatsPeer {
  readonly url: string
  readonly port: number
  readonly start: () => Promise<void>
  readonly kill: () => Promise<void>
  readonly stop: () => Promise<void>
}

const listening = (port: number, deadline: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const attempt = () => {
      const s = net.connect(port, "127.0.0.1")
      s.once("connect", () => (s.destroy(), resolve()))
      s.once("error", () => {
        s.destroy()
        if (Date.now() > deadline) reject(new Error(`nats-server did not listen on ${port}`))
        else setTimeout(attempt, 50)
      })
    }
    attempt()
  })

export const startNats = async (o: { readonly port?: number; readonly args?: ReadonlyArray<string> } = {}): Promise<NatsPeer> => {
  const port = o.port ?? (await freePort())
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imprint-nats-"))
  let child: ChildProcess | undefined
  const exited = (c: ChildProcess) =>
    new Promise<void>((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once("exit", () => resolve())))
  const start = async () => {
    child = spawn(NATS_SERVER, ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", dir, "-n", `spec-${port}`, ...(o.args ?? [])], { stdio: "ignore" })
    await listening(port, Date.now() + 10_000)
  }
  const signal = async (sig: NodeJS.Signals) => {
    const c = child
    child = undefined
    if (c === undefined) return
    c.kill(sig)
    await exited(c)
  }
  await start()
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    start,
    kill: () => signal("SIGKILL"),
    stop: async () => {
      await signal("SIGTERM")
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

export interface NatsClusterPeer {
  /** every server's client URL (a client lists them all and moves to another when one dies) */
  readonly urls: ReadonlyArray<string>
  /** by server name (`spec-<port>`): SIGKILL, start again */
  readonly servers: ReadonlyMap<string, NatsPeer>
  /** the names of the servers a client named `client` is connected to now (their monitoring /connz) */
  readonly serversOf: (client: string) => Promise<ReadonlyArray<string>>
  readonly stop: () => Promise<void>
}

/** how long a fresh cluster may take to elect its JetStream meta leader (seconds idle; more on a loaded machine) */
const META_LEADER_WAIT_MS = 60_000

/**
 * Until every server's monitor says the JetStream meta group has a leader and all `size` members:
 * before that, creating a bucket with replicas 3 waits for the election, and a node's first write
 * (bounded by FIRST_CONNECT_WAIT_MS) could fail for a reason that is the spec's, not the node's.
 */
const jetStreamFormed = async (monitors: ReadonlyArray<number>, size: number): Promise<void> => {
  const formed = async (monitor: number) => {
    const jsz = await fetch(`http://127.0.0.1:${monitor}/jsz`).then(
      (r) => r.json() as Promise<{ meta_cluster?: { leader?: string; cluster_size?: number } }>,
      () => undefined
    )
    return jsz?.meta_cluster?.leader !== undefined && jsz.meta_cluster.leader !== "" && jsz.meta_cluster.cluster_size === size
  }
  for (const deadline = Date.now() + META_LEADER_WAIT_MS; ;) {
    if ((await Promise.all(monitors.map(formed))).every(Boolean)) return
    if (Date.now() > deadline) throw new Error(`the nats-server cluster elected no JetStream meta leader within ${META_LEADER_WAIT_MS} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/**
 * `size` nats-servers on loopback joined by routes into one JetStream cluster
 * (each its own client port, route port and store folder), as three hosts
 * would be: a stream with replicas 3 has a leader on one of them and
 * survives the loss of any one.
 */
export const startNatsCluster = async (size = 3): Promise<NatsClusterPeer> => {
  const taken = new Set<number>()
  const port = async (): Promise<number> => {
    const p = await freePort()
    return taken.has(p) ? port() : (taken.add(p), p)
  }
  const ports: Array<{ client: number; route: number; monitor: number }> = []
  for (let i = 0; i < size; i++) ports.push({ client: await port(), route: await port(), monitor: await port() })
  const name = `spec-cluster-${ports[0].client}`
  const servers = new Map<string, NatsPeer>()
  const routes = ports.map((p) => `nats://127.0.0.1:${p.route}`)
  const started = await Promise.all(
    ports.map(({ client, route, monitor }) =>
      startNats({
        port: client,
        args: [
          "-m",
          String(monitor),
          "--cluster_name",
          name,
          "--cluster",
          `nats://127.0.0.1:${route}`,
          "--routes",
          routes.filter((r) => !r.endsWith(`:${route}`)).join(",")
        ]
      })
    )
  )
  for (const peer of started) servers.set(`spec-${peer.port}`, peer)
  await jetStreamFormed(
    ports.map((p) => p.monitor),
    size
  ).catch(async (e: unknown) => {
    await Promise.allSettled(started.map((p) => p.stop()))
    throw e
  })
  return {
    urls: started.map((p) => p.url),
    servers,
    serversOf: async (client) => {
      const names: Array<string> = []
      for (const p of ports) {
        const connz = await fetch(`http://127.0.0.1:${p.monitor}/connz`).then(
          (r) => r.json() as Promise<{ connections?: Array<{ name?: string }> }>,
          () => undefined
        )
        if (connz?.connections?.some((c) => c.name === client)) names.push(`spec-${p.client}`)
      }
      return names
    },
    stop: async () => void (await Promise.allSettled(started.map((p) => p.stop())))
  }
}
