/**
 * Escaping of directory values by the context they land in (DESIGN invariant 9).
 * Every function here takes a value that came from the directory, never template text.
 * Values are cleaned first (line breaks, bidi controls, other controls, length)
 * whatever the context: a signature line never breaks or flips because of a value.
 */

/** A directory value longer than this is cut; no signature field needs more. */
export const MAX_VALUE_LENGTH = 4_096

/** The schemes a URL attribute may end up with; anything else renders as an empty value. */
export const ALLOWED_URL_SCHEMES: ReadonlyArray<string> = ["https", "mailto", "tel"]

// CR, LF, the other C0 controls, DEL, C1 controls, line/paragraph separators: a value never breaks a line.
const LINE_BREAKING = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g
// Bidi embeddings, overrides and isolates (U+202A-E, U+2066-9) and the marks (U+200E/F, U+061C):
// a value cannot reorder the text around it.
// Zero-width and invisible characters (U+200B, U+2060-4, U+FEFF, U+180E) go too: a value cannot hide
// text in a signature. The joiners U+200C/D stay: Persian and Indic names and emoji sequences need them.
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u200b\u2060-\u2064\ufeff\u180e]/g

/** Cuts at MAX_VALUE_LENGTH without splitting a surrogate pair. */
const cap = (value: string): string => {
  if (value.length <= MAX_VALUE_LENGTH) return value
  let end = MAX_VALUE_LENGTH
  const last = value.charCodeAt(end - 1)
  if (last >= 0xd800 && last <= 0xdbff) end -= 1
  return value.slice(0, end)
}

/** The cleaning every context shares: capped, no controls (a run becomes one space), no bidi controls or zero-width characters. */
export const cleanValue = (value: string): string => {
  const capped = cap(value)
  // Fast path: most directory values are plain.
  if (!/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u200b\u2060-\u2064\ufeff\u180e]/.test(capped)) return capped
  return capped.replace(BIDI_CONTROLS, "").replace(LINE_BREAKING, " ")
}

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }
const escapeChars = (value: string): string => value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!)

/** A value in an HTML text node. */
export const escapeHtmlText = (value: string): string => escapeChars(cleanValue(value))

/**
 * An already assembled attribute value (the renderer always writes attributes
 * double-quoted, so escaping quotes, `&` and angle brackets is enough).
 */
export const escapeAttributeValue = (value: string): string => escapeChars(value)

/** A value in plain text: no escaping exists there, only the cleaning. */
export const plainTextValue = (value: string): string => cleanValue(value)

// Browsers strip leading and trailing C0 controls and spaces from a URL, and
// remove tabs and newlines anywhere, before reading the scheme.
const URL_IGNORED = /[\u0000-\u0020]+/g

/**
 * A whole URL attribute value as rendered (template text and values together):
 * kept when its scheme is https, mailto or tel, else the empty string. Relative
 * and protocol-relative URLs mean nothing in a received email and are dropped too.
 */
export const safeUrl = (url: string): string => {
  const trimmed = url.replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, "")
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(trimmed.replace(URL_IGNORED, ""))
  if (scheme === null) return ""
  const name = scheme[1]!.toLowerCase()
  if (!ALLOWED_URL_SCHEMES.includes(name)) return ""
  // Phone numbers are written with spaces for people; a tel: URI has none (RFC 3966).
  return name === "tel" ? trimmed.replace(/\s+/g, "") : trimmed
}

// Enough for colours, lengths, font names: no quotes, parentheses, colons, semicolons,
// slashes or backslashes, so a value cannot end the declaration or open url()/expression().
const SAFE_CSS_VALUE = /^[A-Za-z0-9#%.,+\- ]*$/

/** A value inside a `style` attribute: kept when it is a plain CSS token list, else empty. */
export const safeCssValue = (value: string): string => {
  const cleaned = cleanValue(value)
  return SAFE_CSS_VALUE.test(cleaned) ? cleaned : ""
}
