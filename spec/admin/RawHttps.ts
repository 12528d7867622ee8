/**
 * A raw HTTP/1.1 exchange over TLS with the admin server, for what no HTTP
 * client lets a spec do: declare a body far larger than it sends, stream a
 * chunked body until the server answers, and see whether the server closed
 * the connection. The body is written piece by piece, each write awaited, and
 * writing stops as soon as the server answered or closed, so `sent` tells how
 * much of the body the server let in. Everything is bounded: at most
 * `body.upTo` bytes are offered, and a connection silent for `idleMs` ends the
 * exchange with what arrived.
 */
import { Effect } from "effect"
import * as tls from "node:tls"
import { AdminEnv, TestCert } from "./AdminHarness.js"

export interface RawBody {
  /** the bytes repeated as the body */
  readonly piece: Buffer
  /** stop offering body bytes after this many */
  readonly upTo: number
  /** send it with `Transfer-Encoding: chunked` (one chunk per piece, then the last chunk) instead of as raw bytes */
  readonly chunked?: boolean
}

export interface RawResponse {
  /** 0 when no status line arrived */
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
  /** body bytes written (chunk framing not counted) before the server answered or closed */
  readonly sent: number
  /** the server ended the connection */
  readonly closedByServer: boolean
}

const parse = (raw: Buffer): { status: number; headers: Record<string, string>; body: string } => {
  const text = raw.toString("utf8")
  const end = text.indexOf("\r\n\r\n")
  if (end < 0) return { status: 0, headers: {}, body: "" }
  const [statusLine = "", ...lines] = text.slice(0, end).split("\r\n")
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(":")
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { status: Number(statusLine.split(" ")[1] ?? 0), headers, body: text.slice(end + 4) }
}

/** `head` is the request line and headers, without the blank line that ends them. */
export const rawHttps = (head: string, body?: RawBody, idleMs = 10_000) =>
  Effect.gen(function* () {
    const env = yield* AdminEnv
    const cert = yield* TestCert
    const port = Number(new URL(env.baseUrl).port)
    return yield* Effect.async<RawResponse>((resume) => {
      const received: Array<Buffer> = []
      let answered = false
      let closed = false
      let sent = 0
      let terminated = false
      const socket = tls.connect({ host: "127.0.0.1", port, ca: cert.cert, servername: "localhost" })
      const finish = () => {
        socket.destroy()
        resume(Effect.succeed({ ...parse(Buffer.concat(received)), sent, closedByServer: closed }))
      }
      socket.setTimeout(idleMs, finish)
      socket.on("data", (chunk: Buffer) => {
        received.push(chunk)
        answered = true
      })
      socket.on("end", () => {
        closed = true
      })
      socket.on("close", () => {
        closed = true
        finish()
      })
      socket.on("error", () => {
        closed = true
      })
      const writeBody = () => {
        if (body === undefined || answered || closed) return
        if (sent >= body.upTo) {
          // the last chunk, so a chunked body offered whole is complete
          if (body.chunked === true && !terminated) socket.write("0\r\n\r\n")
          terminated = true
          return
        }
        const piece = body.piece.subarray(0, Math.min(body.piece.length, body.upTo - sent))
        const framed = body.chunked === true ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from("\r\n")]) : piece
        socket.write(framed, (error) => {
          if (error !== undefined && error !== null) return
          sent += piece.length
          setImmediate(writeBody)
        })
      }
      socket.once("secureConnect", () => {
        socket.write(`${head}\r\n\r\n`, () => writeBody())
      })
      return Effect.sync(() => socket.destroy())
    })
  })

/** The operator's bearer header line. */
export const bearerLine = Effect.map(AdminEnv, (env) => `Authorization: Bearer ${env.token}`)
