/**
 * With `workers: 2` the AUTH throttle's limits hold for the node also against
 * attempts made at the same moment: `imprint serve` from dist/ as a child
 * process, two workers sharing one port. Each spec prepares many sessions from
 * one address (STARTTLS, EHLO), then sends AUTH on all of them at once. Counted
 * only once they fail, every attempt in flight would pass the throttle's check
 * (each worker's, and within a worker each session's) before any had failed:
 * a parallel guesser would get one verified guess per session, past the limit.
 */
import { afterAll, beforeAll, describe } from "vitest"
import { parallelAuthCases } from "../support/ParallelAuth.js"
import { startWorkersNode, type WorkersNode } from "../support/ServeProcess.js"

const AUTH_USER = "relay@acme"
const PASSWORD = "Correct-Horse-9"
const PER_USER = 3
const PER_ADDRESS = 5
const SESSIONS = 12

let node: WorkersNode

beforeAll(async () => {
  node = await startWorkersNode({
    name: "node-auth",
    workers: 2,
    smtp: {
      authFailuresBeforeThrottle: PER_USER,
      authFailuresPerAddress: PER_ADDRESS,
      // the sessions are unbound until AUTH: room for all of them
      maxUnboundClients: 100,
      maxConnectionsPerAddress: 100,
      maxConnectionRatePerAddress: 0
    },
    connectors: [{ type: "auth", username: AUTH_USER, password: PASSWORD }]
  })
}, 240_000)

afterAll(async () => {
  await node?.close()
})

describe("workers: 2, the AUTH throttle against parallel attempts", () => {
  parallelAuthCases({ port: () => node.serve.port, user: AUTH_USER, password: PASSWORD, perUser: PER_USER, perAddress: PER_ADDRESS, sessions: SESSIONS })
})
