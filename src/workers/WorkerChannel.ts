import { Effect, FiberSet, Metric } from "effect"
import cluster from "node:cluster"
import type { AuthEvent, AuthPermit, AuthThrottlePeers } from "../pipeline/inbound/AuthThrottle.js"
import type { AdmissionPeers, Refusal } from "../pipeline/inbound/ConnectionLimits.js"
import { type PlainPair, toPlain } from "./MetricsTransfer.js"
import { WorkerLease } from "./AdmissionLease.js"
import { QUEUE_WAIT_MS } from "./NodeAuthPermits.js"

/**
 * The IPC between the primary of `workers: N` and its workers (node:cluster's
 * channel, one per worker). Messages on one channel arrive in order, and the
 * primary hands a worker its accepted connections over that same channel: an
 * event the primary forwarded before it accepted a connection reaches the
 * worker before that connection does. That is what makes the AUTH throttle
 * one count across workers, without a lock.
 */

/** worker → primary: an AUTH outcome to pass on (and its permit given back); answered with AuthAck once passed on */
export interface AuthPublish {
  readonly type: "imprint:auth"
  readonly seq: number
  readonly event: AuthEvent
  readonly permit?: number
}
/** worker → primary: may this password be verified now? (the node's AUTH throttle, NodeAuthPermits) */
export interface AuthPermitRequest {
  readonly type: "imprint:auth-permit"
  readonly id: number
  readonly address: string
  readonly username: string
}
/** primary → worker: granted, refused, or queued (a second reply, granted or refused, follows) */
export interface AuthPermitReply {
  readonly type: "imprint:auth-permit-reply"
  readonly id: number
  readonly answer: "granted" | "refused" | "queued"
}
/** worker → primary: a permit that came after the worker stopped waiting for it */
export interface AuthPermitRelease {
  readonly type: "imprint:auth-permit-release"
  readonly id: number
}
/** worker → primary: send me the recent outcomes (a worker that just started) */
export interface AuthReplay {
  readonly type: "imprint:auth-replay"
}
/** primary → worker */
export interface AuthAck {
  readonly type: "imprint:auth-ack"
  readonly seq: number
}
/** primary → worker: another worker's outcome */
export interface AuthForward {
  readonly type: "imprint:auth-event"
  readonly event: AuthEvent
}

/** primary → worker: your metric snapshot, please (GET /metrics) */
export interface MetricsRequest {
  readonly type: "imprint:metrics-request"
  readonly id: number
}
/** worker → primary */
export interface MetricsReply {
  readonly type: "imprint:metrics"
  readonly id: number
  readonly pairs: ReadonlyArray<PlainPair>
}

/**
 * worker → primary: may this new session stay? (the node's connection limits;
 * answered with AdmitReply). Session ids are the worker's; the primary keys
 * them by slot.
 */
export interface Admit {
  readonly type: "imprint:admit"
  readonly seq: number
  readonly id: string
  readonly address: string
  readonly bound: boolean
}
/** primary → worker: the node's answer; `refusal` absent: admitted (and counted); `lease`: slots granted (AdmissionLease) */
export interface AdmitReply {
  readonly type: "imprint:admit-reply"
  readonly seq: number
  readonly refusal?: Refusal
  readonly lease?: number
}
/** primary → worker: send your free leased slots back (the node is at maxClients) */
export interface LeaseRevoke {
  readonly type: "imprint:lease-revoke"
}
/** worker → primary: the answer to LeaseRevoke */
export interface LeaseRevoked {
  readonly type: "imprint:lease-revoked"
  readonly free: number
}
/** worker → primary: slots back after a revoke, as their sessions close */
export interface LeaseReturn {
  readonly type: "imprint:lease-return"
  readonly slots: number
}
/** worker → primary: the session bound to a tenant (it leaves the unbound share), or closed */
export interface SessionBound {
  readonly type: "imprint:session-bound"
  readonly id: string
}
export interface SessionClosed {
  readonly type: "imprint:session-closed"
  readonly id: string
}

/** primary → worker: the primary committed to the store; look for it now instead of at the next poll */
export interface StoreChanged {
  readonly type: "imprint:store-changed"
}

export type ToPrimary =
  AuthPublish | AuthPermitRequest | AuthPermitRelease | AuthReplay | MetricsReply | Admit | SessionBound | SessionClosed | LeaseRevoked | LeaseReturn
export type ToWorker = AuthAck | AuthForward | AuthPermitReply | MetricsRequest | StoreChanged | AdmitReply | LeaseRevoke

/** the environment variable that tells a worker its slot (1…N; a restarted worker keeps its slot) */
export const WORKER_SLOT_VARIABLE = "IMPRINT_WORKER_SLOT"

/** A failed AUTH is answered after this even if the primary does not acknowledge (it is gone or stuck). */
export const AUTH_PUBLISH_TIMEOUT_MS = 1_000
/** A new session is admitted on this worker's own counts if the primary has not answered by then (it is gone or stuck). */
export const ADMIT_TIMEOUT_MS = 1_000
/** An AUTH attempt is verified on this worker's own counts if the primary has not answered its permit request by then. */
export const AUTH_PERMIT_TIMEOUT_MS = 1_000
/** ...or, once queued, the final answer by then (the primary refuses a queued attempt after QUEUE_WAIT_MS) */
export const AUTH_PERMIT_QUEUED_TIMEOUT_MS = QUEUE_WAIT_MS + AUTH_PERMIT_TIMEOUT_MS

const isMessage = (m: unknown): m is { readonly type: string } => typeof m === "object" && m !== null && typeof (m as { type?: unknown }).type === "string"

export const isToPrimary = (m: unknown): m is ToPrimary =>
  isMessage(m) &&
  (m.type === "imprint:auth" ||
    m.type === "imprint:auth-replay" ||
    m.type === "imprint:auth-permit" ||
    m.type === "imprint:auth-permit-release" ||
    m.type === "imprint:metrics" ||
    m.type === "imprint:admit" ||
    m.type === "imprint:session-bound" ||
    m.type === "imprint:lease-revoked" ||
    m.type === "imprint:lease-return" ||
    m.type === "imprint:session-closed")

/** This process's slot when it is a worker of `workers: N`, else undefined. */
export const workerSlot = (): number | undefined => {
  if (!cluster.isWorker) return undefined
  const slot = Number(process.env[WORKER_SLOT_VARIABLE])
  return Number.isInteger(slot) && slot > 0 ? slot : cluster.worker?.id
}

/** A worker answers the primary's metric requests with its registry's snapshot, for as long as its scope is open. */
export const answerMetricRequests = Effect.gen(function* () {
  const run = yield* FiberSet.makeRuntime<never>()
  const onMessage = (m: unknown) => {
    if (!isMessage(m) || m.type !== "imprint:metrics-request") return
    const { id } = m as MetricsRequest
    run(
      Effect.map(Metric.snapshot, (pairs) => {
        const reply: MetricsReply = { type: "imprint:metrics", id, pairs: toPlain(pairs) }
        if (process.send !== undefined && process.connected) process.send(reply)
      })
    )
  }
  yield* Effect.acquireRelease(
    Effect.sync(() => process.on("message", onMessage)),
    () => Effect.sync(() => process.off("message", onMessage))
  )
})

/**
 * A worker looks for the primary's commits when told (StoreChanged) rather
 * than at its next once-a-second poll, so an admin change reaches its tenant
 * actors at once; the poll stays as the fallback.
 */
export const followStoreChanges = (pollNow: Effect.Effect<void>) =>
  Effect.gen(function* () {
    const run = yield* FiberSet.makeRuntime<never>()
    const onMessage = (m: unknown) => {
      if (isMessage(m) && m.type === "imprint:store-changed") run(pollNow)
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => process.on("message", onMessage)),
      () => Effect.sync(() => process.off("message", onMessage))
    )
  })

/**
 * The AUTH throttle peers of a worker: it asks the primary for a permit before
 * verifying a password, and its outcomes go to the primary (which gives the
 * permit back and passes them on); the others' outcomes come from it. With no
 * answer from the primary in time (AUTH_PERMIT_TIMEOUT_MS, or once queued
 * AUTH_PERMIT_QUEUED_TIMEOUT_MS) the worker's own counts decide, as the
 * connection limits do (ADMIT_TIMEOUT_MS).
 */
export const workerAuthPeers = (): AuthThrottlePeers => {
  let seq = 0
  let permits = 0
  const waiting = new Map<number, () => void>()
  const permitWaiting = new Map<number, (answer: AuthPermitReply["answer"]) => void>()
  const appliers: Array<(event: AuthEvent) => void> = []
  const send = (message: ToPrimary, sent: (err: Error | null) => void = () => undefined) => {
    if (process.send === undefined || !process.connected) return sent(new Error("no primary"))
    process.send(message, undefined, undefined, sent)
  }
  process.on("message", (m: unknown) => {
    if (!isMessage(m)) return
    const message = m as ToWorker
    if (message.type === "imprint:auth-ack") {
      waiting.get(message.seq)?.()
    } else if (message.type === "imprint:auth-event") {
      for (const apply of appliers) apply(message.event)
    } else if (message.type === "imprint:auth-permit-reply") {
      const resume = permitWaiting.get(message.id)
      if (resume !== undefined) resume(message.answer)
      // granted after this worker stopped waiting (it verified on its own counts): give it back
      else if (message.answer === "granted") send({ type: "imprint:auth-permit-release", id: message.id })
    }
  })
  return {
    permit: (address, username) =>
      new Promise<AuthPermit>((resolve) => {
        const id = ++permits
        let timer = setTimeout(() => done({ refused: false }), AUTH_PERMIT_TIMEOUT_MS)
        const done = (permit: AuthPermit) => {
          clearTimeout(timer)
          permitWaiting.delete(id)
          resolve(permit)
        }
        permitWaiting.set(id, (answer) => {
          if (answer === "granted") return done({ refused: false, id })
          if (answer === "refused") return done({ refused: true })
          clearTimeout(timer)
          timer = setTimeout(() => done({ refused: false }), AUTH_PERMIT_QUEUED_TIMEOUT_MS)
        })
        send({ type: "imprint:auth-permit", id, address, username }, (err) => {
          if (err) done({ refused: false })
        })
      }),
    publish: (event, permit) =>
      new Promise<void>((resolve) => {
        const id = ++seq
        const timer = setTimeout(() => done(), AUTH_PUBLISH_TIMEOUT_MS)
        const done = () => {
          clearTimeout(timer)
          waiting.delete(id)
          resolve()
        }
        waiting.set(id, done)
        send({ type: "imprint:auth", seq: id, event, ...(permit === undefined ? {} : { permit }) }, (err) => {
          if (err) done()
        })
      }),
    subscribe: (apply) => {
      appliers.push(apply)
      // sent before the SMTP listener is asked for: the replay arrives before any connection
      send({ type: "imprint:auth-replay" })
    }
  }
}

/**
 * The connection limits of a worker, counted by the primary for the whole node
 * (ConnectionLimits' AdmissionPeers). A session bound at connect is admitted
 * on a slot the primary leased to this worker when one is free, without a
 * round trip (AdmissionLease.ts); every other admission asks the primary.
 */
export const workerAdmissionPeers = (): AdmissionPeers => {
  let seq = 0
  const lease = new WorkerLease()
  const waiting = new Map<number, (refusal: Refusal | undefined) => void>()
  const send = (message: ToPrimary, sent?: (err: Error | null) => void) => {
    if (process.send === undefined || !process.connected) return sent?.(new Error("no primary"))
    process.send(message, undefined, undefined, sent)
  }
  process.on("message", (m: unknown) => {
    if (!isMessage(m)) return
    if (m.type === "imprint:admit-reply") {
      const reply = m as AdmitReply
      // granted even when this worker stopped waiting for the answer: the primary counts them as held
      if (reply.lease !== undefined && reply.lease > 0) lease.granted(reply.lease)
      waiting.get(reply.seq)?.(reply.refusal)
    } else if (m.type === "imprint:lease-revoke") {
      send({ type: "imprint:lease-revoked", free: lease.revoke() })
    }
  })
  return {
    admit: (id, address, bound) => {
      if (bound && lease.take(id)) return Promise.resolve(undefined)
      return new Promise<Refusal | undefined>((resolve) => {
        const n = ++seq
        const done = (refusal: Refusal | undefined) => {
          clearTimeout(timer)
          waiting.delete(n)
          resolve(refusal)
        }
        // no primary to ask: this worker's own limits decide alone
        const timer = setTimeout(() => done(undefined), ADMIT_TIMEOUT_MS)
        waiting.set(n, done)
        send({ type: "imprint:admit", seq: n, id, address, bound }, (err) => {
          if (err) done(undefined)
        })
      })
    },
    bound: (id) => send({ type: "imprint:session-bound", id }),
    closed: (id) => {
      const back = lease.closed(id)
      if (back === undefined) send({ type: "imprint:session-closed", id })
      else if (back > 0) send({ type: "imprint:lease-return", slots: back })
    }
  }
}
