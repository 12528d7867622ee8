/**
 * The most results one memo keeps; past it the table starts over. A tenant has a handful of
 * signature texts and skip-if-present texts, so in practice nothing is ever dropped; the bound
 * only keeps a stream of distinct texts (a directory of many senders) from growing it.
 */
export const MEMO_ENTRIES = 1024

/**
 * A pure function of one string, kept per argument for the stamper's per-message set-up: what it
 * derives from a signature element's texts is the same for every message that element stamps.
 * Only for functions whose result depends on nothing but the argument (and is not mutated).
 */
export const memo = <A>(f: (text: string) => A): ((text: string) => A) => {
  const table = new Map<string, A>()
  return (text) => {
    let hit = table.get(text)
    if (hit === undefined) {
      if (table.size >= MEMO_ENTRIES) table.clear()
      hit = f(text)
      table.set(text, hit)
    }
    return hit
  }
}
