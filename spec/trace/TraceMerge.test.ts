import { describe, expect, it } from "vitest"
import { TraceRecord } from "../../src/domain/Trace.js"
import { CURSOR_PREFIX, decodeCursor, encodeCursor, type MergedCursor, mergePages, type NodePage, positionOf } from "../../src/trace/TraceMerge.js"
import { makeId } from "../../src/trace/TraceStore.js"
import { entry } from "./TraceFixtures.js"

/**
 * The merge of several nodes' trace pages (TraceMerge): paging through every
 * node's records gives each exactly once, newest first, whatever the page
 * size, however the nodes' pages stop (full, or their scan budget), with ids
 * that collide across nodes; a node that does not answer keeps its place.
 */

const record = (node: string, ms: number, seq: number) => new TraceRecord({ ...entry("acme", ms), id: makeId(ms, seq), node })

/** A node's store as TraceSearch pages it: newest first below `before`, `limit` matches, at most `budget` looked at. */
const nodeStore = (node: string, records: ReadonlyArray<TraceRecord>, budget: number, match: (r: TraceRecord) => boolean = () => true) => {
  const sorted = [...records].sort((a, b) => (a.id < b.id ? 1 : -1))
  return (position: string | "top", limit: number): NodePage => {
    const below = position === "top" ? sorted : sorted.filter((r) => r.id < position)
    const out: Array<TraceRecord> = []
    let scanned = 0
    for (const r of below) {
      if (out.length === limit || scanned === budget)
        return { node, before: position === "top" ? undefined : position, records: out, next: below[scanned - 1].id }
      scanned++
      if (match(r)) out.push(r)
    }
    return { node, before: position === "top" ? undefined : position, records: out }
  }
}

type Store = ReturnType<typeof nodeStore>

/** Pages through the merge until no `next`; `down` names nodes that do not answer on a given page. */
const pageThrough = (stores: Record<string, Store>, limit: number, down: (page: number) => ReadonlyArray<string> = () => []) => {
  const pages: Array<ReadonlyArray<TraceRecord>> = []
  let cursor: MergedCursor | undefined
  for (let n = 0; n < 10_000; n++) {
    const asked = Object.entries(stores).filter(([node]) => !down(n).includes(node))
    const answers = asked.flatMap(([node, store]) => {
      const p = positionOf(cursor, node)
      return p === "done" ? [] : [store(p, limit)]
    })
    const merged = mergePages(answers, limit, cursor)
    pages.push(merged.records)
    if (merged.next === undefined) return pages
    // every cursor goes through its text form, as it does through the API
    cursor = decodeCursor(encodeCursor(merged.next))
    expect(cursor).toEqual(merged.next)
  }
  throw new Error("paging did not end")
}

const order = (records: ReadonlyArray<TraceRecord>) => records.map((r) => `${r.id}:${r.node}`)
const newestFirst = (records: ReadonlyArray<TraceRecord>) => [...records].sort((a, b) => (a.id !== b.id ? (a.id < b.id ? 1 : -1) : a.node < b.node ? 1 : -1))

describe("TraceMerge", () => {
  const base = 1_765_000_000_000
  // node a: every 3 ms; node b: every 5 ms, the same ids as a where they meet; node c: a burst, then quiet
  const a = Array.from({ length: 40 }, (_, i) => record("a", base + 3 * i, 1))
  const b = Array.from({ length: 25 }, (_, i) => record("b", base + 5 * i, 1))
  const c = Array.from({ length: 12 }, (_, i) => record("c", base + 100 + i, 7))
  const everything = newestFirst([...a, ...b, ...c])

  it("gives every node's records once, newest first, for any page size (full pages and budget stops)", () => {
    for (const limit of [1, 2, 3, 7, 50]) {
      for (const budget of [1, 4, 1_000]) {
        const pages = pageThrough({ a: nodeStore("a", a, budget), b: nodeStore("b", b, budget), c: nodeStore("c", c, budget) }, limit)
        expect(order(pages.flat()), `limit ${limit}, budget ${budget}`).toEqual(order(everything))
        for (const p of pages) expect(p.length).toBeLessThanOrEqual(limit)
      }
    }
  })

  it("merges sparse matches: a node whose page stopped on its budget holds the others back, never reorders them", () => {
    const rare = (r: TraceRecord) => r.id.endsWith("0-000000001") || r.node !== "a"
    const pages = pageThrough({ a: nodeStore("a", a, 2, rare), b: nodeStore("b", b, 1_000) }, 4)
    expect(order(pages.flat())).toEqual(order(newestFirst([...a.filter(rare), ...b])))
  })

  it("a node that misses a page continues below the last record given out, in order, with nothing twice", () => {
    const stores = { a: nodeStore("a", a, 1_000), b: nodeStore("b", b, 1_000) }
    const pages = pageThrough(stores, 5, (n) => (n < 2 ? ["b"] : []))
    const seen = order(pages.flat())
    expect(new Set(seen).size).toBe(seen.length)
    // the first two pages are a's newest ten; after them both nodes' records below the tenth, merged
    const cut = a[a.length - 10].id
    expect(seen).toEqual(order([...newestFirst(a).slice(0, 10), ...newestFirst([...a, ...b].filter((r) => r.id < cut))]))
  })

  it("an exhausted node is not asked again; no next once every node that answered is done", () => {
    const merged = mergePages(
      [
        { node: "a", records: [a[0]] },
        { node: "b", records: [] }
      ],
      10,
      undefined
    )
    expect(merged.next).toBeUndefined()
    const more = mergePages(
      [
        { node: "a", records: [a[1], a[0]] },
        { node: "b", records: [] }
      ],
      1,
      undefined
    )
    expect(more.next?.nodes).toEqual({ a: a[1].id, b: null })
    expect(positionOf(more.next, "b")).toBe("done")
    expect(positionOf(more.next, "new-node")).toBe(a[1].id)
  })

  it("refuses cursors it did not write", () => {
    expect(decodeCursor("1765000000000-000000001")).toBeUndefined()
    expect(decodeCursor(`${CURSOR_PREFIX}not-base64-json`)).toBeUndefined()
    expect(decodeCursor(CURSOR_PREFIX + Buffer.from(JSON.stringify({ nodes: { a: "x" } })).toString("base64url"))).toBeUndefined()
    expect(decodeCursor(CURSOR_PREFIX + Buffer.from(JSON.stringify({ at: 5, nodes: {} })).toString("base64url"))).toBeUndefined()
    expect(decodeCursor(encodeCursor({ at: a[0].id, nodes: { a: "", b: null, c: a[1].id } }))).toEqual({ at: a[0].id, nodes: { a: "", b: null, c: a[1].id } })
  })
})
