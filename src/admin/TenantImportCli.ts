import { Console, Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { type BatchEntry, type BatchReport, IMPORT_MODES, type ImportMode, TenantRepo } from "../store/TenantRepo.js"

/**
 * `imprint tenant import PATH [--mode MODE]`: one tenant file (the old form,
 * answered with its summary as before), a folder of tenant files (`*.json`,
 * in name order) or a JSON-lines file (`*.jsonl`, one tenant per line) as one
 * batch (TenantRepo.importBatch). The batch report is one line per tenant
 * (status, tenant, source, message) and a total; any failure exits 1.
 */

export const isImportMode = (mode: string): mode is ImportMode => (IMPORT_MODES as ReadonlyArray<string>).includes(mode)

const parseJson = (text: string, source: string): unknown => {
  try {
    return JSON.parse(text)
  } catch (e) {
    // decoding reports it as the tenant's problem; the other tenants still get checked
    return { [INVALID_JSON]: `${source}: not JSON: ${(e as Error).message}` }
  }
}
const INVALID_JSON = "invalid JSON"

/** The batch at `target`, or undefined when it is a single tenant file. */
export const readBatch = (target: string): Effect.Effect<ReadonlyArray<BatchEntry> | undefined, Error> =>
  Effect.try({
    try: () => {
      if (fs.statSync(target).isDirectory()) {
        const names = fs.readdirSync(target).filter((n) => n.endsWith(".json")).sort()
        return names.map((name) => ({ source: name, input: parseJson(fs.readFileSync(path.join(target, name), "utf8"), name) }))
      }
      if (!target.endsWith(".jsonl")) return undefined
      const entries: Array<BatchEntry> = []
      fs.readFileSync(target, "utf8").split("\n").forEach((line, i) => {
        if (line.trim() !== "") entries.push({ source: `line ${i + 1}`, input: parseJson(line, `line ${i + 1}`) })
      })
      return entries
    },
    catch: (e) => new Error(`cannot read ${target}: ${(e as Error).message}`)
  })

export const reportLines = (report: BatchReport): ReadonlyArray<string> => [
  ...report.tenants.map((t) => [t.status, t.tenantId ?? "-", t.source, t.status === "failed" ? t.message.replace(/\n/g, "; ") : ""].join("\t").trimEnd()),
  `${report.mode}: ${report.created} created, ${report.updated} updated, ${report.failed} failed` +
    (report.written ? "" : "; nothing written")
]

export const tenantImport = (target: string, mode: string | undefined) =>
  Effect.gen(function* () {
    const repo = yield* TenantRepo
    const chosen = mode ?? "all-or-nothing"
    if (!isImportMode(chosen)) return yield* Effect.fail(new Error(`--mode ${chosen}: expected ${IMPORT_MODES.join(" or ")}`))
    const batch = yield* readBatch(target)
    if (batch === undefined) {
      const input = yield* Effect.try({
        try: (): unknown => JSON.parse(fs.readFileSync(target, "utf8")),
        catch: (e) => new Error(`cannot read tenant file ${target}: ${(e as Error).message}`)
      })
      const summary = yield* repo.importTenant(input)
      return yield* Console.log(JSON.stringify(summary))
    }
    if (batch.length === 0) return yield* Effect.fail(new Error(`${target} holds no tenants (a folder of *.json files or a .jsonl file, one tenant per line)`))
    const report = yield* repo.importBatch(batch, chosen)
    for (const line of reportLines(report)) yield* Console.log(line)
    if (report.failed > 0) return yield* Effect.fail(new Error(`${report.failed} of ${batch.length} tenants failed${report.written ? "" : "; nothing was written"}`))
  })
