import type { Readable } from "node:stream"
import { DataTooSlow } from "./InboundError.js"

/**
 * Bounds how long an upstream may take to send one message's DATA: a total
 * deadline, and a minimum rate over a window (Postfix's smtpd_min_data_rate
 * plus a cap). Without them a sender trickling a byte a second holds its
 * session and a downstream connection for as long as it likes: the idle
 * timeout only counts silence.
 *
 * One timer serves every transaction in DATA (none while none is), so the
 * per-message cost is a set insertion. A window in which the relay itself was
 * the slow side (the upstream's bytes wait unread in smtp-server's stream,
 * because a downstream is slow to take them) does not count against the
 * sender: that case is the downstream's data timeout.
 */

export interface DataLimits {
  /** the most one message's DATA may take, from 354 to the dot */
  readonly maxDataMs: number
  /** bytes per second the upstream must average over each window; 0: no floor */
  readonly minDataRate: number
  readonly dataRateWindowMs: number
}

interface Watch {
  readonly upstream: Readable
  readonly bytes: () => number
  readonly abort: (e: DataTooSlow) => void
  readonly started: number
  windowStart: number
  windowBytes: number
}

/** The timer wakes at most this often; small configured limits (specs) make it wake sooner. */
const MAX_TICK_MS = 1_000
const MIN_TICK_MS = 10

export class DataDeadlines {
  private readonly watched = new Set<Watch>()
  private timer: NodeJS.Timeout | undefined
  private readonly tickMs: number

  constructor(private readonly limits: DataLimits) {
    const shortest = limits.minDataRate > 0 ? Math.min(limits.maxDataMs, limits.dataRateWindowMs) : limits.maxDataMs
    this.tickMs = Math.max(MIN_TICK_MS, Math.min(MAX_TICK_MS, Math.floor(shortest / 4)))
  }

  /**
   * Watches one message's upstream stream until the returned function is
   * called (the transaction ended) or a limit is crossed: then `abort` gets the
   * reason, once.
   */
  watch(upstream: Readable, bytes: () => number, abort: (e: DataTooSlow) => void): () => void {
    const now = Date.now()
    const w: Watch = { upstream, bytes, abort, started: now, windowStart: now, windowBytes: 0 }
    this.watched.add(w)
    this.timer ??= setInterval(() => this.check(), this.tickMs).unref()
    return () => this.unwatch(w)
  }

  private unwatch(w: Watch): void {
    this.watched.delete(w)
    if (this.watched.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer)
      this.timer = undefined
    }
  }

  private check(): void {
    const now = Date.now()
    const { maxDataMs, minDataRate, dataRateWindowMs } = this.limits
    for (const w of this.watched) {
      // the dot arrived: what remains is the downstream's time, bounded by its own timeout
      // (smtp-server's data stream is a PassThrough: its writable side ends at the dot)
      if ((w.upstream as Readable & { writableEnded?: boolean }).writableEnded === true || w.upstream.readableEnded) {
        this.unwatch(w)
        continue
      }
      if (now - w.started > maxDataMs) {
        this.unwatch(w)
        w.abort(new DataTooSlow({ reason: "deadline", limitMs: maxDataMs, minRate: minDataRate }))
        continue
      }
      if (minDataRate === 0 || now - w.windowStart < dataRateWindowMs) continue
      const received = w.bytes() - w.windowBytes
      const floor = (minDataRate * (now - w.windowStart)) / 1000
      // unread bytes waiting in the upstream stream: the relay was the slow side in this window
      if (received < floor && w.upstream.readableLength === 0) {
        this.unwatch(w)
        w.abort(new DataTooSlow({ reason: "rate", limitMs: maxDataMs, minRate: minDataRate }))
        continue
      }
      w.windowStart = now
      w.windowBytes = w.bytes()
    }
  }

  /** Stops the timer (server shutdown); transactions still watched are left to their sessions' end. */
  close(): void {
    this.watched.clear()
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }
}
