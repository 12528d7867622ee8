/**
 * fast-check arbitraries for whole messages of the kinds mail clients and list servers send,
 * with the edge cases of their header blocks, boundaries, charsets and transfer encodings:
 * folded and RFC 2231 parameters, mixed-case names, preambles and epilogues, padded and missing
 * close delimiters, nested boundaries that start with their parent's, signed and encrypted
 * structures, attached messages, QP soft breaks and bad escapes, base64 of odd line widths.
 * Only what the relay lets through to a stamper: CRLF line endings, no bare CR or LF.
 */
import fc from "fast-check"
import iconv from "iconv-lite"
import { SIG_MARKER, SIG_TEXT_LINE } from "./MimeHarness.js"

/** `headerOnly`: header lines and no blank line (the next delimiter follows them) */
export type Leaf = { readonly kind: "leaf"; readonly headers: string; readonly body: Buffer; readonly headerOnly?: boolean }
export type Multi = {
  readonly kind: "multi"
  readonly headers: (boundary: string) => string
  readonly boundary: string
  readonly preamble: string
  readonly children: ReadonlyArray<Tree>
  /** what follows "--B" on a delimiter line: "" or transport padding */
  readonly padding: string
  readonly close: "close" | "padded-close" | "missing"
  readonly epilogue: string
}
export type Embedded = { readonly kind: "embedded"; readonly headers: string; readonly inner: Tree }
export type Tree = Leaf | Multi | Embedded

const ROOT =
  "From: Ann <a@example.com>\r\nTo: b@example.com\r\nSubject: generated\r\nDate: Mon, 7 Dec 2026 10:00:00 +0000\r\nMessage-ID: <gen@example.com>\r\nMIME-Version: 1.0\r\n"

/** a tree as bytes (no root header lines: `message` adds them) */
export const serialize = (tree: Tree): Buffer => {
  switch (tree.kind) {
    case "leaf":
      return tree.headerOnly === true
        ? Buffer.from(tree.headers.replace(/\r\n$/, ""), "latin1")
        : Buffer.concat([Buffer.from(tree.headers + "\r\n", "latin1"), tree.body])
    case "embedded":
      return Buffer.concat([Buffer.from(tree.headers + "\r\n" + ROOT, "latin1"), serialize(tree.inner)])
    case "multi": {
      const b = tree.boundary
      const pieces: Array<Buffer> = [Buffer.from(tree.headers(b) + "\r\n" + tree.preamble, "latin1")]
      for (const child of tree.children) {
        pieces.push(Buffer.from(`--${b}${tree.padding}\r\n`, "latin1"), serialize(child), Buffer.from("\r\n", "latin1"))
      }
      if (tree.close !== "missing") pieces.push(Buffer.from(`--${b}--${tree.close === "padded-close" ? " \t" : ""}\r\n${tree.epilogue}`, "latin1"))
      return Buffer.concat(pieces)
    }
  }
}

export const message = (tree: Tree): Buffer => Buffer.concat([Buffer.from(ROOT, "latin1"), serialize(tree)])

// ---- text

const textPiece = (big: boolean) =>
  fc.oneof(
    {
      arbitrary: fc.constantFrom(
        "Hello",
        "x",
        " ",
        "  ",
        "\t",
        "=",
        "=3D",
        "=\r\n",
        "-",
        "--",
        "> quoted",
        "From here",
        ".",
        "..",
        "<b>",
        "&amp;",
        "{{signature}}"
      ),
      weight: 5
    },
    { arbitrary: fc.constantFrom("é", "ü", "€", "✓", "日本語", "😀", "Ünïcode", "Жанна"), weight: 3 },
    { arbitrary: fc.constantFrom("\r\n", "\r\n\r\n", " \r\n", "\r\n> "), weight: 5 },
    { arbitrary: fc.integer({ min: 1, max: 1200 }).map((n) => "w".repeat(n)), weight: 1 },
    // around the stamper's held window (36 KiB)
    ...(big ? [{ arbitrary: fc.integer({ min: 1, max: 24_000 }).map((n) => `${"é".repeat(n)}\r\n`), weight: 1 }] : []),
    {
      arbitrary: fc.constantFrom(
        "\r\n-----Original Message-----\r\nFrom: Bob\r\nSent: Monday\r\n",
        "\r\nOn Mon, 1 Jan 2024, Bob <b@example.com> wrote:\r\n> hi\r\n",
        "\r\n-- \r\nAnn\r\n",
        `\r\n${SIG_TEXT_LINE}\r\n`,
        "\r\n--BB\r\n",
        "\r\n--BB1--\r\n",
        "\r\n--BB  \r\n",
        "--BB",
        "\r\n-----BEGIN PGP SIGNED MESSAGE-----\r\n"
      ),
      weight: 1
    }
  )

const textArb = (big: boolean) => fc.array(textPiece(big), { maxLength: 16 }).map((p) => p.join(""))

const htmlArb = (big: boolean) =>
  fc
    .tuple(
      fc.array(
        fc.oneof(
          { arbitrary: textPiece(big), weight: 3 },
          {
            arbitrary: fc.constantFrom(
              "<br>",
              "<div>",
              "</div>",
              "<p>",
              '<blockquote type="cite">',
              '<div class="gmail_quote">',
              "<hr>",
              `<div id="${SIG_MARKER}">x</div>`
            ),
            weight: 2
          }
        ),
        { maxLength: 12 }
      ),
      fc.constantFrom("", '<meta charset="iso-8859-1">', '<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'),
      fc.boolean()
    )
    .map(([p, meta, wrap]) => (wrap ? `<html><head>${meta}</head><body>${p.join("")}</body></html>` : p.join("")))

// ---- charsets: [label in the header (or none), how the text becomes bytes]

type Charset = { readonly label: string | undefined; readonly encode: (s: string) => Buffer; readonly wide?: boolean }
const via = (name: string) => (s: string) => iconv.encode(s, name)
const JIS = Buffer.from("\x1b$B$3$s$K$A$O\x1b(B", "latin1")
const charsets: ReadonlyArray<Charset> = [
  { label: "utf-8", encode: via("utf-8") },
  { label: '"UTF-8"', encode: via("utf-8") },
  { label: undefined, encode: via("utf-8") },
  { label: "us-ascii", encode: via("utf-8") },
  { label: "iso-8859-1", encode: via("latin1") },
  { label: "ISO-8859-2", encode: via("iso-8859-2") },
  { label: "windows-1252", encode: via("windows-1252") },
  { label: "windows-1251", encode: via("windows-1251") },
  { label: "iso-2022-jp", encode: (s) => Buffer.concat([iconv.encode(s.replace(/[^\x00-\x7f]/g, "?"), "ascii"), JIS]) },
  { label: "shift_jis", encode: via("shift_jis") },
  { label: "utf-16", encode: (s) => iconv.encode(s, "utf-16le", { addBOM: true }), wide: true },
  { label: "utf-16be", encode: via("utf-16be"), wide: true },
  { label: "unknown-8bit", encode: via("latin1") },
  { label: "x-no-such-charset", encode: via("utf-8") },
  { label: "utf-7", encode: via("utf-7") }
]

// ---- transfer encodings

const hex = (b: number, lower: boolean): string => {
  const h = b.toString(16).padStart(2, "0")
  return lower ? h : h.toUpperCase()
}

/** quoted-printable with soft breaks every `width` output characters, optionally with lower-case hex and bad escapes */
const qp = (bytes: Buffer, width: number, lower: boolean, badAt: number): string => {
  let out = ""
  let line = 0
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]
    if (b === 13 && bytes[i + 1] === 10) {
      out += "\r\n"
      line = 0
      i++
      continue
    }
    let piece = (b >= 33 && b <= 126 && b !== 61) || (b === 32 && bytes[i + 1] !== 13 && i + 1 < bytes.length) ? String.fromCharCode(b) : `=${hex(b, lower)}`
    if (i === badAt) piece = "=Z" + piece
    if (line + piece.length > width) {
      out += "=\r\n"
      line = 0
    }
    out += piece
    line += piece.length
  }
  return out
}

const b64 = (bytes: Buffer, width: number, junk: "none" | "spaces" | "nopad" | "blank-lines"): string => {
  let s = bytes.toString("base64")
  if (junk === "nopad") s = s.replace(/=+$/, "")
  const lines = s.match(new RegExp(`.{1,${width}}`, "g")) ?? []
  if (junk === "spaces") return lines.map((l) => l.slice(0, 3) + " " + l.slice(3) + " ").join("\r\n")
  if (junk === "blank-lines") return lines.join("\r\n\r\n")
  return lines.join("\r\n")
}

type Cte = { readonly header: string | undefined; readonly encode: (b: Buffer) => Buffer | undefined }
const cteArb: fc.Arbitrary<Cte> = fc.oneof(
  fc.constantFrom<Cte>(
    { header: undefined, encode: (b) => b },
    { header: "7bit", encode: (b) => b },
    { header: "8bit", encode: (b) => b },
    { header: "8BIT", encode: (b) => b },
    { header: "binary", encode: (b) => b },
    { header: "x-uuencode", encode: (b) => b }
  ),
  fc
    .record({
      width: fc.constantFrom(76, 75, 10, 3),
      lower: fc.boolean(),
      bad: fc.integer({ min: -50, max: 40 }),
      name: fc.constantFrom("quoted-printable", "Quoted-Printable")
    })
    .map(({ width, lower, bad, name }): Cte => ({ header: name, encode: (b) => Buffer.from(qp(b, width, lower, bad), "latin1") })),
  fc
    .record({
      width: fc.constantFrom(76, 64, 4, 73, 1000),
      junk: fc.constantFrom("none" as const, "spaces" as const, "nopad" as const, "blank-lines" as const),
      name: fc.constantFrom("base64", "BASE64")
    })
    .map(({ width, junk, name }): Cte => ({ header: name, encode: (b) => Buffer.from(b64(b, width, junk), "latin1") }))
)

const hasBareLineEnding = (b: Buffer): boolean => {
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 13 && b[i + 1] !== 10) return true
    if (b[i] === 10 && b[i - 1] !== 13) return true
  }
  return false
}

// ---- header lines

const typeLine = (type: string, params: ReadonlyArray<string>, style: number): string => {
  switch (style % 4) {
    case 0:
      return `Content-Type: ${type}${params.map((p) => `; ${p}`).join("")}\r\n`
    case 1:
      return `content-type: ${type.toUpperCase()}${params.map((p) => `;\r\n\t${p}`).join("")}\r\n`
    case 2:
      // a long line folded, with other parameters and a comment
      return `CONTENT-TYPE: ${type}; x-aaaaaaaaaaaaaaaa="${"v".repeat(60)}" (a comment);\r\n ${params.join(";\r\n  ")}; x-bbbbbbbb=${"z".repeat(90)}\r\n`
    default:
      return `Content-type:${type} ;${params.map((p) => ` ${p}`).join(" ;")}\r\n`
  }
}

const charsetParam = (label: string | undefined): Array<string> => (label === undefined ? [] : [`charset=${label}`])

const leafArb = (big: boolean): fc.Arbitrary<Leaf> =>
  fc
    .record({
      html: fc.boolean(),
      text: textArb(big),
      htmlText: htmlArb(big),
      charset: fc.oneof({ arbitrary: fc.constantFrom(...charsets.slice(0, 4)), weight: 2 }, { arbitrary: fc.constantFrom(...charsets), weight: 3 }),
      cte: cteArb,
      style: fc.nat(7),
      disposition: fc.constantFrom(
        "",
        "",
        "",
        "",
        "",
        "",
        "Content-Disposition: inline\r\n",
        "Content-Disposition: attachment\r\n",
        'Content-Disposition: attachment; filename="a.txt"\r\n'
      ),
      flowed: fc.constantFrom([], ["format=flowed"], ["format=flowed", "delsp=yes"]),
      other: fc.oneof(
        { arbitrary: fc.constant(undefined), weight: 12 },
        {
          arbitrary: fc.constantFrom(
            "text/calendar; method=REQUEST",
            "application/octet-stream",
            "text/enriched",
            "message/delivery-status",
            "application/pgp-signature"
          ),
          weight: 2
        }
      ),
      trailingBreak: fc.boolean(),
      extra: fc.constantFrom(
        "",
        "",
        "",
        "X-Note: folded\r\n\tacross two lines\r\n",
        "Content-Transfer-Encoding: 8bit\r\n",
        "Content-ID: <part@example.com>\r\n",
        "MIME-Version: 1.0 (produced by hand)\r\n"
      ),
      cteComment: fc.constantFrom("", "", "", " (encoded)")
    })
    .map(({ html, text, htmlText, charset, cte, style, disposition, flowed, other, trailingBreak, extra, cteComment }): Leaf => {
      const type = other ?? (html ? "text/html" : "text/plain")
      const params = other !== undefined ? [] : [...charsetParam(charset.label), ...(html ? [] : flowed)]
      let decoded = charset.encode(html ? htmlText : text)
      let encoded = cte.encode(decoded) ?? decoded
      let cteHeader = cte.header
      if (hasBareLineEnding(encoded)) {
        // the relay refuses such DATA: send these bytes as base64, as a client would
        encoded = Buffer.from(b64(decoded, 76, "none"), "latin1")
        cteHeader = "base64"
      }
      if (trailingBreak) encoded = Buffer.concat([encoded, Buffer.from("\r\n")])
      const headers =
        typeLine(type, params, style) + (cteHeader === undefined ? "" : `Content-Transfer-Encoding: ${cteHeader}${cteComment}\r\n`) + disposition + extra
      return { kind: "leaf", headers, body: encoded }
    })

const binaryLeaf: Leaf = {
  kind: "leaf",
  headers: "Content-Type: application/octet-stream; name=a.bin\r\nContent-Transfer-Encoding: base64\r\n",
  body: Buffer.from("QUFBQQ==\r\n")
}

// ---- multiparts

const boundaryArb = (parent: string | undefined) =>
  parent === undefined
    ? fc.constantFrom("BB", "=_Part_0_1.2", "----=_NextPart_000_0001", "b", "a'()+_,-./:=? b")
    : // not "BB--" under "BB-": "--BB--" would close "BB" too (RFC 2046 forbids such a pair; readers differ on it)
      fc.constantFrom(`${parent}1`, parent.endsWith("-") ? `${parent}y` : `${parent}-`, `${parent}x`, "CC", `=_${parent}`)

const boundaryParam = (b: string, form: number): Array<string> => {
  const token = /^[A-Za-z0-9'()+_,\-./:=?]+$/.test(b) && !/[()/:=?]/.test(b)
  switch (form % 5) {
    case 0:
      return [`boundary="${b}"`]
    case 1:
      return [token ? `boundary=${b}` : `boundary="${b}"`]
    case 2:
      return [`Boundary = "${b}"`]
    case 3: {
      const k = Math.max(1, Math.floor(b.length / 2))
      return [`boundary*0="${b.slice(0, k)}"`, `boundary*1="${b.slice(k)}"`]
    }
    default:
      return [`(why) boundary="${b}" (not)`]
  }
}

const SUBTYPES = ["mixed", "alternative", "related", "signed", "encrypted", "report"]

const multiArb = (big: boolean, depth: number, parent: string | undefined): fc.Arbitrary<Multi> =>
  boundaryArb(parent).chain((boundary) =>
    fc
      .record({
        sub: fc.oneof({ arbitrary: fc.constantFrom("mixed", "alternative", "related"), weight: 8 }, { arbitrary: fc.constantFrom(...SUBTYPES), weight: 1 }),
        style: fc.nat(7),
        form: fc.nat(9),
        preamble: fc.constantFrom("", "", "This is a multi-part message in MIME format.\r\n", "\r\n", "--\r\n"),
        children: fc.array(treeArb(big, depth + 1, boundary), { minLength: 1, maxLength: 3 }),
        padding: fc.constantFrom("", "", "", " ", "\t "),
        close: fc.constantFrom("close" as const, "close" as const, "close" as const, "padded-close" as const, "missing" as const),
        epilogue: fc.constantFrom("", "", "\r\n", "epilogue text\r\n", "--BB--\r\n")
      })
      .map(({ sub, style, form, preamble, children, padding, close, epilogue }): Multi => {
        const extra =
          sub === "signed" ? ['protocol="application/pgp-signature"', "micalg=pgp-sha256"] : sub === "encrypted" ? ['protocol="application/pgp-encrypted"'] : []
        return {
          kind: "multi",
          headers: (b) => typeLine(`multipart/${sub}`, [...extra, ...boundaryParam(b, form)], style),
          boundary,
          preamble,
          children: sub === "signed" && children.length === 1 ? [...children, binaryLeaf] : children,
          padding,
          close,
          epilogue
        }
      })
  )

const embeddedArb = (big: boolean, depth: number, parent: string | undefined): fc.Arbitrary<Embedded> =>
  fc
    .record({ disposition: fc.constantFrom("inline", "attachment", ""), inner: treeArb(big, depth + 1, parent === undefined ? undefined : `${parent}m`) })
    .map(({ disposition, inner }) => ({
      kind: "embedded",
      headers: `Content-Type: message/rfc822\r\n${disposition === "" ? "" : `Content-Disposition: ${disposition}\r\n`}`,
      inner
    }))

/** a part of header lines only, and (with `big`) attachments of 20-50 KB */
const otherLeafArb = (big: boolean): fc.Arbitrary<Leaf> =>
  fc.oneof(
    fc.constant<Leaf>({ kind: "leaf", headers: "Content-Type: text/plain; name=empty.txt\r\n", body: Buffer.alloc(0), headerOnly: true }),
    ...(big
      ? [fc.integer({ min: 20_000, max: 50_000 }).map((n): Leaf => ({ ...binaryLeaf, body: Buffer.from(b64(Buffer.alloc(n, 0x41), 76, "none"), "latin1") }))]
      : [])
  )

const treeArb = (big: boolean, depth: number, parent: string | undefined): fc.Arbitrary<Tree> =>
  depth >= 3
    ? leafArb(big)
    : fc.oneof(
        { arbitrary: leafArb(big), weight: 3 },
        { arbitrary: otherLeafArb(big), weight: 1 },
        { arbitrary: multiArb(big, depth, parent), weight: 3 },
        { arbitrary: embeddedArb(big, depth, parent), weight: 1 }
      )

/** a generated message (root header lines and a tree) */
export const messageArb = treeArb(false, 0, undefined).map(message)

/** the same, with runs of up to 24,000 two-byte characters in text bodies, around the stamper's held window (HOLD_BYTES) */
export const bigMessageArb = treeArb(true, 0, undefined).map(message)

/** a cutting: repeating piece sizes, mostly 1 to 8 bytes, sometimes bigger */
export const cutsArb = fc.oneof(
  { arbitrary: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 6 }), weight: 3 },
  { arbitrary: fc.array(fc.integer({ min: 1, max: 600 }), { minLength: 1, maxLength: 4 }), weight: 1 }
)
