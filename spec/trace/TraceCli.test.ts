import { describe, expect, it } from "@effect/vitest"
import { vi } from "vitest"
import { Effect, Layer } from "effect"
import type { TraceRecord } from "../../src/domain/Trace.js"
import { traceCommand } from "../../src/trace/TraceCli.js"
import { TraceHashKey, TraceSearch } from "../../src/trace/TraceSearch.js"
import { makeId, TraceStore } from "../../src/trace/TraceStore.js"
import { tempDir, traceStoreAt } from "../store/TempStore.js"
import { entry } from "./TraceFixtures.js"

/** `imprint trace search|export` as main.ts runs it: the flags, a real trace store, what it prints. */

const TraceLayers = TraceSearch.Default.pipe(
  Layer.provideMerge(Layer.unwrapScoped(Effect.map(tempDir, traceStoreAt))),
  Layer.provide(Layer.succeed(TraceHashKey, Buffer.alloc(32, 3)))
)

const records: ReadonlyArray<TraceRecord> = [
  { id: makeId(1_000, 1), node: "n1", ...entry("acme", 1_000) },
  { id: makeId(2_000, 2), node: "n1", ...entry("acme", 2_000, { outcome: "rejected", reply: { code: 554, enhanced: "5.7.1", text: "no" } }) },
  { id: makeId(3_000, 3), node: "n1", ...entry("other", 3_000) }
] as ReadonlyArray<TraceRecord>

/** Runs the command and answers what it printed to stdout and stderr (Effect's default Console writes to console). */
const run = (args: ReadonlyArray<string>, flags: Record<string, string>) =>
  Effect.gen(function* () {
    const out: Array<string> = []
    const err: Array<string> = []
    const log = vi.spyOn(console, "log").mockImplementation((...a: Array<unknown>) => void out.push(a.join(" ")))
    const error = vi.spyOn(console, "error").mockImplementation((...a: Array<unknown>) => void err.push(a.join(" ")))
    yield* traceCommand(args, flags, "usage text").pipe(Effect.ensuring(Effect.sync(() => (log.mockRestore(), error.mockRestore()))))
    return { out: out.join("\n"), err: err.join("\n") }
  })

describe("imprint trace", () => {
  it.scoped("search prints one line per record, newest first, and how to get more", () =>
    Effect.gen(function* () {
      yield* (yield* TraceStore).write(records)
      const { out, err } = yield* run(["search"], { tenant: "acme", limit: "1" })
      expect(out.split("\t")).toEqual([
        new Date(2_000).toISOString(),
        "acme",
        "alice@acme.example -> bob@example.org",
        "<acme-2000@example>",
        "sender-not-in-directory",
        "rejected",
        "554 5.7.1"
      ])
      expect(err).toBe(`more: --cursor ${makeId(2_000, 2)}`)
      const next = yield* run(["search"], { tenant: "acme", cursor: makeId(2_000, 2), format: "json" })
      expect(JSON.parse(next.out).records.map((r: TraceRecord) => r.at)).toEqual([1_000])
      const all = yield* run(["export"], { outcome: "relayed" })
      expect(
        all.out
          .split("\r\n")
          .slice(1)
          .map((l) => l.split(",")[3])
      ).toEqual(["other", "acme"])
    }).pipe(Effect.provide(TraceLayers))
  )

  it.scoped("wrong flags are a usage error naming the flag", () =>
    Effect.gen(function* () {
      for (const [flags, says] of [
        [{ from: "last week" }, "--from last week"],
        [{ outcome: "lost" }, "--outcome lost"],
        [{ limit: "0" }, "--limit 0"],
        [{ cursor: "nope" }, "--cursor nope"],
        [{ format: "xml" }, "--format xml"]
      ] as const) {
        const e = yield* Effect.flip(run(["search"], flags))
        expect(e.message).toContain(says)
      }
      expect((yield* Effect.flip(run(["list"], {}))).message).toBe("usage text")
    }).pipe(Effect.provide(TraceLayers))
  )
})
