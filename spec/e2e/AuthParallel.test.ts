import { afterAll, beforeAll, describe } from "vitest"
import { startImprint, type RunningImprint } from "../support/Imprint.js"
import { parallelAuthCases } from "../support/ParallelAuth.js"
import { startSink, type Sink } from "../support/Sink.js"

/**
 * One process (no `workers`): the AUTH throttle's limits hold against attempts
 * sent at the same moment on many sessions from one address. Counted only once
 * they failed, every attempt in flight passed the throttle's check before any
 * had failed, so a parallel guesser got one verified guess per session, past
 * the limit (spec/workers/NodeAuthThrottle.test.ts is the same with two workers).
 */

const PER_USER = 3
const PER_ADDRESS = 5
const SESSIONS = 12
const USER = "relay@parallel"
const PASSWORD = "Correct-Horse-parallel"

describe("one process, the AUTH throttle against parallel attempts", () => {
  let sink: Sink
  let imprint: RunningImprint

  beforeAll(async () => {
    sink = await startSink({ starttls: false })
    imprint = await startImprint({
      tenants: [
        {
          id: "parallel",
          name: "parallel",
          domains: ["parallel.example"],
          connectors: [{ type: "auth", username: USER, password: PASSWORD }],
          downstream: { host: "127.0.0.1", port: sink.port, tls: "none" }
        }
      ],
      config: {
        smtp: {
          authFailuresBeforeThrottle: PER_USER,
          authFailuresPerAddress: PER_ADDRESS,
          authThrottleMs: 600_000,
          maxUnboundClients: 100,
          maxConnectionsPerAddress: 100,
          maxConnectionRatePerAddress: 0
        }
      }
    })
  })
  afterAll(async () => {
    await imprint?.close()
    await sink?.close()
  })

  parallelAuthCases({ port: () => imprint.port, user: USER, password: PASSWORD, perUser: PER_USER, perAddress: PER_ADDRESS, sessions: SESSIONS })
})
