/**
 * With `workers: 2` the AUTH throttle's limits hold for the node also against
 * attempts made at the same moment: `imprint serve` from dist/ as a child
 * process, two workers sharing one port. Each spec prepares many sessions from
 * one address (STARTTLS, EHLO), then sends AUTH on all of them at once. Counted
 * only once they fail, every attempt in flight would pass the throttle's check
 * (each worker's, and within a worker each session's) before any had failed:
 * a parallel guesser would get one verified guess per session, past the limit.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { authAtOnce as authSessionsAtOnce } from "../support/RawSmtp.js"
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

const authAtOnce = (localAddress: string, credentials: ReadonlyArray<readonly [string, string]>) =>
  authSessionsAtOnce(node.serve.port, localAddress, credentials)

const count = (codes: ReadonlyArray<number>, code: number) => codes.filter((c) => c === code).length

describe("workers: 2, the AUTH throttle against parallel attempts", () => {
  it(`of ${SESSIONS} wrong passwords for one username sent at once, at most ${PER_USER} are verified (535); the others are throttled (454)`, async () => {
    const codes = await authAtOnce(
      "127.0.0.2",
      Array.from({ length: SESSIONS }, (_, i) => [AUTH_USER, `wrong-${i}`] as const)
    )
    expect(count(codes, 535) + count(codes, 454)).toBe(SESSIONS)
    expect(count(codes, 535)).toBeLessThanOrEqual(PER_USER)
    // the right password, later, from the same address: throttled too
    expect(await authAtOnce("127.0.0.2", [[AUTH_USER, PASSWORD]])).toEqual([454])
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
      Array.from({ length: SESSIONS }, () => [AUTH_USER, PASSWORD] as const)
    )
    expect(codes).toEqual(Array.from({ length: SESSIONS }, () => 235))
  })
})
