/**
 * A reader of MIME structure as RFC 2046 §5.1.1 puts it and as mail readers apply it, written
 * apart from mailsplit for the specs: a delimiter line is "--" + the boundary of any enclosing
 * multipart (an inner one left unclosed ends at an outer delimiter), optionally "--", then
 * optional transport padding (spaces, tabs). mailsplit takes only its current multipart's
 * boundary or its parent's, without padding; where the two readings differ, the relay must not
 * touch what a reader would see as delimiters.
 */
import libmime from "libmime"

export interface RfcPart {
  readonly type: string
  readonly headers: Buffer
  /** a leaf's body as it stands between its header block and the line break before the next delimiter */
  readonly body: Buffer
  readonly children: ReadonlyArray<RfcPart>
}

const lines = (message: Buffer): Array<Buffer> => {
  const out: Array<Buffer> = []
  let start = 0
  for (let i = message.indexOf(10); i !== -1; i = message.indexOf(10, start)) {
    out.push(message.subarray(start, i + 1))
    start = i + 1
  }
  if (start < message.length) out.push(message.subarray(start))
  return out
}

const isBlank = (line: Buffer): boolean => line.toString("latin1") === "\r\n" || line.toString("latin1") === "\n"

/** which boundary (innermost first) a line delimits, and whether it closes */
const delimiter = (line: Buffer, boundaries: ReadonlyArray<string>): { boundary: string; close: boolean } | undefined => {
  if (line[0] !== 0x2d || line[1] !== 0x2d) return undefined
  const text = line.toString("latin1")
  for (const boundary of boundaries) {
    if (!text.startsWith(boundary, 2)) continue
    let rest = text.slice(2 + boundary.length)
    const close = rest.startsWith("--")
    if (close) rest = rest.slice(2)
    if (/^[ \t]*(?:\r?\n)?$/.test(rest)) return { boundary, close }
  }
  return undefined
}

const contentType = (headers: Buffer): { type: string; boundary: string | undefined } => {
  const unfolded = headers.toString("latin1").replace(/\r?\n[ \t]/g, " ")
  const m = /^content-type:(.*)$/im.exec(unfolded)
  if (m === null) return { type: "text/plain", boundary: undefined }
  const parsed = libmime.parseHeaderValue(m[1].trim()) as { value: string; params: Record<string, string> }
  const type = (parsed.value || "text/plain").toLowerCase()
  const boundary = type.startsWith("multipart/") ? parsed.params.boundary : undefined
  return { type, boundary: boundary === undefined || boundary === "" ? undefined : boundary }
}

/** the part tree of a message as a mail reader reads it */
export const readRfc = (message: Buffer): RfcPart => {
  const all = lines(message)
  let i = 0
  const part = (outer: ReadonlyArray<string>): RfcPart => {
    const headerStart = i
    while (i < all.length && !isBlank(all[i]) && delimiter(all[i], outer) === undefined) i++
    const headers = Buffer.concat(all.slice(headerStart, i))
    if (i < all.length && isBlank(all[i])) i++
    const { type, boundary } = contentType(headers)
    if (boundary === undefined) {
      const bodyStart = i
      while (i < all.length && delimiter(all[i], outer) === undefined) i++
      let body = Buffer.concat(all.slice(bodyStart, i))
      // the line break before a delimiter belongs to the delimiter
      if (i < all.length) body = body.subarray(0, body.length - (body.subarray(-2).toString("latin1") === "\r\n" ? 2 : body.subarray(-1)[0] === 10 ? 1 : 0))
      return { type, headers, body, children: [] }
    }
    const mine = [boundary, ...outer]
    const children: Array<RfcPart> = []
    while (i < all.length) {
      const d = delimiter(all[i], mine)
      if (d === undefined) {
        i++
        continue
      }
      if (d.boundary !== boundary) break
      i++
      if (d.close) {
        while (i < all.length && delimiter(all[i], outer) === undefined) i++
        break
      }
      children.push(part(mine))
    }
    return { type, headers, body: Buffer.alloc(0), children }
  }
  return part([])
}

/** the leaves of a tree, in order, with their path ("1.2") */
export const leaves = (tree: RfcPart, path = "1"): Array<{ path: string; part: RfcPart }> =>
  tree.children.length === 0 ? [{ path, part: tree }] : tree.children.flatMap((c, n) => leaves(c, `${path}.${n + 1}`))

/** the tree's shape: types and nesting */
export const shape = (tree: RfcPart): string => (tree.children.length === 0 ? tree.type : `${tree.type}(${tree.children.map(shape).join(",")})`)
