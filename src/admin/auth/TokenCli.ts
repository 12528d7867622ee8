import { Console, Effect } from "effect"
import { AdminRepo } from "../../store/AdminRepo.js"

/**
 * `imprint admin token create --name NAME | list | revoke ID`: operator API
 * tokens. The token is printed once, at creation; only its SHA-256 is kept,
 * so a lost token is revoked and replaced, never recovered. The command line's
 * grammar (and its help) is in src/Cli.ts; these checks only guard direct callers.
 */

export const ADMIN_USAGE = `  imprint admin token create --name NAME [--config FILE]
  imprint admin token list [--config FILE]
  imprint admin token revoke ID [--config FILE]`

const iso = (ms: number) => new Date(ms).toISOString()

export const adminCommand = (args: ReadonlyArray<string>, flags: Readonly<Record<string, string>>) =>
  Effect.gen(function* () {
    const repo = yield* AdminRepo
    const [resource, action, arg] = args
    if (resource !== "token") return yield* Effect.fail(new Error(`usage:\n${ADMIN_USAGE}`))
    switch (action) {
      case "create": {
        if (flags.name === undefined) return yield* Effect.fail(new Error(`--name is required\nusage:\n${ADMIN_USAGE}`))
        const { token, record } = yield* repo.createOperatorToken(flags.name)
        // the token alone on standard output, so that TOKEN=$(imprint admin token create …) works
        yield* Console.error(`operator token "${record.name}" (id ${record.id}) created; it is shown only this once:`)
        return yield* Console.log(token)
      }
      case "list": {
        for (const t of yield* repo.listOperatorTokens()) {
          yield* Console.log(`${t.id}\t${t.name}\tcreated ${iso(t.createdAt)}${t.revokedAt === undefined ? "" : `\trevoked ${iso(t.revokedAt)}`}`)
        }
        return
      }
      case "revoke": {
        if (arg === undefined) return yield* Effect.fail(new Error(`usage:\n${ADMIN_USAGE}`))
        if (!(yield* repo.revokeOperatorToken(arg))) return yield* Effect.fail(new Error(`no operator token has id ${arg} (see \`imprint admin token list\`)`))
        return yield* Console.log(`operator token ${arg} revoked`)
      }
      default:
        return yield* Effect.fail(new Error(`usage:\n${ADMIN_USAGE}`))
    }
  })
