import { describe, expect, it } from "@effect/vitest"
import { Console, Effect, Layer, Option } from "effect"
import { adminCommand } from "../../src/admin/auth/TokenCli.js"
import { AdminRepo, digestToken, OPERATOR_TOKEN_DB, TOKEN_BYTES, TOKEN_PREFIX } from "../../src/store/AdminRepo.js"
import { Store } from "../../src/store/Store.js"
import { TempStorePath } from "../store/TempStore.js"

const AdminLayer = Layer.mergeAll(AdminRepo.Default, Store.Default).pipe(Layer.provide(TempStorePath))

/** Runs a CLI command with Console.log captured. */
const captureLog = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const lines: Array<string> = []
    const errors: Array<string> = []
    const console = yield* Console.consoleWith(Effect.succeed)
    const capturing: Console.Console = {
      ...console,
      log: (...args: ReadonlyArray<unknown>) => Effect.sync(() => void lines.push(args.join(" "))),
      error: (...args: ReadonlyArray<unknown>) => Effect.sync(() => void errors.push(args.join(" ")))
    }
    const result = yield* Effect.either(Effect.withConsole(effect, capturing))
    return { lines, errors, result }
  })

describe("AdminRepo operator tokens", () => {
  it.scoped("a token carries at least 128 random bits, is stored only as its SHA-256, and resolves", () =>
    Effect.gen(function* () {
      const repo = yield* AdminRepo
      const store = yield* Store
      const a = yield* repo.createOperatorToken("ci")
      const b = yield* repo.createOperatorToken("ci")
      expect(a.token.startsWith(TOKEN_PREFIX)).toBe(true)
      expect(Buffer.from(a.token.slice(TOKEN_PREFIX.length), "base64url").length).toBe(TOKEN_BYTES)
      expect(TOKEN_BYTES * 8).toBeGreaterThanOrEqual(128)
      expect(a.token).not.toBe(b.token)
      expect(a.record.id).not.toBe(b.record.id)

      const stored = yield* store.rawEntries(OPERATOR_TOKEN_DB, "")
      expect(stored.map((e) => e.key).sort()).toEqual([`operator-token/${digestToken(a.token)}`, `operator-token/${digestToken(b.token)}`].sort())
      const secret = a.token.slice(TOKEN_PREFIX.length)
      for (const e of stored) {
        expect(e.key).not.toContain(secret)
        expect(Buffer.from(e.bytes).toString("latin1")).not.toContain(secret)
      }
      expect(Option.map(yield* repo.resolveOperatorToken(a.token), (r) => r.id)).toEqual(Option.some(a.record.id))
    }).pipe(Effect.provide(AdminLayer))
  )

  it.scoped("unknown, malformed, oversized and revoked tokens do not resolve; revoking is idempotent", () =>
    Effect.gen(function* () {
      const repo = yield* AdminRepo
      const { token, record } = yield* repo.createOperatorToken("to revoke")
      for (const t of ["", "imp_op_", `${TOKEN_PREFIX}${"A".repeat(43)}`, token.slice(TOKEN_PREFIX.length), `${token}${"x".repeat(300)}`]) {
        expect(Option.isNone(yield* repo.resolveOperatorToken(t)), t).toBe(true)
      }
      expect(yield* repo.revokeOperatorToken(record.id)).toBe(true)
      expect(yield* repo.revokeOperatorToken(record.id)).toBe(true)
      expect(yield* repo.revokeOperatorToken("no-such-id")).toBe(false)
      expect(Option.isNone(yield* repo.resolveOperatorToken(token))).toBe(true)
      const listed = yield* repo.listOperatorTokens()
      expect(listed.find((t) => t.id === record.id)?.revokedAt).toBeTypeOf("number")
    }).pipe(Effect.provide(AdminLayer))
  )

  it.scoped("names must be 1-100 printable characters", () =>
    Effect.gen(function* () {
      const repo = yield* AdminRepo
      for (const name of ["", "   ", "x".repeat(101), "line\nbreak"]) {
        expect((yield* Effect.flip(repo.createOperatorToken(name)))._tag).toBe("InvalidTokenName")
      }
      expect((yield* repo.createOperatorToken("  padded  ")).record.name).toBe("padded")
    }).pipe(Effect.provide(AdminLayer))
  )
})

describe("imprint admin token (CLI)", () => {
  it.scoped("create prints the token once; list shows it without the secret; revoke marks it", () =>
    Effect.gen(function* () {
      const repo = yield* AdminRepo
      const created = yield* captureLog(adminCommand(["token", "create"], { name: "deploy bot" }))
      expect(created.result._tag).toBe("Right")
      // the token alone on standard output (TOKEN=$(imprint admin token create …)), the note on standard error
      expect(created.lines).toHaveLength(1)
      const token = created.lines[0]
      expect(token.startsWith(TOKEN_PREFIX)).toBe(true)
      const record = Option.getOrThrow(yield* repo.resolveOperatorToken(token))
      expect(record.name).toBe("deploy bot")
      expect(created.errors[0]).toContain(record.id)

      const listed = yield* captureLog(adminCommand(["token", "list"], {}))
      expect(listed.lines).toHaveLength(1)
      expect(listed.lines[0]).toMatch(new RegExp(`^${record.id}\tdeploy bot\tcreated `))
      expect(listed.lines.join("\n")).not.toContain(token.slice(TOKEN_PREFIX.length))

      const revoked = yield* captureLog(adminCommand(["token", "revoke", record.id], {}))
      expect(revoked.lines).toEqual([`operator token ${record.id} revoked`])
      expect(Option.isNone(yield* repo.resolveOperatorToken(token))).toBe(true)
      expect((yield* captureLog(adminCommand(["token", "list"], {}))).lines[0]).toContain("revoked ")
    }).pipe(Effect.provide(AdminLayer))
  )

  it.scoped("usage errors: no --name, unknown id, unknown subcommand", () =>
    Effect.gen(function* () {
      const noName = yield* captureLog(adminCommand(["token", "create"], {}))
      expect(noName.result._tag === "Left" && String(noName.result.left.message)).toContain("--name is required")
      const unknownId = yield* captureLog(adminCommand(["token", "revoke", "nope"], {}))
      expect(unknownId.result._tag === "Left" && String((unknownId.result.left as Error).message)).toContain("no operator token has id nope")
      const other = yield* captureLog(adminCommand(["user", "create"], {}))
      expect(other.result._tag).toBe("Left")
    }).pipe(Effect.provide(AdminLayer))
  )
})
