/**
 * Admission slots leased to a worker (`workers: N`), so that a session bound
 * at connect (a tenant's server, by its CIDR connector: the high-volume case,
 * often a new connection per message) is admitted without a round trip to the
 * primary. Such a session counts only against the node's `maxClients` (no
 * per-address limit, no unbound share: ConnectionLimits), so a count of
 * slots is all a lease needs to carry; unbound sessions always ask the
 * primary, and the per-address limits stay counted in one place.
 *
 * Why the node never holds more than `maxClients` sessions: the primary
 * counts every slot it leased as taken (`leased[w]`) from before it grants
 * them until the worker says they came back, and it admits or grants only
 * while its own sessions + Σ leased[w] stay within maxClients. A worker
 * holds `held` ≤ leased[w] slots at every moment (the primary raises its
 * count before the grant is sent; the worker lowers `held` before it sends the
 * slots back), and admits on a slot only while `used` < `held`. Hence the
 * node's sessions = the primary's + Σ used ≤ the primary's + Σ leased ≤
 * maxClients, whatever the order in which messages cross.
 *
 * Why it refuses no earlier than one count would: a slot closed on a worker
 * goes back to that worker's lease (no message), so the primary cannot know
 * which leased slots are free. Before refusing for maxClients it therefore
 * revokes the leases (the workers answer with their free slots, and from then
 * on send each slot back when its session closes), holding the admissions
 * that came meanwhile until every worker answered. Leases are granted only
 * while the node is below half of maxClients (LEASE_SHARE), so near the limit
 * the count is the primary's alone, as it was before leases.
 */

/** slots granted at a time, with the answer to an admission of a session bound at connect */
export const LEASE_SLOTS = 8
/** leases are granted only while the node's sessions and leases stay within this share of maxClients */
export const LEASE_SHARE = 0.5
/**
 * a revoke not answered by then (a stuck worker) is taken as answered with no
 * free slot; below the worker's ADMIT_TIMEOUT_MS, so the admissions held
 * meanwhile are answered before their workers decide alone
 */
export const REVOKE_TIMEOUT_MS = 500

/** The worker's side of its lease. */
export class WorkerLease {
  /** slots this worker holds (free or in use) */
  private held = 0
  /** sessions admitted on a slot */
  private readonly sessions = new Set<string>()
  /** false once revoked: a slot whose session closes goes back to the primary (until the next grant) */
  private reuse = false

  /** admits a session bound at connect on a free slot, if there is one */
  take(id: string): boolean {
    if (this.sessions.size >= this.held) return false
    this.sessions.add(id)
    return true
  }

  granted(slots: number): void {
    this.held += slots
    this.reuse = true
  }

  /** the primary wants the free slots back: how many to send */
  revoke(): number {
    const free = this.held - this.sessions.size
    this.held = this.sessions.size
    this.reuse = false
    return free
  }

  /**
   * A session closed: undefined if it was not admitted on a slot (the primary
   * counted it: tell it as before), else how many slots to send back (0 or 1).
   */
  closed(id: string): number | undefined {
    if (!this.sessions.delete(id)) return undefined
    if (this.reuse) return 0
    this.held--
    return 1
  }

  /** slots held now (specs) */
  get slots(): number {
    return this.held
  }
}
