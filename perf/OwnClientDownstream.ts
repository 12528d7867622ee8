/**
 * The pass-through's downstream side on Imprint's own SMTP client
 * (src/pipeline/downstream/SmtpClient.ts): MAIL and RCPT mirrored as they arrive,
 * DATA streamed through, one downstream session per upstream session, as
 * Imprint's relay does. With it the library floor (2b) is built from exactly
 * the SMTP libraries Imprint uses, so (4)/(2b) isolates the cost of parsing
 * and stamping. perf/ is an edge like main.ts, so it runs Effects itself.
 */
import type { Readable } from "node:stream"
import { Cause, Effect, Exit, Runtime, Scope } from "effect"
import { connect, type SmtpClient, type SmtpReply } from "../src/pipeline/downstream/SmtpClient.js"

/** what the pass-through needs from a downstream, per upstream session */
export interface DownstreamSide {
  /** resolves to a reply to mirror upstream when it is not a success */
  readonly mail: (sessionId: string, from: string) => Promise<Refusal | undefined>
  readonly rcpt: (sessionId: string, to: string) => Promise<Refusal | undefined>
  readonly data: (sessionId: string, from: string, to: ReadonlyArray<string>, body: Readable) => Promise<Refusal | undefined>
  readonly close: (sessionId: string) => void
}

export interface Refusal {
  readonly code: number
  readonly text: string
}

const TIMEOUT_MS = 120_000

interface Held {
  readonly scope: Scope.CloseableScope
  readonly client: Promise<SmtpClient>
}

const refusal = (r: SmtpReply, ok: (code: number) => boolean): Refusal | undefined =>
  ok(r.code) ? undefined : { code: r.code, text: [r.enhanced, r.text].filter((x) => x !== undefined).join(" ") }

/** Effect's rejections wrap the typed error: show its tag, which says what failed */
const unavailable = (e: unknown): Refusal => {
  const inner = Runtime.isFiberFailure(e) ? Cause.squash(e[Runtime.FiberFailureCauseId]) : e
  const tag = typeof inner === "object" && inner !== null && "_tag" in inner ? `${String(inner._tag)} ` : ""
  return { code: 451, text: `4.4.1 downstream: ${tag}${inner instanceof Error ? inner.message : JSON.stringify(inner)}` }
}

export const ownClientDownstream = (port: number): DownstreamSide => {
  const sessions = new Map<string, Held>()

  const clientFor = (id: string): Promise<SmtpClient> => {
    const held = sessions.get(id)
    if (held !== undefined) return held.client
    const scope = Effect.runSync(Scope.make())
    const client = Effect.runPromise(
      Scope.extend(
        connect({
          host: "127.0.0.1",
          port,
          tls: "none",
          rejectUnauthorized: true,
          clientName: "passthrough.perf.example",
          connectTimeoutMs: TIMEOUT_MS,
          commandTimeoutMs: TIMEOUT_MS,
          dataTimeoutMs: TIMEOUT_MS
        }),
        scope
      )
    )
    sessions.set(id, { scope, client })
    client.catch(() => close(id))
    return client
  }

  const close = (id: string): void => {
    const held = sessions.get(id)
    sessions.delete(id)
    if (held !== undefined) Effect.runFork(Scope.close(held.scope, Exit.void))
  }

  const run = async (id: string, f: (c: SmtpClient) => Effect.Effect<SmtpReply, unknown>, ok: (code: number) => boolean) => {
    try {
      return refusal(await Effect.runPromise(f(await clientFor(id))), ok)
    } catch (e) {
      close(id) // a failed session is not reused
      return unavailable(e)
    }
  }

  return {
    mail: (id, from) =>
      run(
        id,
        (c) => c.mail(from),
        (code) => code < 300
      ),
    rcpt: (id, to) =>
      run(
        id,
        (c) => c.rcpt(to),
        (code) => code < 300
      ),
    data: (id, _from, _to, body) =>
      run(
        id,
        (c) => c.data(body),
        (code) => code < 300
      ),
    close
  }
}
