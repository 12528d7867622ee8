/**
 * An independent reading of a message's MIME tree for the "untouched parts stay
 * untouched" property: no mailsplit, just RFC 2045/2046 as written — headers up
 * to the first empty line, a multipart body cut at lines that are its boundary
 * ("--b", optional trailing white space; "--b--" closes it). Leaves carry their
 * exact raw bytes (headers and body) and an IMAP-style part number ("1.2"; ""
 * for a single-part message). An attached message (message/rfc822) is a leaf:
 * its bytes must not change at all.
 */

export interface Leaf {
  readonly partNr: string
  readonly contentType: string
  readonly raw: Buffer
}

/** nesting deeper than this is read as one leaf (bounded recursion) */
const MAX_DEPTH = 32

const headerEnd = (b: Buffer): number => {
  const crlf = b.indexOf("\r\n\r\n")
  const lf = b.indexOf("\n\n")
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return crlf + 4
  return lf >= 0 ? lf + 2 : b.length
}

const headerValue = (headers: string, name: string): string => {
  const unfolded = headers.replace(/\r?\n[ \t]+/g, " ")
  const m = new RegExp(`^${name}[ \\t]*:(.*)$`, "im").exec(unfolded)
  return m?.[1]?.trim() ?? ""
}

const boundaryOf = (contentType: string): string | undefined => {
  const m = /;\s*boundary\s*=\s*(?:"([^"]*)"|([^;\s]+))/i.exec(contentType)
  const b = m?.[1] ?? m?.[2]
  return b !== undefined && b.length > 0 ? b : undefined
}

/** the bodies between boundary lines (preamble and epilogue dropped); undefined if the boundary never appears */
const splitMultipart = (body: Buffer, boundary: string): Array<Buffer> | undefined => {
  const text = body.toString("latin1")
  const dash = `--${boundary}`
  const lines: Array<{ start: number; end: number; close: boolean }> = []
  let pos = 0
  while (pos <= text.length) {
    const nl = text.indexOf("\n", pos)
    const end = nl < 0 ? text.length : nl + 1
    const line = text.slice(pos, end).replace(/\r?\n$/, "")
    if (line.startsWith(dash)) {
      const rest = line.slice(dash.length)
      if (/^[ \t]*$/.test(rest)) lines.push({ start: pos, end, close: false })
      else if (/^--[ \t]*$/.test(rest)) lines.push({ start: pos, end, close: true })
    }
    if (nl < 0) break
    pos = end
  }
  if (lines.length === 0) return undefined
  const parts: Array<Buffer> = []
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].close) break
    const from = lines[i].end
    const next = lines[i + 1]
    // the line break before a boundary belongs to the boundary (RFC 2046 §5.1.1)
    let to = next === undefined ? text.length : next.start
    if (next !== undefined && text.slice(to - 2, to) === "\r\n") to -= 2
    else if (next !== undefined && text[to - 1] === "\n") to -= 1
    parts.push(body.subarray(from, Math.max(from, to)))
  }
  return parts
}

export const leaves = (message: Buffer, partNr = "", depth = 0): Array<Leaf> => {
  const split = headerEnd(message)
  const headers = message.subarray(0, split).toString("latin1")
  const contentType = headerValue(headers, "Content-Type")
  const type = (contentType.split(";")[0] ?? "").trim().toLowerCase() || "text/plain"
  const boundary = type.startsWith("multipart/") ? boundaryOf(contentType) : undefined
  const children = boundary !== undefined && depth < MAX_DEPTH ? splitMultipart(message.subarray(split), boundary) : undefined
  if (children === undefined) return [{ partNr, contentType: type, raw: message }]
  return children.flatMap((child, i) => leaves(child, partNr === "" ? `${i + 1}` : `${partNr}.${i + 1}`, depth + 1))
}
