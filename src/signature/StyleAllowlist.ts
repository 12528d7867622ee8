/**
 * The inline CSS a signature may keep: layout, typography, colours, borders.
 * No url(), no expression(), no escapes, no at-rules: a declaration whose
 * value has anything beyond plain tokens (and rgb()/hsl() colours) is dropped.
 */

const PROPERTIES = new Set([
  "color",
  "background-color",
  "background",
  "opacity",
  "font",
  "font-family",
  "font-size",
  "font-weight",
  "font-style",
  "font-variant",
  "line-height",
  "letter-spacing",
  "text-decoration",
  "text-align",
  "text-transform",
  "text-indent",
  "vertical-align",
  "white-space",
  "word-break",
  "direction",
  "unicode-bidi",
  "display",
  "visibility",
  "width",
  "height",
  "min-width",
  "max-width",
  "min-height",
  "max-height",
  "table-layout",
  "margin",
  "margin-top",
  "margin-right",
  "margin-bottom",
  "margin-left",
  "padding",
  "padding-top",
  "padding-right",
  "padding-bottom",
  "padding-left",
  "border",
  "border-top",
  "border-right",
  "border-bottom",
  "border-left",
  "border-color",
  "border-style",
  "border-width",
  "border-top-color",
  "border-right-color",
  "border-bottom-color",
  "border-left-color",
  "border-collapse",
  "border-spacing",
  "border-radius",
  "list-style",
  "list-style-type",
  "mso-line-height-rule",
  "mso-table-lspace",
  "mso-table-rspace"
])

// Colour functions are the only parentheses allowed; everything else is plain tokens.
const COLOUR_FUNCTION = /\b(?:rgb|rgba|hsl|hsla)\(\s*[\d\s.,%/]*\)/gi
const PLAIN_VALUE = /^[A-Za-z0-9\s#%.,'"+\-/!_]*$/
// For checking only: section tags vanish, values count as a plain token (rendering
// restricts a value in a style attribute to plain tokens as well).
const SECTION_TAG = /\{\{\s*[#^/][^}]*\}\}/g
const VALUE_TAG = /\{\{\{?[^}]*\}?\}\}/g

/** Splits declarations on `;` outside quotes and parentheses. */
const declarations = (style: string): string[] => {
  const out: string[] = []
  let current = ""
  let quoteChar = ""
  let depth = 0
  for (const ch of style) {
    if (quoteChar !== "") {
      if (ch === quoteChar) quoteChar = ""
    } else if (ch === '"' || ch === "'") quoteChar = ch
    else if (ch === "(") depth++
    else if (ch === ")") depth = Math.max(0, depth - 1)
    else if (ch === ";" && depth === 0) {
      out.push(current)
      current = ""
      continue
    }
    current += ch
  }
  out.push(current)
  return out.map((d) => d.trim()).filter((d) => d !== "")
}

const declarationAllowed = (declaration: string): boolean => {
  const colon = declaration.indexOf(":")
  if (colon <= 0) return false
  const property = declaration.slice(0, colon).trim().toLowerCase()
  const value = declaration.slice(colon + 1).trim()
  return PROPERTIES.has(property) && PLAIN_VALUE.test(value.replace(COLOUR_FUNCTION, "c"))
}

export interface FilteredStyle {
  readonly value: string
  readonly removed: ReadonlyArray<string>
}

/**
 * Keeps the allowed declarations. A style holding placeholders is kept whole
 * or dropped whole: rewriting it could break a section spanning declarations.
 */
export const filterStyle = (style: string): FilteredStyle => {
  if (style.includes("{{")) {
    const bad = declarations(style.replace(SECTION_TAG, "").replace(VALUE_TAG, "x")).filter((d) => !declarationAllowed(d))
    return bad.length === 0 ? { value: style, removed: [] } : { value: "", removed: bad }
  }
  const all = declarations(style)
  const kept = all.filter(declarationAllowed)
  return { value: kept.join("; "), removed: all.filter((d) => !declarationAllowed(d)) }
}
