#!/usr/bin/env node
/**
 * The house's import rules (DESIGN.md, "Who may import whom"), checked over src/:
 * every relative import (static, `export … from`, dynamic `import("…")`, type-only too)
 * between two rooms must be allowed by ROOMS below, and no file may reach itself through
 * its imports (a cycle). Known violations are listed in ALLOWED with the issue that
 * removes them; an allowed edge that no longer exists is reported, not failed (another
 * branch may have fixed it first).
 *
 *   node tools/check-imports.mjs          prints the violations, exits 1 if any
 *
 * Also: no file imports a package's barrel that BARRELS names (each module by its own path),
 * inside pipeline/ the stages import only along the wire (WIRE), never the pipeline's root files,
 * and main.ts reaches no module of the admin API by static imports (NOT_LOADED_BY_SERVE).
 *
 * spec/ImportRules.test.ts runs it inside `npm test`. A script of our own rather than
 * dependency-cruiser: the rules are a dozen lines, and it needs no dependency
 * (dependency-cruiser 16 also wants a newer TypeScript resolver setup than this tree's).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/**
 * Rooms and whom they may import (besides themselves). A room is the first folder under
 * src/, or a named group of the top-level files. "*" allows every room.
 */
export const ROOMS = {
  // the composition root and the CLI around it: every Layer is built here
  main: ["*"],
  // configuration file + environment (config.ts, its errors, secret files): imports domain only
  config: ["domain"],
  // ambient declarations for untyped packages
  types: [],
  domain: ["types"],
  signature: ["domain", "types"],
  store: ["domain", "config", "types"],
  actors: ["signature", "store", "domain", "config", "types"],
  sync: ["store", "domain", "config", "types"],
  // the data plane: domain (ControlPlane), store (fail-safe memory), configuration
  pipeline: ["domain", "store", "config", "types"],
  // rooms the DESIGN layout does not name yet: each imports what a leaf of its kind may
  directory: ["sync", "store", "images", "domain", "config", "types"],
  trace: ["store", "domain", "config", "types"],
  cluster: ["store", "domain", "config", "types"],
  images: ["store", "domain", "config", "types"],
  // workers: N (node:cluster): the primary's supervisor and the channel to the workers; the pipeline's AUTH throttle peers
  workers: ["pipeline", "domain", "config", "types"],
  // demo seeds its tenant through actors/TenantImport (checked like any import) and its images through images/ImageLibrary
  demo: ["actors", "images", "signature", "store", "domain", "config", "types"],
  // admin → actors, sync, signature, store, domain, and the feature rooms it serves
  admin: ["actors", "sync", "signature", "store", "domain", "config", "trace", "directory", "cluster", "images", "types"]
}

/** top-level files of src/ and their room */
const TOP_LEVEL = {
  "main.ts": "main",
  "Cli.ts": "main",
  "Server.ts": "main",
  "AdminRoot.ts": "main",
  "ImageRoot.ts": "main",
  "Listeners.ts": "main",
  "StarterFiles.ts": "main",
  "LogOutput.ts": "main",
  "config.ts": "config",
  "ConfigErrors.ts": "config",
  "Secrets.ts": "config"
}

/**
 * Imports against the direction, known and left for now: "from → to" (paths under src/).
 * Each names the issue whose work removes it.
 */
export const ALLOWED = {}

/**
 * The admin API's contracts name only Schemas: admin/Api.ts (the whole API), each feature's
 * admin/<feature>/Api.ts (and a second *Api.ts of a feature, such as rules/PreviewApi.ts),
 * its Errors.ts and the report schemas they share (tenants/ImportReport.ts), and the error
 * family (http/Errors.ts, http/ApiError.ts). They import domain/ and the admin room's own
 * files, never a repository, an actor or the sync (STYLE.md: the contract imports only
 * Schema and platform; shared views live in domain/).
 */
const CONTRACT = /^admin\/(?:[a-z]+\/)?(?:[A-Za-z]*Api|Errors|ApiError|ImportReport)\.ts$/
const CONTRACT_MAY = ["admin", "domain", "types"]

/**
 * Inside the pipeline room, the stretches of the wire in their order (DESIGN.md: "pipeline → its
 * own sub-folders in wire order"). A file of a stage, `pipeline/<stage>/…`, imports its own stage
 * and later ones, never an earlier stage, and never the pipeline's root files (Inbound, DataPhase,
 * Transaction, RelayError, …): the root composes the stages, and each stage owns its errors
 * (inbound/InboundError, headers/HeadersError, downstream/DownstreamError) with RelayError
 * composed above them (issue 16 item 1). A sub-folder of pipeline/ not named here is reported.
 */
export const WIRE = ["inbound", "headers", "mime", "downstream"]

/** the stage of a file under pipeline/: its sub-folder, "" for the root's files, undefined outside pipeline/ */
const stageOf = (rel) => {
  const parts = rel.split("/")
  if (parts[0] !== "pipeline") return undefined
  return parts.length === 2 ? "" : parts[1]
}

/** an import inside pipeline/ against the wire's order, or undefined */
const wireViolation = (from, to) => {
  const a = stageOf(from)
  const b = stageOf(to)
  if (a === undefined || b === undefined || a === "" || a === b) return undefined
  if (b === "") return `${from} → ${to}: a stage of the wire (pipeline/${a}/) may not import the pipeline's root files (tools/check-imports.mjs, WIRE)`
  if (WIRE.includes(a) && WIRE.includes(b) && WIRE.indexOf(b) < WIRE.indexOf(a))
    return `${from} → ${to}: pipeline/${a}/ may not import pipeline/${b}/, earlier on the wire (${WIRE.join(" → ")}; tools/check-imports.mjs, WIRE)`
  return undefined
}

/**
 * Barrels that cost memory for nothing: in Node's ESM every module a barrel re-exports is
 * loaded and kept, used or not. "@effect/platform" brings HttpApiScalar's and HttpApiSwagger's
 * UI bundles (two JavaScript strings of 6.5 and 3.5 MB, each kept twice) and "@effect/platform-node"
 * brings @effect/cluster, @effect/rpc and their kin: 23 MB of the idle relay's live heap
 * (issue 16, README "Where the code lives"). Import the module itself:
 * `import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"`. The "effect" barrel
 * stays (it costs 2 MB over the 44 modules Imprint names, measured the same way).
 */
export const BARRELS = ["@effect/platform", "@effect/platform-node"]

const PACKAGE_IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^"';]*?from\s+["']([^"'.][^"']*)["']|(?:^|\n)\s*import\s+["']([^"'.][^"']*)["']|import\(\s*["']([^"'.][^"']*)["']\s*\)/g

/** imports of a package barrel named in BARRELS: "file → package" */
export const barrelImports = (src) =>
  listFiles(src).flatMap((file) => {
    const rel = path.relative(src, file).split(path.sep).join("/")
    return [...fs.readFileSync(file, "utf8").matchAll(PACKAGE_IMPORT)]
      .map((m) => m[1] ?? m[2] ?? m[3])
      .filter((spec) => BARRELS.includes(spec))
      .map((spec) => `${rel} → ${spec}: import the module itself ("${spec}/<Module>"), not the barrel (tools/check-imports.mjs, BARRELS)`)
  })

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^"';]*?from\s+["'](\.{1,2}\/[^"']+)["']|(?:^|\n)\s*import\s+["'](\.{1,2}\/[^"']+)["']|import\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g

const listFiles = (dir) =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name)
    return e.isDirectory() ? listFiles(p) : /\.tsx?$/.test(e.name) ? [p] : []
  })

const roomOf = (rel) => {
  const parts = rel.split("/")
  return parts.length === 1 ? (TOP_LEVEL[parts[0]] ?? "main") : parts[0]
}

/** the import graph of src/: file (relative, "/"-separated) → files it imports */
export const importGraph = (src) => {
  const graph = new Map()
  for (const file of listFiles(src)) {
    const rel = path.relative(src, file).split(path.sep).join("/")
    const text = fs.readFileSync(file, "utf8")
    const targets = new Set()
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3]
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(rel), spec)).replace(/\.js$/, ".ts")
      if (!target.startsWith("..")) targets.add(target)
    }
    graph.set(rel, targets)
  }
  return graph
}

/**
 * What `imprint serve`, and every worker of `workers: N` with it, loads: the files `main.ts`
 * reaches by static imports (a dynamic `import("…")` loads only when it runs; a type-only import
 * loads nothing). A worker serves SMTP only, so none of these may be a module of the admin API
 * or the image listener:
 * Server.ts and main.ts import those where the admin API or a CLI starts (issue 16; perf/issue-16.md,
 * "a big stamped text part, and what a worker loads").
 */
export const SERVE_ENTRY = "main.ts"
export const NOT_LOADED_BY_SERVE = /^(?:admin\/|AdminRoot\.ts$|ImageRoot\.ts$|images\/ImageServer\.ts$)/

const STATIC_IMPORT = /(?:^|\n)\s*(import|export)(\s+type\b)?\s[^"';]*?from\s+["'](\.{1,2}\/[^"']+)["']|(?:^|\n)\s*import\s+["'](\.{1,2}\/[^"']+)["']/g

/** the files `entry` reaches by static, value imports, each with the chain that reaches it */
export const staticReach = (src, entry) => {
  const via = new Map([[entry, [entry]]])
  const queue = [entry]
  while (queue.length > 0) {
    const rel = queue.shift()
    const file = path.join(src, rel)
    if (!fs.existsSync(file)) continue
    for (const m of fs.readFileSync(file, "utf8").matchAll(STATIC_IMPORT)) {
      if (m[2] !== undefined) continue
      const spec = m[3] ?? m[4]
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(rel), spec)).replace(/\.js$/, ".ts")
      if (target.startsWith("..") || via.has(target)) continue
      via.set(target, [...via.get(rel), target])
      queue.push(target)
    }
  }
  return via
}

/** strongly connected components with more than one file, or a file importing itself (Tarjan) */
export const cycles = (graph) => {
  let index = 0
  const idx = new Map()
  const low = new Map()
  const stack = []
  const onStack = new Set()
  const found = []
  const visit = (v) => {
    idx.set(v, index)
    low.set(v, index++)
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue
      if (!idx.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v), low.get(w)))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)))
    }
    if (low.get(v) === idx.get(v)) {
      const component = []
      let w
      do {
        w = stack.pop()
        onStack.delete(w)
        component.push(w)
      } while (w !== v)
      if (component.length > 1 || (graph.get(v)?.has(v) ?? false)) found.push(component.sort())
    }
  }
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v)
  return found
}

/** what breaks the rules: imports against the direction (not allow-listed) and cycles */
export const check = (src) => {
  const graph = importGraph(src)
  const violations = []
  const used = new Set()
  for (const [from, targets] of graph) {
    const a = roomOf(from)
    const allowed = ROOMS[a]
    for (const to of targets) {
      const b = roomOf(to)
      if (CONTRACT.test(from) && !CONTRACT_MAY.includes(b)) {
        violations.push(`${from} → ${to}: an admin contract imports only domain/ and admin/ (STYLE.md, the admin API contract)`)
        continue
      }
      const wire = wireViolation(from, to)
      if (wire !== undefined) {
        violations.push(wire)
        continue
      }
      if (a === b || allowed === undefined || allowed.includes("*") || allowed.includes(b)) continue
      const key = `${from} → ${to}`
      if (key in ALLOWED) used.add(key)
      else violations.push(`${key}: ${a} may not import ${b} (DESIGN.md, "Who may import whom")`)
    }
  }
  const unknownRooms = [...new Set([...graph.keys()].map(roomOf))].filter((r) => !(r in ROOMS))
  for (const r of unknownRooms) violations.push(`src/${r}/: a room with no rule; add it to ROOMS in tools/check-imports.mjs`)
  const unknownStages = [...new Set([...graph.keys()].map(stageOf))].filter((s) => s !== undefined && s !== "" && !WIRE.includes(s))
  for (const s of unknownStages) violations.push(`src/pipeline/${s}/: a stretch of the wire with no place in WIRE; add it to WIRE in tools/check-imports.mjs`)
  for (const c of cycles(graph)) violations.push(`cycle: ${c.join(" ⇄ ")}`)
  violations.push(...barrelImports(src))
  for (const [file, chain] of staticReach(src, SERVE_ENTRY)) {
    // the first such file on a chain is the one to load dynamically; what it imports follows it
    if (NOT_LOADED_BY_SERVE.test(file) && !chain.slice(0, -1).some((f) => NOT_LOADED_BY_SERVE.test(f))) {
      violations.push(
        `${chain.join(" → ")}: serve and every worker would load it; import it dynamically where it runs (tools/check-imports.mjs, NOT_LOADED_BY_SERVE)`
      )
    }
  }
  const stale = Object.keys(ALLOWED).filter((k) => !used.has(k))
  return { files: graph.size, violations, stale }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "src")
  const { files, violations, stale } = check(src)
  for (const s of stale) console.log(`note: allow-listed import no longer present (remove it from ALLOWED): ${s}`)
  for (const v of violations) console.error(v)
  console.log(`check-imports: ${files} files, ${violations.length} violation(s), ${Object.keys(ALLOWED).length - stale.length} allow-listed`)
  if (violations.length > 0) process.exit(1)
}
