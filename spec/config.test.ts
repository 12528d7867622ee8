import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { applyEnv, decodeConfig, loadConfig, workerCount } from "../src/config.js"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const problems = (input: unknown): ReadonlyArray<string> => {
  const result = decodeConfig(input)
  if (Either.isRight(result)) throw new Error("expected an invalid configuration")
  const [head, ...lines] = result.left.message.split("\n")
  expect(head).toBe("invalid configuration:")
  return lines.map((l) => l.trim())
}

describe("configuration", () => {
  it("has defaults for everything", () => {
    const config = Either.getOrThrow(decodeConfig({}))
    expect(config.smtp.port).toBe(2525)
    expect(config.smtp.maxMessageSize).toBe(150 * 1024 * 1024)
    expect(config.smtp.earlyTalkerDelayMs).toBe(0)
    expect(config.downstreamTimeouts.dataMs).toBeGreaterThan(0)
  })

  it("names an unknown key", () => {
    const result = decodeConfig({ smtp: { prot: 25 } })
    expect(Either.isLeft(result)).toBe(true)
    expect(Either.isLeft(result) && result.left.message).toMatch(/prot/)
  })

  it("names a key with a wrong value", () => {
    const result = decodeConfig({ smtp: { port: 70000 } })
    expect(Either.isLeft(result) && result.left.message).toMatch(/port/)
    const tls = decodeConfig({ downstream: { host: "127.0.0.1", port: 25, tls: "sometimes" } })
    expect(Either.isLeft(tls) && tls.left.message).toMatch(/tls/)
  })

  it("lets IMPRINT_* environment variables override the file", () => {
    const merged = applyEnv(
      { smtp: { port: 2525, host: "127.0.0.1" } },
      { IMPRINT_SMTP_PORT: "2600", IMPRINT_DOWNSTREAM_HOST: "127.0.0.1", IMPRINT_DOWNSTREAM_PORT: "25" }
    )
    const config = Either.getOrThrow(decodeConfig(merged))
    expect(config.smtp.port).toBe(2600)
    expect(config.smtp.host).toBe("127.0.0.1")
    expect(config.downstream?.port).toBe(25)
  })

  it("keeps a downstream pool by default and turns it off with IMPRINT_DOWNSTREAM_POOL_MAX_IDLE=0", () => {
    const defaults = Either.getOrThrow(decodeConfig({}))
    expect(defaults.downstreamPool.maxIdlePerTarget).toBeGreaterThan(0)
    expect(defaults.downstreamPool.idleMs).toBeLessThan(defaults.downstreamPool.maxAgeMs)
    const off = Either.getOrThrow(decodeConfig(applyEnv({}, { IMPRINT_DOWNSTREAM_POOL_MAX_IDLE: "0" })))
    expect(off.downstreamPool.maxIdlePerTarget).toBe(0)
    expect(Either.isLeft(decodeConfig({ downstreamPool: { idleMs: 0 } }))).toBe(true)
  })

  it("has the abuse limits of issue 13 by default, each tighter than what it bounds", () => {
    const { smtp } = Either.getOrThrow(decodeConfig({}))
    expect(smtp.maxDataMs).toBe(600_000)
    expect(smtp.minDataRate).toBe(500)
    expect(smtp.dataRateWindowMs).toBe(30_000)
    expect(smtp.maxUnboundClients).toBeLessThan(smtp.maxClients)
    expect(smtp.maxConnectionsPerAddress).toBeLessThan(smtp.maxUnboundClients)
    expect(smtp.maxConnectionRatePerAddress).toBe(600)
    expect(smtp.idleBeforeMailMs).toBeLessThan(smtp.socketTimeoutMs)
    expect(smtp.releaseDownstreamAfterMs).toBeLessThan(smtp.socketTimeoutMs)
    expect(Either.isLeft(decodeConfig({ smtp: { maxUnboundClients: 0 } }))).toBe(true)
  })

  it("refuses an unknown IMPRINT_ variable by name", () => {
    expect(() => applyEnv({}, { IMPRINT_SMTP_PROT: "1" })).toThrow(/IMPRINT_SMTP_PROT/)
  })

  it("says in one line per wrong key: the key, the value, and what is allowed", () => {
    expect(problems({ smtp: { port: "x" } })).toEqual(['smtp.port: "x" is not allowed: expected an integer between 0 and 65535'])
    expect(problems({ smtp: { port: 70000, host: 3 } })).toEqual([
      "smtp.host: 3 is not allowed: expected a string",
      "smtp.port: 70000 is not allowed: expected an integer between 0 and 65535"
    ])
    expect(problems({ downstream: { host: "127.0.0.1", port: 25, tls: "sometimes" } })).toEqual([
      'downstream.tls: "sometimes" is not allowed: expected one of "required", "opportunistic", "none"'
    ])
    expect(problems({ downstreamPool: { idleMs: 0 }, admin: { enabled: "yes" } })).toEqual([
      'admin.enabled: "yes" is not allowed: expected true or false',
      "downstreamPool.idleMs: 0 is not allowed: expected a positive integer"
    ])
    expect(problems({ admin: { login: { codeTtlMinutes: 1000 } } })).toEqual([
      "admin.login.codeTtlMinutes: 1000 is not allowed: expected an integer between 1 and 240"
    ])
    expect(problems({ downstream: { port: 25 } })).toEqual(["downstream.host: missing: expected a non-empty string"])
    const [unknown] = problems({ smtp: { prot: 25 } })
    expect(unknown).toMatch(/^smtp\.prot: unknown key; allowed here: host, port, name, /)
  })

  it("names the IMPRINT_* variable a wrong value came from", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imprint-config-"))
    const file = path.join(dir, "imprint.json")
    fs.writeFileSync(file, JSON.stringify({ smtp: { host: "127.0.0.1" }, sync: { jitter: 2 } }))
    const error = await Effect.runPromise(Effect.flip(loadConfig(file, { IMPRINT_SMTP_PORT: "25x" })))
    fs.rmSync(dir, { recursive: true })
    expect(error.message.split("\n").map((l) => l.trim())).toEqual([
      "invalid configuration:",
      'smtp.port (IMPRINT_SMTP_PORT): "25x" is not allowed: expected an integer between 0 and 65535',
      "sync.jitter: 2 is not allowed: expected a number between 0 and 0.5"
    ])
  })

  it('runs one relay process unless workers says more; "auto" is one per core', () => {
    expect(Either.getOrThrow(decodeConfig({})).workers).toBe(1)
    const auto = Either.getOrThrow(decodeConfig(applyEnv({}, { IMPRINT_WORKERS: "auto" }))).workers
    expect(workerCount(auto, 16)).toBe(16)
    expect(workerCount(Either.getOrThrow(decodeConfig({ workers: 3 })).workers, 16)).toBe(3)
    expect(problems({ workers: 0 })[0]).toMatch(/^workers: 0 is not allowed/)
    expect(problems({ workers: "all" })[0]).toMatch(/^workers: "all" is not allowed/)
  })
})
