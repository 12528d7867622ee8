/**
 * At most `perMinute` takes per wall-clock minute (a fixed window: cheap, and a
 * burst across a minute boundary may take twice the budget, which is fine for
 * what it bounds). Plain class, called on the session path with `now`.
 */
export class MinuteBudget {
  private minute = -1
  private taken = 0

  constructor(private readonly perMinute: number) {}

  /** true while this minute's budget lasts */
  take(now: number): boolean {
    const minute = Math.floor(now / 60_000)
    if (minute !== this.minute) {
      this.minute = minute
      this.taken = 0
    }
    if (this.taken >= this.perMinute) return false
    this.taken++
    return true
  }
}
