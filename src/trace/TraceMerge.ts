import type { TraceRecord } from "../domain/Trace.js"
import { ID_PATTERN } from "./TraceStore.js"

/**
 * Merging the trace pages of several nodes into one page, newest first, with a
 * cursor that pages on exactly (README "Message trace", "Several nodes").
 *
 * Each node answers a page of its own records below the position the cursor
 * holds for it. A node's page is complete between that position and its
 * `next` (every match there is in it), so a merged record is safe to give out
 * only at or above the highest `next` of the pages that stopped early: below
 * it, that node may hold records it has not shown yet. The merged page is the
 * first `limit` safe records in (id, node) order, descending; a record id is
 * time-ordered within a node and two nodes may use the same id, so the node
 * name breaks ties.
 *
 * The cursor keeps, per node, the id to continue below ("" for from the top,
 * null when the node has nothing more) and the id of the last record given
 * out (`at`). A node the cursor does not name (it did not answer before, or it
 * joined since) continues below `at`: what it holds above that point was on
 * pages already given out, which said they were partial.
 */

export interface MergedCursor {
  /** id of the last record given out */
  readonly at?: string | undefined
  /** per node: continue below this id; "" from the top; null: nothing more */
  readonly nodes: Readonly<Record<string, string | null>>
}

/** One node's answer, asked with `before` (undefined: from the top). */
export interface NodePage {
  readonly node: string
  readonly before?: string | undefined
  readonly records: ReadonlyArray<TraceRecord>
  readonly next?: string | undefined
}

export interface MergedPage {
  readonly records: ReadonlyArray<TraceRecord>
  /** absent when every node that answered has nothing more */
  readonly next?: MergedCursor | undefined
}

export const CURSOR_PREFIX = "m1."

export const encodeCursor = (c: MergedCursor): string => CURSOR_PREFIX + Buffer.from(JSON.stringify(c), "utf8").toString("base64url")

const isPosition = (v: unknown): v is string | null => v === null || v === "" || (typeof v === "string" && ID_PATTERN.test(v))

/** undefined for anything this module did not write */
export const decodeCursor = (s: string): MergedCursor | undefined => {
  if (!s.startsWith(CURSOR_PREFIX)) return undefined
  try {
    const v: unknown = JSON.parse(Buffer.from(s.slice(CURSOR_PREFIX.length), "base64url").toString("utf8"))
    if (typeof v !== "object" || v === null) return undefined
    const { at, nodes } = v as { at?: unknown; nodes?: unknown }
    if (at !== undefined && !(typeof at === "string" && ID_PATTERN.test(at))) return undefined
    if (typeof nodes !== "object" || nodes === null || Array.isArray(nodes)) return undefined
    if (!Object.values(nodes).every(isPosition)) return undefined
    return { at: at as string | undefined, nodes: nodes as Record<string, string | null> }
  } catch {
    return undefined
  }
}

/**
 * Where `node` continues: an id to scan below, "top" for from the newest, or
 * "done". A node the cursor does not name continues below its `at`.
 */
export const positionOf = (cursor: MergedCursor | undefined, node: string): string | "top" | "done" => {
  if (cursor === undefined) return "top"
  const p = cursor.nodes[node]
  if (p === null) return "done"
  if (p === "") return "top"
  if (p !== undefined) return p
  return cursor.at ?? "top"
}

/** (id, node) descending: newest first, ties by node name. */
const newerFirst = (a: { id: string; node: string }, b: { id: string; node: string }): number =>
  a.id < b.id ? 1 : a.id > b.id ? -1 : a.node < b.node ? 1 : a.node > b.node ? -1 : 0

/**
 * The merged page of `pages` (the nodes that answered), at most `limit`
 * records, and the cursor after it. Nodes absent from `pages` keep their place
 * in `prior`.
 */
export const mergePages = (pages: ReadonlyArray<NodePage>, limit: number, prior: MergedCursor | undefined): MergedPage => {
  let threshold: string | undefined
  for (const p of pages) if (p.next !== undefined && (threshold === undefined || p.next > threshold)) threshold = p.next
  const all = pages.flatMap((p) => p.records.map((record) => ({ id: record.id, node: p.node, record })))
  all.sort(newerFirst)
  const safe = threshold === undefined ? all : all.filter((r) => r.id >= threshold!)
  const given = safe.slice(0, limit)

  const nodes: Record<string, string | null> = { ...(prior?.nodes ?? {}) }
  let more = false
  for (const p of pages) {
    const mine = given.filter((r) => r.node === p.node)
    if (mine.length < p.records.length) {
      // some of this node's records wait for a later page: continue right below the last one given out
      nodes[p.node] = mine.length > 0 ? mine[mine.length - 1].id : (p.before ?? "")
      more = true
    } else if (p.next !== undefined) {
      nodes[p.node] = p.next
      more = true
    } else nodes[p.node] = null
  }
  const at = given.length > 0 ? given[given.length - 1].id : prior?.at
  return { records: given.map((r) => r.record), next: more ? { at, nodes } : undefined }
}
