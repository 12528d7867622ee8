import { Deferred, Effect, FiberSet, type MetricPair } from "effect"
import cluster, { type Worker } from "node:cluster"
import type { ImprintConfig } from "../config.js"
import type { AuthEvent } from "../pipeline/inbound/AuthThrottle.js"
import { fromPlain, type PlainPair } from "./MetricsTransfer.js"
import { NodeAdmission } from "./NodeAdmission.js"
import { NodeAuthPermits } from "./NodeAuthPermits.js"
import { isToPrimary, type ToPrimary, type ToWorker, WORKER_SLOT_VARIABLE } from "./WorkerChannel.js"

/**
 * The primary of `workers: N` (node:cluster): forks N relay workers that
 * listen on the same SMTP port (the primary accepts and hands connections out
 * in turn), restarts a worker that dies with a backoff, passes AUTH outcomes
 * between them (WorkerChannel), counts their sessions for the node's
 * connection limits (NodeAdmission), and on its scope's close stops them
 * gracefully: each gets SIGTERM, stops accepting, finishes its transactions
 * (bounded by smtp.shutdownGraceMs) and exits; the scope closes when all have.
 * A worker that dies before any worker of the node has listened (a port in
 * use, a bad certificate) is a start-up failure, not a crash to retry: the
 * supervisor answers a failure that `imprint serve` exits with.
 */

/** The node could not start its workers. */
export class WorkersFailed extends Error {}

/** the first restart of a crashed worker waits this long; each further crash in a row doubles it */
export const RESTART_BASE_MS = 100
export const RESTART_MAX_MS = 30_000
/** a worker that ran this long before it died starts the backoff over */
export const STABLE_AFTER_MS = 30_000
/** after smtp.shutdownGraceMs plus this, a worker that has not exited is killed */
export const STOP_MARGIN_MS = 5_000
/** GET /metrics waits this long for the workers' snapshots; a worker that has not answered is left out */
export const METRICS_WAIT_MS = 2_000
/** AUTH outcomes kept for workers that start later (the throttle's window bounds them too) */
export const MAX_REPLAYED_AUTH_EVENTS = 10_000

interface Slot {
  readonly slot: number
  worker: Worker | undefined
  startedAt: number
  crashesInARow: number
  restart: ReturnType<typeof setTimeout> | undefined
}

export const restartDelay = (crashesInARow: number): number => Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** crashesInARow)

export const superviseWorkers = Effect.fn("Workers.supervise")(function* (config: ImprintConfig, count: number) {
  const run = yield* FiberSet.makeRuntime<never>()
  const info = (message: string, annotations: Record<string, unknown>) => void run(Effect.logInfo(message).pipe(Effect.annotateLogs(annotations)))
  const warn = (message: string, annotations: Record<string, unknown>) => void run(Effect.logWarning(message).pipe(Effect.annotateLogs(annotations)))
  const slots: Array<Slot> = Array.from({ length: count }, (_, i) => ({ slot: i + 1, worker: undefined, startedAt: 0, crashesInARow: 0, restart: undefined }))
  let stopping = false
  let announced = false
  const listening = new Set<number>()
  let onAllExited: (() => void) | undefined
  const failed = yield* Deferred.make<never, WorkersFailed>()

  // --- the shared AUTH throttle: forward, acknowledge, remember for later workers ---
  const recentAuth: Array<AuthEvent> = []
  const remember = (event: AuthEvent) => {
    recentAuth.push(event)
    const horizon = Date.now() - config.smtp.authThrottleMs
    let drop = Math.max(0, recentAuth.length - MAX_REPLAYED_AUTH_EVENTS)
    while (drop < recentAuth.length && recentAuth[drop].at < horizon) drop++
    if (drop > 0) recentAuth.splice(0, drop)
  }
  const send = (worker: Worker, message: ToWorker) => {
    if (worker.isConnected()) worker.send(message)
  }
  // --- the node's AUTH throttle: attempts in flight and failures, in one count ---
  const permits = new NodeAuthPermits(config)
  // --- the node's connection limits: every worker's sessions in one count ---
  const admission = new NodeAdmission(config, (slot) => {
    const worker = slots[slot - 1]?.worker
    if (worker !== undefined) send(worker, { type: "imprint:lease-revoke" })
  })
  // --- metrics: ask every live worker, gather what comes back in time ---
  let metricsRequest = 0
  const metricsWaiting = new Map<number, (slot: number, pairs: ReadonlyArray<PlainPair>) => void>()
  const workerMetrics = Effect.async<Array<MetricPair.MetricPair.Untyped>>((resume) => {
    const id = ++metricsRequest
    const live = slots.filter((s) => s.worker !== undefined && s.worker.isConnected())
    const got = new Map<number, ReadonlyArray<PlainPair>>()
    const finish = () => {
      clearTimeout(timer)
      metricsWaiting.delete(id)
      resume(Effect.succeed(fromPlain(Array.from(got.values()).flat())))
    }
    const timer = setTimeout(finish, METRICS_WAIT_MS)
    metricsWaiting.set(id, (slot, pairs) => {
      got.set(slot, pairs)
      if (got.size === live.length) finish()
    })
    if (live.length === 0) return finish()
    for (const s of live) send(s.worker!, { type: "imprint:metrics-request", id })
  })

  const onMessage = (from: Slot, worker: Worker, message: ToPrimary) => {
    if (message.type === "imprint:metrics") {
      metricsWaiting.get(message.id)?.(from.slot, message.pairs)
      return
    }
    if (message.type === "imprint:admit") {
      const { seq } = message
      return admission.request(from.slot, message.id, message.address, message.bound, Date.now(), (refusal, lease) =>
        send(worker, { type: "imprint:admit-reply", seq, ...(refusal === undefined ? {} : { refusal }), ...(lease > 0 ? { lease } : {}) })
      )
    }
    if (message.type === "imprint:lease-revoked") return admission.revoked(from.slot, message.free, Date.now())
    if (message.type === "imprint:lease-return") return admission.returned(from.slot, message.slots)
    if (message.type === "imprint:session-bound") return admission.bound(from.slot, message.id)
    if (message.type === "imprint:session-closed") return admission.closed(from.slot, message.id)
    if (message.type === "imprint:auth-permit") {
      const { id } = message
      const answer = permits.request(from.slot, id, message.address, message.username, Date.now(), (granted) =>
        send(worker, { type: "imprint:auth-permit-reply", id, answer: granted ? "granted" : "refused" })
      )
      return send(worker, { type: "imprint:auth-permit-reply", id, answer })
    }
    if (message.type === "imprint:auth-permit-release") return permits.release(from.slot, message.id, Date.now())
    if (message.type === "imprint:auth-replay") {
      for (const event of recentAuth) send(worker, { type: "imprint:auth-event", event })
      return
    }
    // forwarded before the permit is given back: a queued attempt woken by it reaches its worker after the event
    remember(message.event)
    for (const s of slots) if (s !== from && s.worker !== undefined) send(s.worker, { type: "imprint:auth-event", event: message.event })
    send(worker, { type: "imprint:auth-ack", seq: message.seq })
    permits.outcome(from.slot, message.event, message.permit, Date.now())
  }

  const start = (s: Slot) => {
    s.restart = undefined
    const worker = cluster.fork({ [WORKER_SLOT_VARIABLE]: String(s.slot) })
    s.worker = worker
    s.startedAt = Date.now()
    worker.on("message", (m: unknown) => {
      if (isToPrimary(m)) onMessage(s, worker, m)
    })
    worker.on("listening", (address: { readonly port: number }) => {
      listening.add(s.slot)
      if (!announced && listening.size === count) {
        announced = true
        info(`listening on ${config.smtp.host}:${address.port} (${count} workers)`, { workers: count })
      } else if (announced) {
        info(`worker ${s.slot} listening again`, { worker: s.slot, pid: worker.process.pid })
      }
    })
    worker.on("exit", (code: number | null, signal: string | null) => exited(s, worker, code, signal))
  }

  const exited = (s: Slot, worker: Worker, code: number | null, signal: string | null) => {
    if (s.worker !== worker) return
    s.worker = undefined
    admission.workerExited(s.slot, Date.now())
    permits.workerExited(s.slot, Date.now())
    listening.delete(s.slot)
    if (stopping) {
      if (slots.every((x) => x.worker === undefined)) onAllExited?.()
      return
    }
    if (!announced) {
      const how = signal === null ? `exit code ${code}` : `signal ${signal}`
      return void run(Deferred.fail(failed, new WorkersFailed(`worker ${s.slot} stopped (${how}) before the node was listening; its log lines above say why`)))
    }
    if (Date.now() - s.startedAt >= STABLE_AFTER_MS) s.crashesInARow = 0
    const delay = restartDelay(s.crashesInARow)
    s.crashesInARow++
    warn(`worker ${s.slot} exited; restarting in ${delay} ms`, { worker: s.slot, pid: worker.process.pid, code, signal, restartInMs: delay })
    s.restart = setTimeout(() => start(s), delay)
  }

  yield* Effect.acquireRelease(
    Effect.sync(() => slots.forEach(start)),
    () =>
      Effect.async<void>((resume) => {
        stopping = true
        for (const s of slots) if (s.restart !== undefined) clearTimeout(s.restart)
        const live = slots.flatMap((s) => (s.worker === undefined ? [] : [s.worker]))
        if (live.length === 0) return resume(Effect.void)
        const killer = setTimeout(() => {
          for (const w of live) if (w.process.exitCode === null && w.process.signalCode === null) w.process.kill("SIGKILL")
        }, config.smtp.shutdownGraceMs + STOP_MARGIN_MS)
        onAllExited = () => {
          clearTimeout(killer)
          resume(Effect.void)
        }
        for (const w of live) w.process.kill("SIGTERM")
      }).pipe(Effect.zipRight(Effect.logInfo("workers stopped")))
  )
  yield* Effect.logInfo(`starting ${count} workers`)
  return {
    /** fails when the workers could not start; never succeeds */
    startFailure: Deferred.await(failed),
    /** the workers' metric registries (what GET /metrics adds to the primary's own) */
    workerMetrics,
    /** tells every worker that the primary committed to the store */
    storeChanged: Effect.sync(() => {
      for (const s of slots) if (s.worker !== undefined) send(s.worker, { type: "imprint:store-changed" })
    })
  }
})
