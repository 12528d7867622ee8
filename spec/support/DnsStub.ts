/**
 * A DNS server on 127.0.0.1 for DKIM keys in specs: answers TXT queries from a
 * table, over UDP and TCP on one port (answers over 512 bytes are truncated
 * on UDP, so the resolver retries over TCP, as real DNS does). Names not in the
 * table get NXDOMAIN; a "SERVFAIL" entry answers SERVFAIL (a temporary failure).
 * Point node:dns at it with `setServers(["127.0.0.1:<port>"])` (Imprint:
 * `microsoft365.dnsServers`).
 */
import * as dgram from "node:dgram"
import * as net from "node:net"

export type DnsAnswer = ReadonlyArray<string> | "SERVFAIL"

export interface DnsStub {
  readonly port: number
  readonly server: string
  /** replace or add an entry (lower-case name) */
  readonly set: (name: string, answer: DnsAnswer | undefined) => void
  /** queries answered, by name */
  readonly queries: ReadonlyMap<string, number>
  readonly close: () => Promise<void>
}

const UDP_LIMIT = 512
const BIND_ATTEMPTS = 20

const readName = (msg: Buffer, offset: number): { name: string; end: number } => {
  const labels: Array<string> = []
  let i = offset
  while (msg[i] !== 0) {
    labels.push(msg.subarray(i + 1, i + 1 + msg[i]).toString("latin1"))
    i += 1 + msg[i]
  }
  return { name: labels.join(".").toLowerCase(), end: i + 1 }
}

/** TXT record data: each string split into length-prefixed pieces of at most 255 bytes. */
const txtData = (strings: ReadonlyArray<string>): Buffer =>
  Buffer.concat(
    strings.flatMap((s) => {
      const bytes = Buffer.from(s, "latin1")
      const pieces: Array<Buffer> = []
      for (let i = 0; i < bytes.length || i === 0; i += 255) {
        const piece = bytes.subarray(i, i + 255)
        pieces.push(Buffer.from([piece.length]), piece)
        if (bytes.length === 0) break
      }
      return pieces
    })
  )

export const startDnsStub = async (entries: Record<string, DnsAnswer> = {}): Promise<DnsStub> => {
  const table = new Map(Object.entries(entries).map(([k, v]) => [k.toLowerCase(), v]))
  const queries = new Map<string, number>()

  const answer = (query: Buffer, udp: boolean): Buffer => {
    const { name, end } = readName(query, 12)
    const qtype = query.readUInt16BE(end)
    queries.set(name, (queries.get(name) ?? 0) + 1)
    const entry = table.get(name)
    const question = query.subarray(12, end + 4)
    const header = Buffer.alloc(12)
    query.copy(header, 0, 0, 2) // id
    const rd = query[2] & 0x01
    const rcode = entry === "SERVFAIL" ? 2 : entry === undefined ? 3 : 0
    const records = entry === undefined || entry === "SERVFAIL" || qtype !== 16 ? [] : [entry]
    const answers = records.map((strings) => {
      const data = txtData(strings)
      const rr = Buffer.alloc(12)
      rr.writeUInt16BE(0xc00c, 0) // pointer to the question's name
      rr.writeUInt16BE(16, 2) // TXT
      rr.writeUInt16BE(1, 4) // IN
      rr.writeUInt32BE(300, 6)
      rr.writeUInt16BE(data.length, 10)
      return Buffer.concat([rr, data])
    })
    const full = Buffer.concat([header, question, ...answers])
    const truncated = udp && full.length > UDP_LIMIT
    header[2] = 0x84 | rd | (truncated ? 0x02 : 0) // QR, AA, TC?, RD
    header[3] = 0x80 | rcode // RA
    header.writeUInt16BE(1, 4)
    header.writeUInt16BE(truncated ? 0 : answers.length, 6)
    return truncated ? Buffer.concat([header, question]) : Buffer.concat([header, question, ...answers])
  }

  for (let attempt = 0; attempt < BIND_ATTEMPTS; attempt++) {
    const udp = dgram.createSocket("udp4")
    await new Promise<void>((resolve, reject) => {
      udp.once("error", reject)
      udp.bind(0, "127.0.0.1", () => resolve())
    })
    const port = udp.address().port
    const tcp = net.createServer((socket) => {
      let buffered = Buffer.alloc(0)
      socket.on("error", () => undefined)
      socket.on("data", (chunk) => {
        buffered = Buffer.concat([buffered, chunk])
        while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
          const query = buffered.subarray(2, 2 + buffered.readUInt16BE(0))
          buffered = buffered.subarray(2 + query.length)
          const reply = answer(query, false)
          const length = Buffer.alloc(2)
          length.writeUInt16BE(reply.length)
          socket.write(Buffer.concat([length, reply]))
        }
      })
    })
    const listening = await new Promise<boolean>((resolve) => {
      tcp.once("error", () => resolve(false))
      tcp.listen(port, "127.0.0.1", () => resolve(true))
    })
    if (!listening) {
      udp.close()
      continue
    }
    udp.on("message", (query, from) => udp.send(answer(query, true), from.port, from.address))
    return {
      port,
      server: `127.0.0.1:${port}`,
      set: (name, value) => (value === undefined ? table.delete(name.toLowerCase()) : table.set(name.toLowerCase(), value)),
      queries,
      close: () =>
        new Promise<void>((resolve) => {
          udp.close()
          tcp.close(() => resolve())
        })
    }
  }
  throw new Error("no port free for both UDP and TCP on 127.0.0.1")
}
