import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startImprint, type RunningImprint } from "../support/Imprint.js"
import { authAtOnce as authSessionsAtOnce } from "../support/RawSmtp.js"
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

  const authAtOnce = (localAddress: string, credentials: ReadonlyArray<readonly [string, string]>) =>
    authSessionsAtOnce(imprint.port, localAddress, credentials)
  const count = (codes: ReadonlyArray<number>, code: number) => codes.filter((c) => c === code).length

  it(`of ${SESSIONS} wrong passwords for one username sent at once, at most ${PER_USER} are verified (535); the others get 454`, async () => {
    const codes = await authAtOnce(
      "127.0.0.2",
      Array.from({ length: SESSIONS }, (_, i) => [USER, `wrong-${i}`] as const)
    )
    expect(count(codes, 535) + count(codes, 454)).toBe(SESSIONS)
    expect(count(codes, 535)).toBeLessThanOrEqual(PER_USER)
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
      Array.from({ length: SESSIONS }, () => [USER, PASSWORD] as const)
    )
    expect(codes).toEqual(Array.from({ length: SESSIONS }, () => 235))
  })
})
