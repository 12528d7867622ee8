/**
 * smtp-server 3.21 waits 100 ms before every greeting (an early-talker check
 * in SMTPConnection.init, no option upstream). patches/apply.mjs (the root
 * postinstall) turns that wait into the option `earlyTalkerDelayMs`. The perf
 * servers (sink, pass-through) set it to 0 so that the floors are not capped
 * at ~10 connections/s per session; this module says whether the installed
 * copy carries the patch, so a run without it is labelled, not mistaken.
 *
 * PERF_EARLY_TALKER_MS=<ms> overrides the delay (e.g. 100 to measure the
 * unpatched behaviour with the patched library).
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import type { SMTPServerOptions } from "smtp-server"

const PATCH_MARK = "earlyTalkerDelayMs"

/** true when the installed smtp-server reads the `earlyTalkerDelayMs` option */
export const earlyTalkerPatchApplied = (): boolean => {
  try {
    const entry = fileURLToPath(import.meta.resolve("smtp-server"))
    const connection = entry.replace(/smtp-server\.js$/, "smtp-connection.js")
    return readFileSync(connection, "utf8").includes(PATCH_MARK)
  } catch {
    return false
  }
}

/** the greeting delay the perf servers ask for (ms) */
export const earlyTalkerDelayMs = (): number => {
  const env = process.env.PERF_EARLY_TALKER_MS
  return env !== undefined && env !== "" ? Number(env) : 0
}

/**
 * Options for a perf smtp-server: the early-talker delay. The option is not in
 * @types/smtp-server, hence the cast; an unpatched smtp-server ignores it.
 */
export const fastGreetingOptions = (): Partial<SMTPServerOptions> => ({ earlyTalkerDelayMs: earlyTalkerDelayMs() }) as Partial<SMTPServerOptions>
