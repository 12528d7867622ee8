import { ATTRIBUTION_FORMS } from "./ReplyLexiconData.js"

/**
 * Reply attributions ("On … wrote:", "Am … schrieb …:", "… пишет:") matched
 * against the forms mail clients ship in their localisations (the generated
 * lexicon) plus the webmail forms below, which no open localisation carries.
 *
 * A form is compiled once into its literal pieces ("on", "wrote"), with
 * whether it starts or ends with one. A line is tested only against the forms
 * whose first piece starts its first word or whose last piece ends its last
 * word (an index each), and the few forms with neither; each test is a handful
 * of `startsWith`/`indexOf` calls, no backtracking regular expression.
 */

/**
 * Gmail's and Apple Mail's reply headers in the languages they are most met in
 * (as the clients write them; Gmail wraps them at 78 columns). Facts about the
 * clients' output, kept by hand: these clients publish no localisation files.
 */
const WEBMAIL_FORMS: ReadonlyArray<string> = [
  "On {date}, {author} wrote:",
  "On {date} at {time}, {author} wrote:",
  "Am {date} um {time} schrieb {author}:",
  "Am {date} schrieb {author}:",
  "{author} schrieb am {date}:",
  "Le {date} à {time}, {author} a écrit :",
  "El {date}, {author} escribió:",
  "Il giorno {date} {author} ha scritto:",
  "Em {date}, {author} escreveu:",
  "Op {date} schreef {author}:",
  "Den {date} skrev {author}:",
  "{date} skrev {author}:",
  "{date} kl. {time} skrev {author}:",
  "W dniu {date} {author} napisał:",
  "Dne {date} napsal {author}:",
  "{author} ezt írta ({date}):",
  "{date} {author} написал(а):",
  "{date} {author} написал:",
  "{date}, {author} пише:",
  "{date} tarihinde {author} şunu yazdı:",
  "{date} に {author} さんは書きました:",
  "{date} {author} 写道：",
  "{date} {author}님이 작성:",
  "Στις {date}, ο/η {author} έγραψε:",
  "{author} kirjoitti {date}:",
  "Pada {date}, {author} menulis:",
  "Vào {date}, {author} đã viết:"
]

export type AttributionKind = "dated" | "author"

interface Form {
  readonly pieces: ReadonlyArray<string>
  readonly startsWithPiece: boolean
  readonly endsWithPiece: boolean
  readonly dated: boolean
}

const PLACEHOLDER = /\{(?:author|date|time)\}/g
/** colons as the scripts write them (Latin/CJK full-width, Khmer) */
const TRAILING_COLON = /\s*[:：៖]\s*$/u
const COLONS = new Set([":", "：", "៖"])
/** does the text end with a colon (spaces after it allowed); a plain loop, cheaper than the regex on every line */
export const endsWithColon = (text: string): boolean => {
  let i = text.length - 1
  while (i >= 0 && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9 || text.charCodeAt(i) === 13)) i--
  return i >= 0 && COLONS.has(text[i])
}
const ASCII = /^[\x00-\x7f]*$/
/** what separates a placeholder from a word and is not part of the word: spaces, commas */
const EDGE = /^[\s,،、，]+|[\s,،、，]+$/gu
const LETTER = /\p{L}/u
/** scripts written without spaces between words: their pieces are found anywhere, not by word */
const UNSPACED = /[\u0e00-\u0e7f\u1780-\u17ff\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]/u

/** lower case, NFC, one space for any run of spaces (no-break ones too), trimmed */
export const normaliseLine = (line: string): string =>
  (ASCII.test(line) ? line : line.normalize("NFC"))
    .toLowerCase()
    .replace(/[\s\u00a0\u200b\u200e\u200f\u202f]+/gu, " ")
    .trim()

const compile = (form: string): Form | undefined => {
  if (form.includes("$") || form.includes("#")) return undefined // a translator's broken placeholder
  const text = normaliseLine(form).replace(TRAILING_COLON, "")
  const pieces = text
    .split(PLACEHOLDER)
    .map((p) => p.replace(EDGE, ""))
    .filter((p) => p !== "")
  if (pieces.length === 0) return undefined // only placeholders: left to the structural rule
  const bare = text.replace(EDGE, "")
  return {
    pieces,
    startsWithPiece: !bare.startsWith("{"),
    endsWithPiece: !bare.endsWith("}"),
    dated: /\{(?:date|time)\}/.test(text)
  }
}

const firstWord = (s: string): string => s.split(" ", 1)[0] ?? ""
const lastWord = (s: string): string => s.slice(s.lastIndexOf(" ") + 1)

/** a piece that begins/ends with a letter must not be glued to another letter ("on" is not in "once") */
const boundaryBefore = (line: string, at: number, piece: string): boolean =>
  at === 0 || !LETTER.test(piece[0] ?? "") || UNSPACED.test(piece[0] ?? "") || !LETTER.test(line[at - 1] ?? "")
const boundaryAfter = (line: string, end: number, piece: string): boolean =>
  end >= line.length || !LETTER.test(piece[piece.length - 1] ?? "") || UNSPACED.test(piece[piece.length - 1] ?? "") || !LETTER.test(line[end] ?? "")

const findPiece = (line: string, piece: string, from: number): number => {
  for (let at = line.indexOf(piece, from); at >= 0; at = line.indexOf(piece, at + 1)) {
    if (boundaryBefore(line, at, piece) && boundaryAfter(line, at + piece.length, piece)) return at
  }
  return -1
}

/** does the normalised line (without its trailing colon) have the form's shape: pieces in order, something between them */
const matches = (line: string, form: Form): boolean => {
  const { pieces } = form
  let pos = 0
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i]
    const last = i === pieces.length - 1
    let at: number
    if (i === 0 && form.startsWithPiece) {
      at = line.startsWith(piece) && boundaryAfter(line, piece.length, piece) ? 0 : -1
    } else if (last && form.endsWithPiece) {
      at = line.length - piece.length
      if (at < pos || !line.endsWith(piece) || !boundaryBefore(line, at, piece)) return false
    } else {
      at = findPiece(line, piece, pos)
    }
    if (at < 0) return false
    // a placeholder sits between two pieces (and before the first one when the form starts with it)
    if ((i > 0 || !form.startsWithPiece) && at <= pos) return false
    pos = at + piece.length + 1
  }
  return form.endsWithPiece || pos <= line.length
}

class FormIndex {
  private readonly byFirst = new Map<string, Array<Form>>()
  private readonly byLast = new Map<string, Array<Form>>()
  /** forms with a placeholder at both ends, by the first word of their first piece */
  private readonly byWord = new Map<string, Array<Form>>()
  /** the rest (pieces in scripts without spaces) */
  private readonly floating: Array<Form> = []

  constructor(forms: ReadonlyArray<string>) {
    const seen = new Set<string>()
    for (const source of forms) {
      const form = compile(source)
      if (form === undefined) continue
      const key = `${form.dated}|${form.startsWithPiece}|${form.endsWithPiece}|${form.pieces.join("\u0000")}`
      if (seen.has(key)) continue
      seen.add(key)
      const first = form.pieces[0]
      const last = form.pieces[form.pieces.length - 1]
      if (form.startsWithPiece && !UNSPACED.test(first)) push(this.byFirst, firstWord(first), form)
      else if (form.endsWithPiece && !UNSPACED.test(last)) push(this.byLast, lastWord(last), form)
      else if (!UNSPACED.test(first)) push(this.byWord, firstWord(first), form)
      else this.floating.push(form)
    }
  }

  get size(): number {
    let n = this.floating.length
    for (const list of [...this.byFirst.values(), ...this.byLast.values(), ...this.byWord.values()]) n += list.length
    return n
  }

  kind(normalised: string): AttributionKind | undefined {
    let found = test(normalised, this.byFirst.get(firstWord(normalised)), undefined)
    found = test(normalised, this.byLast.get(lastWord(normalised)), found)
    for (let from = 0; found !== "dated" && from < normalised.length;) {
      let space = normalised.indexOf(" ", from)
      if (space < 0) space = normalised.length
      const forms = this.byWord.get(normalised.slice(from, space))
      if (forms !== undefined) found = test(normalised, forms, found)
      from = space + 1
    }
    return test(normalised, this.floating, found)
  }
}

/** the strongest kind among `forms` that match (a dated match ends the search) */
const test = (line: string, forms: ReadonlyArray<Form> | undefined, found: AttributionKind | undefined): AttributionKind | undefined => {
  if (forms === undefined || found === "dated") return found
  let kind = found
  for (const form of forms) {
    if (!matches(line, form)) continue
    if (form.dated && /\d/.test(line)) return "dated"
    kind = "author"
  }
  return kind
}

const push = (map: Map<string, Array<Form>>, key: string, form: Form): void => {
  const list = map.get(key)
  if (list === undefined) map.set(key, [form])
  else list.push(form)
}

const INDEX = new FormIndex([...ATTRIBUTION_FORMS.map(([form]) => form), ...WEBMAIL_FORMS])

/** how many distinct attribution shapes the matcher knows */
export const ATTRIBUTION_SHAPES = INDEX.size

/** an attribution line is never longer than this (three wrapped lines of a long name and date) */
export const MAX_ATTRIBUTION = 400

/**
 * Is `line` (one line, or up to three wrapped lines joined by a space) a reply
 * attribution in one of the known forms? "dated": a form with a date and the
 * line holds a digit; "author": a form that only names the author ("Bob
 * wrote:"), or a dated form without any digit — weaker evidence, for the
 * caller to confirm. The line must end with a colon, except for a dated match
 * that also names an address (some clients drop the colon).
 */
export const attributionKind = (line: string): AttributionKind | undefined => {
  if (line.length > MAX_ATTRIBUTION) return undefined
  const normalised = normaliseLine(line)
  const colon = endsWithColon(normalised)
  if (!colon && !(/\d/.test(normalised) && /@/.test(normalised))) return undefined
  const kind = INDEX.kind(colon ? normalised.replace(TRAILING_COLON, "") : normalised)
  return colon || kind === "dated" ? kind : undefined
}

/** a date-like token: a year, a time of day, a numeric date, or a CJK date */
const DATE_TOKEN = /(?<!\d)(?:19|20)\d\d(?!\d)|(?<!\d)\d{1,2}[:.h]\d\d(?!\d)|(?<!\d)\d{1,4}[./-]\d{1,2}[./-]\d{1,4}(?!\d)|\d\s*[年月日]/u
/** an address or a bracketed name/address */
const ADDRESS = /[\w.+-]+@[\w-]+(?:\.[\w-]+)+|<[^<>\s]{1,200}>|\[mailto:/u

/**
 * The structural fallback: a line (or wrapped lines, joined) that ends with a
 * colon, holds a date-like token and names someone (an address, or words
 * beside the date). The caller confirms it by the quoted material that must
 * follow; alone it is not enough ("Meeting on 12 May at 10:00:" is not one).
 */
export const structuralAttribution = (line: string): boolean => {
  if (line.length > MAX_ATTRIBUTION || !endsWithColon(line)) return false
  if (!DATE_TOKEN.test(line)) return false
  return hasAddress(line) || (line.match(/\p{L}{2,}/gu)?.length ?? 0) >= 2
}

/** cheap character checks first: the address pattern backtracks over every word */
const hasAddress = (line: string): boolean => (line.includes("@") || line.includes("<") || line.includes("[")) && ADDRESS.test(line)

/** the line holds a date and an address: the wrapped start of an attribution may be on it */
export const datedAddress = (line: string): boolean => hasAddress(line) && DATE_TOKEN.test(line)
