import type { Server } from "node:net"
import type { Readable } from "node:stream"

/**
 * Graceful stop of the upstream side (SIGTERM, SIGINT, scope close). Every
 * session that shutdown closes hears `421 4.3.2` first, so its client retries
 * later instead of meeting a dropped connection at its next command:
 *
 * - at once, every session not in DATA (idle, between commands, or waiting on
 *   a command's reply);
 * - a session in DATA right after its transaction's reply;
 * - any session still open when `graceMs` has passed (its transaction is
 *   aborted before the downstream's dot, as for any upstream that goes away).
 *
 * smtp-server's own close() is called only once the sessions are gone: while it
 * runs, smtp-server answers every command itself with `421 4.4.2`.
 */

/** The parts of smtp-server's connection objects (server.connections) that shutdown uses. */
export interface Connection {
  readonly id: string
  send(code: number, text: string, context?: string): void
  close(): void
}

export const SHUTDOWN_TEXT = "shutting down, try again later"
export const SHUTDOWN_ENHANCED = "4.3.2"

export interface ShutdownSummary {
  /** sessions closed at once (not in DATA) */
  readonly idle: number
  /** sessions that were in DATA when shutdown began */
  readonly inFlight: number
  /** sessions still open when the grace period ended */
  readonly cutOff: number
}

const bye = (c: Connection) => c.send(421, SHUTDOWN_TEXT, SHUTDOWN_ENHANCED) // a 421 also closes the connection

export class Shutdown {
  private started = false
  private onDrained: (() => void) | undefined

  constructor(
    private readonly connections: Set<Connection>,
    private readonly listener: Server,
    private readonly graceMs: number
  ) {}

  get active(): boolean {
    return this.started
  }

  /**
   * Stops accepting, says 421 to every session not in DATA, and resolves when
   * the sessions in DATA have finished or the grace period has passed.
   */
  begin(inData: (id: string) => boolean): Promise<ShutdownSummary> {
    this.started = true
    this.listener.close()
    let idle = 0
    for (const c of [...this.connections]) {
      if (inData(c.id)) continue
      idle++
      bye(c)
    }
    const inFlight = this.connections.size
    return new Promise<ShutdownSummary>((resolve) => {
      const timer = setTimeout(() => {
        this.onDrained = undefined
        const cutOff = this.connections.size
        for (const c of [...this.connections]) bye(c)
        resolve({ idle, inFlight, cutOff })
      }, this.graceMs)
      const onDrained = () => {
        clearTimeout(timer)
        resolve({ idle, inFlight, cutOff: 0 })
      }
      this.onDrained = onDrained // bound first, as every closure in src/ (spec/YoungClosures.test.ts)
      this.checkDrained()
    })
  }

  /**
   * A session in DATA during shutdown got its transaction's answer: 421 4.3.2
   * follows the reply (which smtp-server sends once the message stream has
   * ended), and the connection closes.
   */
  transactionDone(id: string, stream: Readable): void {
    if (!this.started) return
    const after = () => {
      for (const c of this.connections) if (c.id === id) bye(c)
      this.checkDrained()
    }
    if (stream.readableEnded || stream.destroyed) after()
    else {
      stream.once("end", after)
      stream.once("close", after)
    }
  }

  /** A session ended (smtp-server's onClose). */
  sessionClosed(): void {
    if (this.started) this.checkDrained()
  }

  private checkDrained(): void {
    if (this.connections.size > 0) return
    const drained = this.onDrained
    this.onDrained = undefined
    drained?.()
  }
}
