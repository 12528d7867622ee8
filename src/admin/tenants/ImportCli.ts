import { Console, Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { StringDecoder } from "node:string_decoder"
import { tenantImport as checkedImports } from "../../actors/TenantImport.js"
import { type BatchEntry, type BatchReport, IMPORT_MODES, type ImportMode, TenantRepo } from "../../store/TenantRepo.js"

/**
 * `imprint tenant import PATH [--mode MODE]`: one tenant file (the old form,
 * answered with its summary as before), a folder of tenant files (`*.json`,
 * in name order) or a JSON-lines file (`*.jsonl`, one tenant per line) as one
 * batch (TenantImport.importBatch: checked, then TenantRepo.importBatch). The batch report is one line per tenant
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

/** bytes read from a .jsonl at a time: the file is read line by line, never whole */
const READ_CHUNK_BYTES = 1 << 20

const unreadable = (source: string, e: unknown): BatchEntry => ({ source, input: { [INVALID_JSON]: `${source}: cannot read: ${(e as Error).message}` } })

/** The non-blank lines of a JSON-lines file, parsed one at a time as the import pulls them. */
function* jsonLines(file: string): Generator<BatchEntry> {
  let fd: number
  try {
    fd = fs.openSync(file, "r")
  } catch (e) {
    yield unreadable(file, e)
    return
  }
  try {
    const decoder = new StringDecoder("utf8")
    const buffer = Buffer.alloc(READ_CHUNK_BYTES)
    let rest = ""
    let lineNo = 0
    for (;;) {
      let read: number
      try {
        read = fs.readSync(fd, buffer, 0, buffer.length, null)
      } catch (e) {
        // a failed tenant makes an all-or-nothing batch write nothing
        yield unreadable(`line ${lineNo + 1}`, e)
        return
      }
      const text = rest + (read === 0 ? decoder.end() : decoder.write(buffer.subarray(0, read)))
      const lines = text.split("\n")
      rest = read === 0 ? "" : lines.pop()!
      for (const line of lines) {
        lineNo++
        if (line.trim() !== "") yield { source: `line ${lineNo}`, input: parseJson(line, `line ${lineNo}`) }
      }
      if (read === 0) return
    }
  } finally {
    fs.closeSync(fd)
  }
}

/** A folder's `*.json` in name order, each read when the import pulls it. */
function* folderFiles(dir: string, names: ReadonlyArray<string>): Generator<BatchEntry> {
  for (const name of names) {
    let text: string
    try {
      text = fs.readFileSync(path.join(dir, name), "utf8")
    } catch (e) {
      yield unreadable(name, e)
      continue
    }
    yield { source: name, input: parseJson(text, name) }
  }
}

/**
 * The batch at `target`, read lazily (a folder file by file, a .jsonl line
 * by line), or undefined when it is a single tenant file.
 */
export const readBatch = (target: string): Effect.Effect<Iterable<BatchEntry> | undefined, Error> =>
  Effect.try({
    try: () => {
      if (fs.statSync(target).isDirectory()) {
        const names = fs
          .readdirSync(target)
          .filter((n) => n.endsWith(".json"))
          .sort()
        return { [Symbol.iterator]: () => folderFiles(target, names) }
      }
      if (!target.endsWith(".jsonl")) return undefined
      return { [Symbol.iterator]: () => jsonLines(target) }
    },
    catch: (e) => new Error(`cannot read ${target}: ${(e as Error).message}`)
  })

export const reportLines = (report: BatchReport): ReadonlyArray<string> => [
  ...report.tenants.map((t) => [t.status, t.tenantId ?? "-", t.source, t.status === "failed" ? t.message.replace(/\n/g, "; ") : ""].join("\t").trimEnd()),
  `${report.mode}: ${report.created} created, ${report.updated} updated, ${report.failed} failed` + (report.written ? "" : "; nothing written")
]

export const tenantImport = (target: string, mode: string | undefined) =>
  Effect.gen(function* () {
    const repo = checkedImports(yield* TenantRepo)
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
    const report = yield* repo.importBatch(batch, chosen)
    if (report.tenants.length === 0)
      return yield* Effect.fail(new Error(`${target} holds no tenants (a folder of *.json files or a .jsonl file, one tenant per line)`))
    for (const line of reportLines(report)) yield* Console.log(line)
    if (report.failed > 0)
      return yield* Effect.fail(new Error(`${report.failed} of ${report.tenants.length} tenants failed${report.written ? "" : "; nothing was written"}`))
  })
