import { expect, it } from "vitest"
import { authAtOnce } from "./RawSmtp.js"

/**
 * The AUTH throttle against attempts sent at the same moment on many sessions from one address, as
 * `it` cases in the calling `describe` (spec/e2e/AuthParallel: one process; spec/workers/NodeAuthThrottle:
 * two workers). Counted only once they failed, every attempt in flight would pass the throttle's check
 * before any had failed: a parallel guesser would get one verified guess per session, past the limit.
 * Each case uses its own source address (127.0.0.2 to 127.0.0.4).
 */
export const parallelAuthCases = (o: {
  /** the relay's SMTP port, once started */
  readonly port: () => number
  readonly user: string
  readonly password: string
  readonly perUser: number
  readonly perAddress: number
  readonly sessions: number
}) => {
  const count = (codes: ReadonlyArray<number>, code: number) => codes.filter((c) => c === code).length
  const atOnce = (localAddress: string, credentials: ReadonlyArray<readonly [string, string]>) => authAtOnce(o.port(), localAddress, credentials)

  it(`of ${o.sessions} wrong passwords for one username sent at once, at most ${o.perUser} are verified (535); the others are throttled (454)`, async () => {
    const codes = await atOnce(
      "127.0.0.2",
      Array.from({ length: o.sessions }, (_, i) => [o.user, `wrong-${i}`] as const)
    )
    expect(count(codes, 535) + count(codes, 454)).toBe(o.sessions)
    expect(count(codes, 535)).toBeLessThanOrEqual(o.perUser)
    // the right password, later, from the same address: throttled too
    expect(await atOnce("127.0.0.2", [[o.user, o.password]])).toEqual([454])
  })

  it(`of ${o.sessions} usernames sprayed at once from one address, at most ${o.perAddress} are verified`, async () => {
    const codes = await atOnce(
      "127.0.0.3",
      Array.from({ length: o.sessions }, (_, i) => [`user-${i}@nowhere`, "guess"] as const)
    )
    expect(count(codes, 535) + count(codes, 454)).toBe(o.sessions)
    expect(count(codes, 535)).toBeLessThanOrEqual(o.perAddress)
  })

  it(`a tenant's server opening ${o.sessions} sessions at once with the right password is not throttled`, async () => {
    const codes = await atOnce(
      "127.0.0.4",
      Array.from({ length: o.sessions }, () => [o.user, o.password] as const)
    )
    expect(codes).toEqual(Array.from({ length: o.sessions }, () => 235))
  })
}
