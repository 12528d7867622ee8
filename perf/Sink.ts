/**
 * The downstream sink: an smtp-server that accepts everything, keeps no
 * bodies, and counts what arrives per run: messages, bytes, each X-Perf-Seq
 * (to prove every message arrived exactly once) and whether the perf
 * signature's marker is in the message (a hint that stamping happened).
 *
 * Runs as a child process of run.ts (`fork`), so its CPU does not compete
 * with the load generator's event loop; the parent talks to it over IPC:
 *   → { type: "reset" }            clears the counters
 *   → { type: "stats" }            ← { type: "stats", stats: SinkStats }
 * and it prints "listening on 127.0.0.1:<port>" once ready.
 */
import { SMTPServer, type SMTPServerOptions } from "smtp-server"
import { SEQ_HEADER } from "./Messages.js"
import { STAMP_MARKER } from "./Targets.js"
import { fastGreetingOptions } from "./SmtpServerPatch.js"

export interface SinkStats {
  readonly messages: number
  readonly bytes: number
  /** seq → times seen, only for seqs seen more than once */
  readonly duplicates: Record<string, number>
  readonly seqs: ReadonlyArray<string>
  /** messages without a readable X-Perf-Seq header */
  readonly withoutSeq: number
  /** messages in which STAMP_MARKER was found */
  readonly marked: number
}

/** the root headers are read up to this size to find the seq; the rest is only counted */
const HEADER_WINDOW = 64 * 1024
const SEQ_RE = new RegExp(`^${SEQ_HEADER}:[ \\t]*(\\S+)`, "im")

let seen = new Map<string, number>()
let messages = 0
let bytes = 0
let withoutSeq = 0
let marked = 0

const marker = Buffer.from(STAMP_MARKER, "latin1")

const onData: SMTPServerOptions["onData"] = (stream, _session, callback) => {
  let head = ""
  let headDone = false
  let size = 0
  let hasMarker = false
  // the marker may straddle two chunks: keep the tail of the previous one
  let carry = Buffer.alloc(0)
  stream.on("data", (chunk: Buffer) => {
    size += chunk.length
    if (!headDone) {
      head += chunk.toString("latin1", 0, Math.min(chunk.length, HEADER_WINDOW))
      const end = head.indexOf("\r\n\r\n")
      if (end !== -1 || head.length >= HEADER_WINDOW) {
        headDone = true
        head = end === -1 ? head : head.slice(0, end)
      }
    }
    if (!hasMarker) {
      const joined = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, marker.length)]) : undefined
      hasMarker = chunk.indexOf(marker) !== -1 || (joined !== undefined && joined.indexOf(marker) !== -1)
      carry = Buffer.from(chunk.subarray(Math.max(0, chunk.length - marker.length + 1)))
    }
  })
  stream.on("end", () => {
    messages++
    bytes += size
    if (hasMarker) marked++
    const m = SEQ_RE.exec(head)
    if (m === null) withoutSeq++
    else seen.set(m[1], (seen.get(m[1]) ?? 0) + 1)
    callback(null, "2.0.0 sunk")
  })
}

const stats = (): SinkStats => {
  const duplicates: Record<string, number> = {}
  for (const [k, v] of seen) if (v > 1) duplicates[k] = v
  return { messages, bytes, duplicates, seqs: [...seen.keys()], withoutSeq, marked }
}

const main = (): void => {
  const server = new SMTPServer({
    ...fastGreetingOptions(),
    name: "sink.perf.example",
    banner: "perf sink",
    logger: false,
    disableReverseLookup: true,
    authOptional: true,
    disabledCommands: ["AUTH", "STARTTLS"],
    // no size limit: the sink must take the 100 MB message
    socketTimeout: 120_000,
    onData
  })
  server.on("error", (e) => console.error(`sink: ${e.message}`))
  server.listen(0, "127.0.0.1", () => {
    const address = server.server.address()
    if (address !== null && typeof address === "object") console.log(`listening on 127.0.0.1:${address.port}`)
  })
  process.on("message", (msg: { type: string }) => {
    if (msg.type === "reset") {
      seen = new Map()
      messages = 0
      bytes = 0
      withoutSeq = 0
      marked = 0
      process.send?.({ type: "reset-done" })
    } else if (msg.type === "stats") process.send?.({ type: "stats", stats: stats() })
  })
  // the parent going away ends the sink: no orphans after a crashed run
  process.on("disconnect", () => process.exit(0))
}

main()
