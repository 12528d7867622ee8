/**
 * A small least-recently-used cache of rendered signature elements, one per
 * tenant actor. Keys carry the template id and version and the identity of the
 * directory values, so a template save or a directory change misses by itself
 * and nothing has to be invalidated.
 */

/** Entries kept per tenant: enough for every active sender × template of a busy tenant's hour. */
export const RENDER_CACHE_CAPACITY = 2_048

export class RenderCache<V> {
  private readonly entries = new Map<string, V>()
  hits = 0
  misses = 0

  constructor(readonly capacity: number = RENDER_CACHE_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("capacity must be a positive integer")
  }

  get size(): number {
    return this.entries.size
  }

  /** The cached value, or `make()`'s, remembered as most recently used. */
  getOrCompute(key: string, make: () => V): V {
    const known = this.entries.get(key)
    if (known !== undefined) {
      this.hits++
      // Re-insert: a Map iterates in insertion order, so the first key is the least recently used.
      this.entries.delete(key)
      this.entries.set(key, known)
      return known
    }
    this.misses++
    const value = make()
    this.entries.set(key, value)
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!)
    return value
  }

  clear(): void {
    this.entries.clear()
  }
}
