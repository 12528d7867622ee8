import { Console, Duration, Effect, Fiber, Option } from "effect"
import type { TenantId } from "../domain/Tenant.js"
import * as Keys from "../store/Keys.js"
import { Db } from "../store/Keys.js"
import { Store } from "../store/Store.js"
import { DirectorySync } from "./DirectorySync.js"
import type { SyncStatus } from "../domain/SyncSettings.js"

/**
 * `imprint directory sync TENANT`: one pass against the configured sources,
 * in this process, on the same data folder as the server (whose actors pick
 * the changes up from the store). A progress bar on a terminal, one line of
 * counts per update otherwise; a failed pass exits non-zero with its error.
 */

export const DIRECTORY_USAGE = "  imprint directory sync TENANT [--config FILE]"
/** how often the status is read for the progress display */
export const PROGRESS_POLL = Duration.millis(250)
const BAR_WIDTH = 30

/** Sources do not say how many users they have: the cached directory's size is the estimate (none on a first sync). */
const bar = (seen: number, estimate: number): string => {
  if (estimate <= 0) return ""
  const fraction = Math.min(seen / estimate, 0.99)
  const filled = Math.round(fraction * BAR_WIDTH)
  return `[${"#".repeat(filled)}${".".repeat(BAR_WIDTH - filled)}] ${String(Math.floor(fraction * 100)).padStart(2)}% `
}

const countsLine = (s: SyncStatus) => `seen ${s.counts.seen}, upserted ${s.counts.upserted}, removed ${s.counts.removed}, rejected ${s.counts.rejected}`

export const directoryCommand = (args: ReadonlyArray<string>, usage: string) =>
  Effect.gen(function* () {
    const [sub, tenantId] = args
    if (sub !== "sync" || tenantId === undefined) return yield* Effect.fail(new Error(usage))
    const sync = yield* DirectorySync
    const store = yield* Store
    const estimate = (yield* store.keys(Db.users, Keys.userPrefix(tenantId as TenantId))).length
    const tty = process.stderr.isTTY === true
    const pass = yield* Effect.fork(sync.runOnce(tenantId))
    let last = ""
    while (Option.isNone(yield* Fiber.poll(pass))) {
      yield* Effect.sleep(PROGRESS_POLL)
      const s = yield* sync.status(tenantId)
      if (s.state !== "running") continue
      const line = `${bar(s.counts.seen, estimate)}${countsLine(s)}${s.currentSource ? ` (${s.currentSource})` : ""}`
      if (line === last) continue
      last = line
      yield* Effect.sync(() => (tty ? process.stderr.write(`\r\u001b[2K${line}`) : process.stderr.write(`${line}\n`)))
    }
    const final = yield* Fiber.join(pass)
    if (tty && last !== "") yield* Effect.sync(() => process.stderr.write("\r\u001b[2K"))
    if (final.state === "failed") {
      return yield* Effect.fail(
        new Error(`directory sync of ${tenantId} failed (${countsLine(final)}); the cached directory is kept: ${final.lastError ?? "unknown error"}`)
      )
    }
    yield* Console.log(`directory sync of ${tenantId} done (${final.mode ?? "?"}): ${countsLine(final)}`)
  })
