/**
 * The load generator: raw SMTP over net sockets, many concurrent sessions,
 * MAIL/RCPT/DATA pipelined when the server advertises PIPELINING, Nagle off.
 * Written for this instead of a client library so that nothing but the
 * server under test adds waits. Latency is the upstream MTA's view: from the
 * final ".\r\n" written to the 250 received. Loopback only.
 */
import * as net from "node:net"
import * as tls from "node:tls"
import { performance } from "node:perf_hooks"
import { messageSpec, PERF_RECIPIENT, PERF_SENDER, type MessageKind } from "./Messages.js"

export type ConnectionPattern = "new" | "reused"

export interface LoadOptions {
  readonly port: number
  readonly kind: MessageKind
  readonly concurrency: number
  readonly pattern: ConnectionPattern
  /** stop after this many messages … */
  readonly messages: number
  /** … or when this much time has passed (in-flight messages finish) */
  readonly maxMs: number
  /** prefix of every X-Perf-Seq value, unique per run */
  readonly runId: string
  /** connect from this loopback address (perf:auth binds one tenant by range from 127.0.0.2) */
  readonly localAddress?: string
  /** STARTTLS after the greeting (the server's certificate is not checked: loopback) */
  readonly starttls?: boolean
  /** AUTH PLAIN after STARTTLS */
  readonly login?: { readonly user: string; readonly pass: string }
  /** the source address and envelope sender of the n-th session opened (perf:tenants: round-robin over tenants); default localAddress and PERF_SENDER */
  readonly sessionSource?: (n: number) => { readonly localAddress: string; readonly sender: string }
  /** offered load: message n starts no earlier than n / ratePerSecond after the start (absent: as fast as the sessions go) */
  readonly ratePerSecond?: number
}

export interface LoadResult {
  readonly attempted: number
  readonly ok: number
  readonly errors: { readonly "4xx": number; readonly "5xx": number; readonly network: number }
  /** the first few error texts, to tell what went wrong */
  readonly errorSamples: ReadonlyArray<string>
  /** X-Perf-Seq values answered 250 */
  readonly acked: ReadonlyArray<string>
  readonly bytesOk: number
  readonly elapsedMs: number
  /** per-message latencies of the accepted messages, ms, sorted */
  readonly latenciesMs: Float64Array
}

const HOST = "127.0.0.1"
/** one stuck message must not hang the benchmark */
const REPLY_TIMEOUT_MS = 120_000
const MAX_ERROR_SAMPLES = 5

class NetworkError extends Error {}
class ReplyError extends Error {
  constructor(
    readonly code: number,
    text: string
  ) {
    super(text)
  }
}

interface Reply {
  readonly code: number
  readonly text: string
  readonly lines: ReadonlyArray<string>
  readonly at: number
}

/** One SMTP client connection: replies parsed from the socket, awaited in order. */
class Session {
  private buffer = ""
  private pendingLines: Array<string> = []
  private readonly replies: Array<Reply> = []
  private waiter: { resolve: (r: Reply) => void; reject: (e: Error) => void } | undefined
  private failure: Error | undefined
  pipelining = false

  private constructor(public socket: net.Socket) {
    socket.setNoDelay(true)
    this.attach(socket)
  }

  private attach(socket: net.Socket): void {
    socket.setEncoding("latin1")
    socket.on("data", (s: string) => this.onData(s))
    socket.on("error", (e) => this.fail(new NetworkError(e.message)))
    socket.on("close", () => this.fail(new NetworkError("connection closed")))
  }

  static open(port: number, localAddress?: string): Promise<Session> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: HOST, port, ...(localAddress !== undefined ? { localAddress } : {}) })
      socket.once("connect", () => resolve(new Session(socket)))
      socket.once("error", (e) => reject(new NetworkError(e.message)))
    })
  }

  private onData(s: string): void {
    this.buffer += s
    let nl: number
    let lineStart = 0
    while ((nl = this.buffer.indexOf("\n", lineStart)) !== -1) {
      const line = this.buffer.slice(lineStart, nl).replace(/\r$/, "")
      lineStart = nl + 1
      this.pendingLines.push(line)
      // the last line of a reply has a space (or nothing) after the code
      if (line.length >= 3 && line[3] !== "-") {
        this.push({ code: Number(line.slice(0, 3)), text: line, lines: this.pendingLines, at: performance.now() })
        this.pendingLines = []
      }
    }
    this.buffer = this.buffer.slice(lineStart)
  }

  private push(r: Reply): void {
    const w = this.waiter
    if (w !== undefined) {
      this.waiter = undefined
      w.resolve(r)
    } else this.replies.push(r)
  }

  private fail(e: Error): void {
    if (this.failure !== undefined) return
    this.failure = e
    const w = this.waiter
    if (w !== undefined) {
      this.waiter = undefined
      w.reject(e)
    }
  }

  reply(): Promise<Reply> {
    const r = this.replies.shift()
    if (r !== undefined) return Promise.resolve(r)
    if (this.failure !== undefined) return Promise.reject(this.failure)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new NetworkError("reply timeout")), REPLY_TIMEOUT_MS)
      this.waiter = {
        resolve: (x) => {
          clearTimeout(timer)
          resolve(x)
        },
        reject: (e) => {
          clearTimeout(timer)
          reject(e)
        }
      }
    })
  }

  async expect(ok: (code: number) => boolean): Promise<Reply> {
    const r = await this.reply()
    if (!ok(r.code)) throw new ReplyError(r.code, r.text)
    return r
  }

  /** writes, waiting for 'drain' when the socket's buffer is full (backpressure) */
  write(chunk: Buffer | string): Promise<void> | undefined {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    if (this.socket.write(chunk)) return undefined
    return new Promise((resolve, reject) => {
      const onDrain = () => {
        this.socket.off("close", onClose)
        resolve()
      }
      const onClose = () => {
        this.socket.off("drain", onDrain)
        reject(this.failure ?? new NetworkError("closed"))
      }
      this.socket.once("drain", onDrain)
      this.socket.once("close", onClose)
    })
  }

  async greet(): Promise<void> {
    await this.expect((c) => c === 220)
    await this.write("EHLO loadgen.perf.example\r\n")
    const ehlo = await this.expect((c) => c === 250)
    this.pipelining = ehlo.lines.some((l) => /^250[- ]PIPELINING\b/i.test(l))
  }

  /** STARTTLS, the handshake, and EHLO again */
  async starttls(): Promise<void> {
    await this.write("STARTTLS\r\n")
    await this.expect((c) => c === 220)
    for (const event of ["data", "error", "close"]) this.socket.removeAllListeners(event)
    const secure = tls.connect({ socket: this.socket, rejectUnauthorized: false })
    await new Promise<void>((resolve, reject) => {
      secure.once("secureConnect", resolve)
      secure.once("error", (e) => reject(new NetworkError(e.message)))
    })
    this.socket = secure
    this.attach(secure)
    await this.write("EHLO loadgen.perf.example\r\n")
    await this.expect((c) => c === 250)
  }

  async login(user: string, pass: string): Promise<void> {
    await this.write(`AUTH PLAIN ${Buffer.from(`\0${user}\0${pass}`).toString("base64")}\r\n`)
    await this.expect((c) => c === 235)
  }

  close(): void {
    this.socket.destroy()
  }

  async quit(): Promise<void> {
    try {
      await this.write("QUIT\r\n")
      await this.reply()
    } catch {
      /* the server may close first */
    }
    this.socket.destroy()
  }
}

/** Runs one load pattern to completion and returns what it saw. */
export const runLoad = async (o: LoadOptions): Promise<LoadResult> => {
  const spec = messageSpec(o.kind)
  const latencies = new Float64Array(o.messages)
  const acked: Array<string> = []
  const errorSamples: Array<string> = []
  const errors = { "4xx": 0, "5xx": 0, network: 0 }
  let next = 0
  let ok = 0
  const start = performance.now()
  const deadline = start + o.maxMs

  const recordError = (e: unknown): void => {
    if (e instanceof ReplyError) {
      if (e.code >= 500) errors["5xx"]++
      else errors["4xx"]++
    } else errors.network++
    if (errorSamples.length < MAX_ERROR_SAMPLES) errorSamples.push(e instanceof Error ? e.message : String(e))
  }

  const sendOne = async (s: Session, seq: string, sender: string): Promise<void> => {
    const envelope = `MAIL FROM:<${sender}> SIZE=${spec.bytes}\r\nRCPT TO:<${PERF_RECIPIENT}>\r\nDATA\r\n`
    if (s.pipelining) {
      await s.write(envelope)
      const mail = await s.reply()
      const rcpt = await s.reply()
      const data = await s.reply()
      for (const r of [mail, rcpt]) if (r.code >= 300) throw new ReplyError(r.code, r.text)
      if (data.code !== 354) throw new ReplyError(data.code, data.text)
    } else {
      const [mail, rcpt, data] = envelope.split("\r\n")
      await s.write(mail + "\r\n")
      await s.expect((c) => c === 250)
      await s.write(rcpt + "\r\n")
      await s.expect((c) => c === 250 || c === 251)
      await s.write(data + "\r\n")
      await s.expect((c) => c === 354)
    }
    await s.write(spec.header(seq))
    for (const chunk of spec.body()) {
      const wait = s.write(chunk)
      if (wait !== undefined) await wait
    }
    let sentAt = performance.now()
    await new Promise<void>((resolve, reject) => {
      // the write callback is when the dot left for the kernel; earlier data may have been queued
      s.socket.write(".\r\n", (err) => {
        if (err) reject(new NetworkError(err.message))
        else {
          sentAt = performance.now()
          resolve()
        }
      })
    })
    const final = await s.reply()
    if (final.code !== 250) throw new ReplyError(final.code, final.text)
    latencies[ok] = Math.max(0, final.at - sentAt)
    ok++
    acked.push(seq)
  }

  let opened = 0
  const worker = async (): Promise<void> => {
    let session: Session | undefined
    let sender = PERF_SENDER
    while (next < o.messages && performance.now() < deadline) {
      const n = next++
      const seq = `${o.runId}-${n}`
      if (o.ratePerSecond !== undefined) {
        const due = start + (n * 1000) / o.ratePerSecond - performance.now()
        if (due > 0) await new Promise((resolve) => setTimeout(resolve, due))
      }
      try {
        if (session === undefined) {
          const source = o.sessionSource?.(opened++)
          sender = source?.sender ?? PERF_SENDER
          session = await Session.open(o.port, source?.localAddress ?? o.localAddress)
          await session.greet()
          if (o.starttls === true || o.login !== undefined) await session.starttls()
          if (o.login !== undefined) await session.login(o.login.user, o.login.pass)
        }
        await sendOne(session, seq, sender)
        if (o.pattern === "new") {
          await session.quit()
          session = undefined
        }
      } catch (e) {
        recordError(e)
        session?.close()
        session = undefined
      }
    }
    if (session !== undefined) await session.quit()
  }

  await Promise.all(Array.from({ length: o.concurrency }, worker))
  const elapsedMs = performance.now() - start
  return {
    attempted: next,
    ok,
    errors,
    errorSamples,
    acked,
    bytesOk: ok * spec.bytes,
    elapsedMs,
    latenciesMs: latencies.slice(0, ok).sort()
  }
}

/** The q-quantile (0..1) of sorted values, nearest rank. */
export const quantile = (sorted: Float64Array, q: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
