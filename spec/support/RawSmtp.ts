/**
 * A byte-level SMTP client for tests that need exact control of what goes on
 * the wire (smuggling variants, a DATA cut off half-way, STARTTLS with a client
 * certificate). Every wait is bounded.
 */
import * as net from "node:net"
import * as tls from "node:tls"

export interface Reply {
  readonly code: number
  readonly text: string
}

const WAIT_MS = 10_000

export class RawSmtp {
  private buffer = ""
  private lines: string[] = []
  private waiters: Array<() => void> = []
  private closedFlag = false
  /** the last EHLO reply text */
  features = ""
  /** the server's first reply (220, or a refusal such as 421) */
  greeting: Reply = { code: 0, text: "" }

  private constructor(private socket: net.Socket) {
    this.attach(socket)
  }

  /** Connects, reads the greeting and (unless `ehlo` is false) says EHLO. */
  static async connect(port: number, opts: { ehlo?: boolean; localAddress?: string } = {}): Promise<RawSmtp> {
    const socket = net.connect({ port, host: "127.0.0.1", ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}) })
    socket.setNoDelay(true)
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve)
      socket.once("error", reject)
    })
    const c = new RawSmtp(socket)
    c.greeting = await c.reply()
    if (opts.ehlo !== false) {
      const r = await c.command("EHLO client.test")
      if (r.code !== 250) throw new Error(`EHLO refused: ${r.code} ${r.text}`)
      c.features = r.text
    }
    return c
  }

  private attach(socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffer += chunk.toString("latin1")
      let end
      while ((end = this.buffer.indexOf("\r\n")) !== -1) {
        this.lines.push(this.buffer.slice(0, end))
        this.buffer = this.buffer.slice(end + 2)
      }
      this.wake()
    })
    socket.on("error", () => {})
    socket.on("close", () => {
      this.closedFlag = true
      this.wake()
    })
  }

  private wake() {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  get closed(): boolean {
    return this.closedFlag
  }

  /** The next complete (possibly multi-line) reply. */
  async reply(): Promise<Reply> {
    const deadline = Date.now() + WAIT_MS
    const collected: string[] = []
    for (;;) {
      while (this.lines.length > 0) {
        const line = this.lines.shift()!
        collected.push(line.slice(4))
        if (line[3] !== "-") return { code: Number(line.slice(0, 3)), text: collected.join("\n") }
      }
      if (this.closedFlag) throw new Error(`connection closed while waiting for a reply (got: ${collected.join(" | ")})`)
      if (Date.now() > deadline) throw new Error("no reply in time")
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()))
        this.waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  write(data: string | Buffer): void {
    this.socket.write(data)
  }

  async command(line: string): Promise<Reply> {
    this.write(line + "\r\n")
    return this.reply()
  }

  async starttls(options: tls.ConnectionOptions = {}): Promise<void> {
    const r = await this.command("STARTTLS")
    if (r.code !== 220) throw new Error(`STARTTLS refused: ${r.code} ${r.text}`)
    this.socket.removeAllListeners("data")
    this.socket.removeAllListeners("close")
    const secure = tls.connect({ socket: this.socket, rejectUnauthorized: false, ...options })
    await new Promise<void>((resolve, reject) => {
      secure.once("secureConnect", resolve)
      secure.once("error", reject)
    })
    this.socket = secure
    this.attach(secure)
  }

  /** MAIL, RCPT..., DATA, message (dot-stuffed here), and the final reply. */
  async send(from: string, to: ReadonlyArray<string>, message: string | Buffer): Promise<Reply> {
    const mail = await this.command(`MAIL FROM:<${from}>`)
    if (mail.code !== 250) return mail
    for (const rcpt of to) {
      const r = await this.command(`RCPT TO:<${rcpt}>`)
      if (r.code !== 250) return r
    }
    const data = await this.command("DATA")
    if (data.code !== 354) return data
    return this.sendBody(message)
  }

  /** After DATA's 354: the message (dot-stuffed here), its terminating dot, and the final reply. */
  async sendBody(message: string | Buffer): Promise<Reply> {
    const body = Buffer.isBuffer(message) ? message : Buffer.from(message, "utf8")
    const stuffed = Buffer.from(body.toString("latin1").replace(/(^|\r\n)\./g, "$1.."), "latin1")
    const tail = stuffed.subarray(-2).toString() === "\r\n" ? ".\r\n" : "\r\n.\r\n"
    this.write(Buffer.concat([stuffed, Buffer.from(tail)]))
    return this.reply()
  }

  /** QUIT, its 221, and the server closing the connection. */
  async quit(): Promise<void> {
    const r = await this.command("QUIT")
    if (r.code !== 221) throw new Error(`QUIT answered ${r.code} ${r.text}`)
    await this.waitClosed()
  }

  /** Resolves when the server has closed the connection (bounded). */
  async waitClosed(): Promise<void> {
    const deadline = Date.now() + WAIT_MS
    while (!this.closedFlag) {
      if (Date.now() > deadline) throw new Error("connection not closed in time")
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()))
        this.waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  end(): void {
    this.socket.end()
  }

  destroy(): void {
    this.socket.destroy()
  }
}

/**
 * One session per credential from `localAddress` (STARTTLS, EHLO), then AUTH PLAIN on all of them at
 * once (written before any reply is read): the reply codes, in the credentials' order.
 */
export const authAtOnce = async (port: number, localAddress: string, credentials: ReadonlyArray<readonly [string, string]>): Promise<Array<number>> => {
  const sessions = await Promise.all(
    credentials.map(async () => {
      const c = await RawSmtp.connect(port, { localAddress })
      await c.starttls()
      await c.command("EHLO spec.example")
      return c
    })
  )
  try {
    sessions.forEach((c, i) => c.write(`AUTH PLAIN ${Buffer.from(`\0${credentials[i][0]}\0${credentials[i][1]}`).toString("base64")}\r\n`))
    return await Promise.all(sessions.map(async (c) => (await c.reply()).code))
  } finally {
    for (const c of sessions) c.destroy()
  }
}
