import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { readBatch, tenantImport } from "../../src/admin/tenants/ImportCli.js"
import { TenantRepo } from "../../src/store/TenantRepo.js"
import { RepoLayer } from "../actors/ActorTestLayer.js"
import { acmeFile } from "../store/TenantFixtures.js"

const tenant = (id: string, domains = [`${id}.example`]) => acmeFile({ id, domains, directory: [], connectors: [{ type: "cidr", cidrs: ["10.0.0.0/8"] }] })

const scratch = () => fs.mkdtempSync(path.join(os.tmpdir(), "imprint-import-cli-"))

/** what the command printed, and how it ended */
const run = (target: string, mode?: string) =>
  Effect.gen(function* () {
    const lines: Array<string> = []
    const current = yield* Effect.console
    const capture = { ...current, log: (...args: ReadonlyArray<unknown>) => Effect.sync(() => void lines.push(args.join(" "))) }
    const exit = yield* tenantImport(target, mode).pipe(Effect.withConsole(capture), Effect.exit)
    return { lines, exit }
  }).pipe(Effect.provide(Logger.remove(Logger.defaultLogger)))

describe("imprint tenant import", () => {
  it("reads a folder's *.json in name order and a .jsonl line by line, naming each source", () =>
    Effect.gen(function* () {
      const dir = scratch()
      fs.writeFileSync(path.join(dir, "b.json"), JSON.stringify(tenant("b")))
      fs.writeFileSync(path.join(dir, "a.json"), JSON.stringify(tenant("a")))
      fs.writeFileSync(path.join(dir, "notes.txt"), "not a tenant")
      expect(Array.from((yield* readBatch(dir))!).map((e) => e.source)).toEqual(["a.json", "b.json"])
      const lines = path.join(dir, "t.jsonl")
      fs.writeFileSync(lines, `${JSON.stringify(tenant("x"))}\n\n{not json\n${JSON.stringify(tenant("y"))}\n`)
      const batch = Array.from((yield* readBatch(lines))!)
      expect(batch.map((e) => e.source)).toEqual(["line 1", "line 3", "line 4"])
      expect(yield* readBatch(path.join(dir, "a.json"))).toBeUndefined()
    }).pipe(Effect.runPromise))

  it("reads a .jsonl in chunks: lines longer than a chunk and characters split between chunks arrive whole", () =>
    Effect.gen(function* () {
      const dir = scratch()
      const big = { ...tenant("big"), name: "Zoë ".repeat(400_000) }
      const small = { ...tenant("small"), name: "Åsa" }
      const file = path.join(dir, "t.jsonl")
      fs.writeFileSync(file, `${JSON.stringify(big)}\r\n${JSON.stringify(small)}`)
      const batch = Array.from((yield* readBatch(file))!)
      expect(batch.map((e) => e.source)).toEqual(["line 1", "line 2"])
      expect(batch.map((e) => e.input)).toEqual([big, small])
    }).pipe(Effect.runPromise))

  it.scoped("a batch prints a line per tenant and the totals; a failure exits non-zero, and all-or-nothing writes nothing", () =>
    Effect.gen(function* () {
      const dir = scratch()
      const file = path.join(dir, "t.jsonl")
      fs.writeFileSync(file, [tenant("one"), tenant("two", ["one.example"]), tenant("three")].map((t) => JSON.stringify(t)).join("\n"))
      const strict = yield* run(file)
      expect(strict.exit._tag).toBe("Failure")
      expect(strict.lines).toEqual([
        "not-written\tone\tline 1",
        expect.stringMatching(/^failed\ttwo\tline 2\tdomain one.example already belongs to tenant one \(earlier in this import\)/),
        "not-written\tthree\tline 3",
        "all-or-nothing: 0 created, 0 updated, 1 failed; nothing written"
      ])
      const repo = yield* TenantRepo
      expect(yield* repo.listTenants()).toEqual([])
      const lenient = yield* run(file, "per-tenant")
      expect(lenient.exit._tag).toBe("Failure")
      expect(lenient.lines.at(-1)).toBe("per-tenant: 2 created, 0 updated, 1 failed")
      expect((yield* repo.listTenants()).map((t) => t.id).sort()).toEqual(["one", "three"])
      expect((yield* run(file, "sometimes")).exit).toMatchObject({ _tag: "Failure" })
    }).pipe(Effect.provide(RepoLayer))
  )

  it.scoped("a single tenant file keeps the old form: its summary as JSON", () =>
    Effect.gen(function* () {
      const file = path.join(scratch(), "acme.json")
      fs.writeFileSync(file, JSON.stringify(tenant("acme")))
      const { lines, exit } = yield* run(file)
      expect(exit._tag).toBe("Success")
      expect(JSON.parse(lines[0]!)).toMatchObject({ tenantId: "acme", created: true })
    }).pipe(Effect.provide(RepoLayer))
  )
})
