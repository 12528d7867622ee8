/**
 * Failed AUTH attempts per source address. After `limit` failures inside
 * `windowMs` the address is refused AUTH until the window has passed, so a
 * password cannot be guessed at line speed. Bounded: at most MAX_TRACKED
 * addresses are remembered (the oldest are forgotten first).
 */
export const MAX_TRACKED = 10_000

interface Entry {
  failures: number
  since: number
}

export class AuthThrottle {
  private readonly entries = new Map<string, Entry>()

  constructor(
    private readonly limit: number,
    private readonly windowMs: number
  ) {}

  isThrottled(address: string, now: number): boolean {
    const e = this.entries.get(address)
    if (e === undefined) return false
    if (now - e.since > this.windowMs) {
      this.entries.delete(address)
      return false
    }
    return e.failures >= this.limit
  }

  failed(address: string, now: number): void {
    const e = this.entries.get(address)
    if (e === undefined || now - e.since > this.windowMs) {
      this.entries.delete(address)
      this.entries.set(address, { failures: 1, since: now })
      if (this.entries.size > MAX_TRACKED) this.entries.delete(this.entries.keys().next().value!)
      return
    }
    e.failures += 1
  }

  succeeded(address: string): void {
    this.entries.delete(address)
  }
}
