/**
 * A server under test as a child process: started, awaited until it prints
 * "listening on 127.0.0.1:<port>", sampled for memory and CPU from /proc,
 * and stopped. Every child is registered so that run.ts can kill them all on
 * exit or failure: a crashed benchmark leaves no servers behind.
 */
import { fork, spawn, type ChildProcess } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"

/** how long a server may take to say it is listening */
const START_TIMEOUT_MS = 30_000
/** RSS sampling period; the peak also comes from VmHWM, this catches it per run */
const SAMPLE_MS = 20
/** clock ticks per second of /proc/<pid>/stat (getconf CLK_TCK; 100 on Linux) */
const CLK_TCK = 100
const LISTENING_RE = /listening on 127\.0\.0\.1:(\d+)/
const STDERR_TAIL = 4000

const live = new Set<ChildProcess>()

/** kills every child still running (SIGKILL: this is the failure path) */
export const killAllChildren = (): void => {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
  live.clear()
}

export interface ProcStats {
  readonly rssKb: number
  readonly hwmKb: number
  readonly cpuS: number
  /** utime alone: the process's own code, without the kernel time of its syscalls and what the kernel charges it for */
  readonly userS: number
}

/** VmRSS, VmHWM and utime+stime of a process, or undefined once it is gone */
export const readProc = (pid: number): ProcStats | undefined => {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8")
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN)
    // the command name in field 2 may contain spaces: count fields after its ')'
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    const cpuS = (Number(fields[11]) + Number(fields[12])) / CLK_TCK // utime, stime (fields 14, 15)
    return { rssKb: kb("VmRSS"), hwmKb: kb("VmHWM"), cpuS, userS: Number(fields[11]) / CLK_TCK }
  } catch {
    return undefined
  }
}

/** Resets VmHWM to the current RSS (Linux: "5" > clear_refs), so a peak belongs to one run. */
export const resetPeak = (pid: number): boolean => {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5")
    return true
  } catch {
    return false
  }
}

export interface Server {
  readonly name: string
  readonly port: number
  readonly child: ChildProcess
  readonly pid: number
  /** starts sampling; returns a function that stops it and gives peak RSS and CPU used */
  readonly measure: () => () => { readonly peakRssKb: number; readonly cpuS: number; readonly userS: number }
  readonly stop: () => Promise<void>
  readonly stderr: () => string
}

export interface StartOptions {
  readonly name: string
  readonly args: ReadonlyArray<string>
  readonly cwd?: string
  /** fork with an IPC channel (the sink) */
  readonly ipc?: boolean
  readonly env?: Record<string, string>
}

/** Starts `node <args>` and waits for its "listening on" line. */
export const startServer = (o: StartOptions): Promise<Server> =>
  new Promise((resolve, reject) => {
    const env = { ...process.env, ...o.env }
    const child =
      o.ipc === true
        ? fork(o.args[0], o.args.slice(1), { cwd: o.cwd, env, stdio: ["ignore", "pipe", "pipe", "ipc"] })
        : spawn(process.execPath, o.args, { cwd: o.cwd, env, stdio: ["ignore", "pipe", "pipe"] })
    live.add(child)
    let out = ""
    let err = ""
    let settled = false
    const timer = setTimeout(() => done(new Error(`${o.name}: not listening after ${START_TIMEOUT_MS} ms; stderr: ${err.slice(-500)}`)), START_TIMEOUT_MS)
    const done = (e: Error | undefined, port?: number): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (e !== undefined) {
        child.kill("SIGKILL")
        live.delete(child)
        reject(e)
        return
      }
      resolve(makeServer(o.name, child, port as number, () => err))
    }
    child.stdout?.setEncoding("utf8")
    child.stderr?.setEncoding("utf8")
    child.stdout?.on("data", (s: string) => {
      if (settled) return
      out += s
      const m = LISTENING_RE.exec(out)
      if (m !== null) done(undefined, Number(m[1]))
    })
    child.stderr?.on("data", (s: string) => {
      err = (err + s).slice(-STDERR_TAIL)
    })
    child.on("exit", (code, signal) => {
      live.delete(child)
      done(new Error(`${o.name} exited (${code ?? signal}) before listening; stderr: ${err.slice(-800)} stdout: ${out.slice(-300)}`))
    })
    child.on("error", (e) => done(e))
  })

const makeServer = (name: string, child: ChildProcess, port: number, stderr: () => string): Server => {
  const pid = child.pid as number
  return {
    name,
    port,
    child,
    pid,
    stderr,
    measure: () => {
      resetPeak(pid)
      const before = readProc(pid)
      let peak = before?.rssKb ?? 0
      const timer = setInterval(() => {
        const s = readProc(pid)
        if (s !== undefined && s.rssKb > peak) peak = s.rssKb
      }, SAMPLE_MS)
      return () => {
        clearInterval(timer)
        const after = readProc(pid)
        // VmHWM after a reset is the true peak; the samples cover kernels without clear_refs
        const peakRssKb = Math.max(peak, after?.rssKb ?? 0, after?.hwmKb ?? 0)
        return { peakRssKb, cpuS: (after?.cpuS ?? NaN) - (before?.cpuS ?? NaN), userS: (after?.userS ?? NaN) - (before?.userS ?? NaN) }
      }
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          live.delete(child)
          return resolve()
        }
        const kill = setTimeout(() => child.kill("SIGKILL"), 3000)
        child.once("exit", () => {
          clearTimeout(kill)
          live.delete(child)
          resolve()
        })
        child.kill("SIGTERM")
      })
  }
}
