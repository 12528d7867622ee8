import { Writable } from "node:stream"

/**
 * Feeds one upstream byte stream to every downstream copy (one per recipient
 * group). A chunk is accepted when every copy accepted it, so the slowest copy
 * sets the pace (backpressure from the slowest); a copy that fails fails the
 * fan-out, and a failing fan-out destroys every copy.
 */
export class Fanout extends Writable {
  private targets: ReadonlyArray<Writable> = []

  setTargets(targets: ReadonlyArray<Writable>): void {
    this.targets = targets
    for (const t of targets) {
      t.once("error", (e) => this.destroy(e))
      t.once("close", () => {
        if (!t.writableFinished) this.destroy(new Error("a message copy closed early"))
      })
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    let waiting = 1
    const settle = () => {
      if (--waiting === 0) done()
    }
    for (const t of this.targets) {
      if (!t.write(chunk)) {
        waiting++
        t.once("drain", settle)
      }
    }
    settle()
  }

  override _final(done: (e?: Error | null) => void): void {
    for (const t of this.targets) t.end()
    done()
  }

  override _destroy(error: Error | null, done: (e?: Error | null) => void): void {
    // autoDestroy also lands here after a normal finish: the copies are still being read then
    if (error !== null || !this.writableFinished) for (const t of this.targets) t.destroy(error ?? undefined)
    done(error)
  }
}
