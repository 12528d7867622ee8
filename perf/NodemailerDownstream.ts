/**
 * The pass-through's downstream side on nodemailer 10's SMTPConnection: one
 * connection per upstream session, opened on its first message and reused,
 * envelope and DATA pipelined in one send() (nodemailer has no per-command
 * API, so MAIL/RCPT are not mirrored one by one). This is floor (2).
 */
import type { Readable } from "node:stream"
import SMTPConnection from "nodemailer/lib/smtp-connection"
import type { DownstreamSide, Refusal } from "./OwnClientDownstream.js"

const SOCKET_TIMEOUT_MS = 120_000

export const nodemailerDownstream = (port: number): DownstreamSide => {
  const sessions = new Map<string, Promise<SMTPConnection>>()

  const open = (): Promise<SMTPConnection> =>
    new Promise((resolve, reject) => {
      const conn = new SMTPConnection({
        host: "127.0.0.1",
        port,
        secure: false,
        ignoreTLS: true,
        name: "passthrough.perf.example",
        socketTimeout: SOCKET_TIMEOUT_MS,
        logger: false
      })
      conn.once("error", reject)
      conn.connect(() => {
        conn.off("error", reject)
        conn.on("error", () => undefined)
        resolve(conn)
      })
    })

  const connFor = (id: string): Promise<SMTPConnection> => {
    const existing = sessions.get(id)
    if (existing !== undefined) return existing
    const opened = open()
    sessions.set(id, opened)
    opened.catch(() => sessions.delete(id))
    return opened
  }

  const close = (id: string): void => {
    const conn = sessions.get(id)
    sessions.delete(id)
    conn?.then(
      (c) => c.quit(),
      () => undefined
    )
  }

  const data = async (id: string, from: string, to: ReadonlyArray<string>, body: Readable): Promise<Refusal | undefined> => {
    let conn: SMTPConnection
    try {
      conn = await connFor(id)
    } catch (e) {
      return { code: 451, text: `4.4.1 downstream unavailable: ${e instanceof Error ? e.message : String(e)}` }
    }
    return new Promise((resolve) => {
      conn.send({ from, to: [...to] }, body, (err) => {
        if (!err) return resolve(undefined)
        // a connection that failed mid-transaction is not reused
        sessions.delete(id)
        conn.close()
        const code = typeof err.responseCode === "number" ? err.responseCode : 451
        // smtp-server adds the code itself: pass on the downstream's text without it
        resolve({ code, text: err.response?.replace(/^\d{3}[ -]/, "") ?? `4.4.1 downstream: ${err.message}` })
      })
    })
  }

  return { mail: async () => undefined, rcpt: async () => undefined, data, close }
}
