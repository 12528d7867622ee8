/**
 * Test messages for the load generator. Every kind is an Outlook-style HTML
 * reply (multipart/alternative with a quoted thread under the reply
 * separator); the larger kinds wrap it in multipart/mixed with a base64
 * attachment, so the memory check compares the same structure at different
 * sizes. The "-text" kinds are the reply alone with a big quoted-printable
 * HTML form: the part the relay stamps is the big one. CRLF only, no line starts with "." (so no dot-stuffing is needed on
 * the wire), and attachments are streamed as repeated blocks: a 100 MB
 * message never exists in memory as a whole.
 */

export const MessageKinds = ["10k", "100k", "1m", "10m", "100m", "10m-text", "100m-text"] as const
export type MessageKind = (typeof MessageKinds)[number]

/** Target sizes (bytes) of each kind; real sizes are within a few hundred bytes. */
export const KindBytes: Record<MessageKind, number> = {
  "10k": 10 * 1024,
  "100k": 100 * 1024,
  "1m": 1024 * 1024,
  "10m": 10 * 1024 * 1024,
  "100m": 100 * 1024 * 1024,
  "10m-text": 10 * 1024 * 1024,
  "100m-text": 100 * 1024 * 1024
}

export const PERF_DOMAIN = "perf.example"
export const PERF_SENDER = `alice@${PERF_DOMAIN}`
export const PERF_RECIPIENT = "bob@remote.example"
/** The header the sink reads to check that each message arrived exactly once. */
export const SEQ_HEADER = "X-Perf-Seq"

/** 76 base64 characters + CRLF: the attachment is written in blocks of whole lines. */
const B64_LINE = 76
const BLOCK_LINES = 840 // ≈ 65 KB per chunk written to the socket
const CRLF = "\r\n"

export interface MessageSpec {
  readonly kind: MessageKind
  /** exact size of header + body, as sent between DATA and the final "." */
  readonly bytes: number
  /** the per-message root headers (seq, Message-ID); the body continues the header block with Content-Type */
  readonly header: (seq: string) => Buffer
  /** the body chunks; shared buffers, never modified by the caller */
  readonly body: () => Iterable<Buffer>
}

const lines = (...ls: ReadonlyArray<string>): string => ls.join(CRLF) + CRLF

/** A quoted thread of roughly `bytes` bytes of HTML, Outlook desktop style. */
const quotedHtml = (bytes: number): string => {
  const para =
    '<p class="MsoNormal">Thanks for the figures. We went through the quarterly numbers with the team ' +
    "and have a few questions about the regional breakdown and the forecast for next year.</p>"
  const out: Array<string> = []
  let size = 0
  for (let i = 0; size < bytes; i++) {
    const block = lines(`<div style="border:none;border-left:solid #0078D4 1.5pt;padding:0 0 0 4pt"><!-- quote ${i} -->`, para, para, "</div>")
    out.push(block)
    size += block.length
  }
  return out.join("")
}

const quotedText = (bytes: number): string => {
  const line = "> Thanks for the figures. We went through the quarterly numbers with the team."
  const n = Math.max(1, Math.ceil(bytes / (line.length + 2)))
  return lines(...Array.from({ length: n }, () => line))
}

/** The plain-text form of the reply: the answer, Outlook's separator, a quoted thread of about `quoted` bytes. */
const textPart = (boundary: string, quoted: number): string =>
  lines(
    `--${boundary}`,
    'Content-Type: text/plain; charset="us-ascii"',
    "Content-Transfer-Encoding: 7bit",
    "",
    "Hi Bob,",
    "",
    "Here are the answers, see below.",
    "",
    "Alice",
    "",
    "________________________________",
    "From: Bob Remote <bob@remote.example>",
    "Sent: Wednesday, November 25, 2026 10:12 AM",
    "To: Alice Example <alice@perf.example>",
    "Subject: Quarterly figures",
    ""
  ) + quotedText(quoted)

/** The HTML form's start, up to and including Outlook's reply separator (the quoted thread follows). */
const htmlStart = (): string =>
  lines(
    '<html><head><meta http-equiv="Content-Type" content="text/html; charset=us-ascii"></head>',
    '<body dir="ltr">',
    '<div style="font-family:Calibri,Arial,Helvetica,sans-serif;font-size:12pt">Hi Bob,<br><br>Here are the answers, see below.<br><br>Alice</div>',
    '<div id="appendonsend"></div>',
    '<hr style="display:inline-block;width:98%" tabindex="-1">',
    '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt" color="#000000">' +
      "<b>From:</b> Bob Remote &lt;bob@remote.example&gt;<br><b>Sent:</b> Wednesday, November 25, 2026 10:12 AM<br>" +
      "<b>To:</b> Alice Example &lt;alice@perf.example&gt;<br><b>Subject:</b> Quarterly figures</font><div>&nbsp;</div></div>"
  )

/** The multipart/alternative reply of about `bytes` bytes (headers of the part included). */
const replyPart = (boundary: string, bytes: number): string => {
  const half = Math.max(512, Math.floor((bytes - 2000) / 2))
  return (
    lines(`Content-Type: multipart/alternative; boundary="${boundary}"`, "") +
    textPart(boundary, Math.floor(half / 3)) +
    lines(`--${boundary}`, 'Content-Type: text/html; charset="us-ascii"', "Content-Transfer-Encoding: 7bit", "") +
    htmlStart() +
    quotedHtml(half + Math.floor((half * 2) / 3)) +
    lines("</body></html>", `--${boundary}--`)
  )
}

/**
 * Quoted-printable as Outlook writes an HTML part: "=" and non-ASCII as =XX, lines of at most
 * 76 characters with soft breaks ("=" before CRLF), a space or tab before a line end encoded,
 * and "=2E" for a dot that would start a line (so the wire needs no dot-stuffing). `text` is
 * CRLF-separated lines; each CRLF stays a hard line break.
 */
const quotedPrintable = (text: string): string => {
  const out: Array<string> = []
  for (const line of text.split(CRLF)) {
    const tokens: Array<string> = []
    for (let i = 0; i < line.length; i++) {
      const c = line.charCodeAt(i)
      const atEnd = i === line.length - 1
      const literal = (c >= 33 && c <= 126 && c !== 0x3d) || ((c === 0x20 || c === 0x09) && !atEnd)
      tokens.push(literal ? line[i] : `=${c.toString(16).toUpperCase().padStart(2, "0")}`)
    }
    let cur = ""
    for (const t of tokens) {
      if (cur.length + t.length > 75) {
        out.push(cur + "=")
        cur = ""
      }
      cur += cur === "" && t === "." ? "=2E" : t
    }
    out.push(cur)
  }
  return out.join(CRLF)
}

/**
 * The "-text" kinds: the same reply, but its HTML form is the big part (a long quoted thread,
 * quoted-printable), so the part the relay stamps streams live past the stamper's held window
 * instead of an attachment passing through.
 */
const bigTextReply = (target: number, headerLen: number): { head: Buffer; block: Buffer; blocks: number; rest: Buffer; tail: Buffer } => {
  const boundary = "=_alt_perf"
  const head = Buffer.from(
    lines(`Content-Type: multipart/alternative; boundary="${boundary}"`, "") +
      textPart(boundary, 4 * 1024) +
      lines(`--${boundary}`, 'Content-Type: text/html; charset="us-ascii"', "Content-Transfer-Encoding: quoted-printable", "") +
      quotedPrintable(htmlStart()),
    "latin1"
  )
  // whole quoted-printable lines, ≈ 64 KB per block
  const block = Buffer.from(quotedPrintable(quotedHtml(56 * 1024)), "latin1")
  const tail = Buffer.from(quotedPrintable("</body></html>") + CRLF + lines(`--${boundary}--`), "latin1")
  const room = Math.max(0, target - headerLen - head.length - tail.length)
  const blocks = Math.floor(room / block.length)
  // the rest: whole lines of the block, so the part stays well-formed
  const restLen = block.lastIndexOf(CRLF, room - blocks * block.length) + 2
  const rest = block.subarray(0, restLen > 1 ? restLen : 0)
  return { head, block, blocks, rest, tail }
}

/** One block of base64 lines (deterministic bytes), repeated to make an attachment of any size. */
const base64Block = (): Buffer => {
  const raw = Buffer.alloc((BLOCK_LINES * B64_LINE * 3) / 4)
  let x = 0x9e3779b9
  for (let i = 0; i < raw.length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    raw[i] = x & 0xff
  }
  const b64 = raw.toString("base64")
  const out: Array<string> = []
  for (let i = 0; i < b64.length; i += B64_LINE) out.push(b64.slice(i, i + B64_LINE))
  return Buffer.from(lines(...out), "latin1")
}

const headerFor =
  (contentType: string | undefined) =>
  (seq: string): Buffer =>
    Buffer.from(
      lines(
        "From: Alice Example <alice@perf.example>",
        "To: Bob Remote <bob@remote.example>",
        "Subject: RE: Quarterly figures",
        "Date: Wed, 25 Nov 2026 11:02:41 +0000",
        `Message-ID: <perf-${seq}@perf.example>`,
        "In-Reply-To: <thread-1@remote.example>",
        "References: <thread-1@remote.example>",
        `${SEQ_HEADER}: ${seq}`,
        "MIME-Version: 1.0",
        ...(contentType === undefined ? [] : [contentType])
      ),
      "latin1"
    )

/** a body of `head`, `block` `blocks` times, `rest` (if any) and `tail`, generated afresh on every call */
const repeatedBody = (head: Buffer, block: Buffer, blocks: number, rest: Buffer, tail: Buffer) =>
  function* (): Generator<Buffer> {
    yield head
    for (let i = 0; i < blocks; i++) yield block
    if (rest.length > 0) yield rest
    yield tail
  }

const specCache = new Map<MessageKind, MessageSpec>()

/** The message of a kind; the shared parts are built once per process. */
export const messageSpec = (kind: MessageKind): MessageSpec => {
  const cached = specCache.get(kind)
  if (cached !== undefined) return cached
  const target = KindBytes[kind]
  const headerLen = headerFor(undefined)("000000000-000000").length
  let spec: MessageSpec
  if (kind === "10m-text" || kind === "100m-text") {
    const { head, block, blocks, rest, tail } = bigTextReply(target, headerLen)
    spec = { kind, bytes: -1, header: headerFor(undefined), body: repeatedBody(head, block, blocks, rest, tail) }
  } else if (kind === "10k") {
    // the header's Content-Type is the first line of replyPart
    const body = Buffer.from(replyPart("=_alt_perf", target - headerLen), "latin1")
    spec = { kind, bytes: -1, header: headerFor(undefined), body: () => [body] }
  } else {
    const reply = replyPart("=_alt_perf", 10 * 1024)
    const block = base64Block()
    const attachmentLines = Math.max(1, Math.floor((target - headerLen - reply.length - 600) / (B64_LINE + 2)))
    const head = Buffer.from(
      lines('Content-Type: multipart/mixed; boundary="=_mixed_perf"', "", "--=_mixed_perf") +
        reply +
        lines(
          "--=_mixed_perf",
          'Content-Type: application/pdf; name="figures.pdf"',
          'Content-Disposition: attachment; filename="figures.pdf"',
          "Content-Transfer-Encoding: base64",
          ""
        ),
      "latin1"
    )
    const tail = Buffer.from(lines("", "--=_mixed_perf--"), "latin1")
    const fullBlocks = Math.floor(attachmentLines / BLOCK_LINES)
    const rest = block.subarray(0, (attachmentLines % BLOCK_LINES) * (B64_LINE + 2))
    spec = { kind, bytes: -1, header: headerFor(undefined), body: repeatedBody(head, block, fullBlocks, rest, tail) }
  }
  let bodyBytes = 0
  for (const c of spec.body()) bodyBytes += c.length
  const sized: MessageSpec = { ...spec, bytes: headerLen + bodyBytes }
  specCache.set(kind, sized)
  return sized
}

/**
 * Checks the wire rules the generator relies on: CRLF only, no bare CR or LF,
 * no line starting with "." (the generator does not dot-stuff). Reads the
 * chunks once; cheap enough to run before every benchmark.
 */
export const checkMessage = (spec: MessageSpec, seq = "000000000-000000"): ReadonlyArray<string> => {
  const problems: Array<string> = []
  let prev = 0x0a // start of message counts as start of line
  let prevPrev = 0x0d
  let total = 0
  for (const chunk of [spec.header(seq), ...spec.body()]) {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]
      if (b === 0x0a && prev !== 0x0d) problems.push(`bare LF at ${total + i}`)
      if (prev === 0x0d && b !== 0x0a) problems.push(`bare CR at ${total + i - 1}`)
      if (b === 0x2e && prev === 0x0a && prevPrev === 0x0d) problems.push(`line starting with "." at ${total + i}`)
      prevPrev = prev
      prev = b
      if (problems.length > 5) return problems
    }
    total += chunk.length
  }
  if (prev !== 0x0a || prevPrev !== 0x0d) problems.push("does not end with CRLF")
  if (total !== spec.bytes) problems.push(`size ${total} ≠ declared ${spec.bytes}`)
  return problems
}
