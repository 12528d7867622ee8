import { Parser } from "htmlparser2"
import sanitizeHtml from "sanitize-html"
import type { Removal } from "../domain/Template.js"
import { filterStyle } from "./StyleAllowlist.js"

/**
 * Sanitizes a template's HTML when it is saved: an allowlist fit for email
 * signatures (tables, inline styles, images with https/cid/image sources, links with
 * https/mailto/tel). Everything else goes, and the caller is told what went.
 * `{{placeholders}}` survive in text and attribute values: a URL attribute
 * holding one is kept, because rendering checks the finished URL's scheme.
 */

export type { Removal } from "../domain/Template.js"

export interface SanitizedTemplate {
  readonly html: string
  readonly removed: ReadonlyArray<Removal>
}

const ALLOWED_TAGS = [
  "table",
  "tbody",
  "thead",
  "tfoot",
  "tr",
  "td",
  "th",
  "caption",
  "colgroup",
  "col",
  "div",
  "span",
  "p",
  "br",
  "hr",
  "b",
  "strong",
  "i",
  "em",
  "u",
  "s",
  "small",
  "big",
  "sub",
  "sup",
  "font",
  "center",
  "a",
  "img",
  "ul",
  "ol",
  "li",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "blockquote"
]
/** Attributes every allowed element may carry. */
const COMMON_ATTRIBUTES = ["style", "align", "valign", "width", "height", "bgcolor", "dir", "lang", "title"]
const TABLE_ATTRIBUTES = ["cellpadding", "cellspacing", "border", "role", "summary"]
const CELL_ATTRIBUTES = ["colspan", "rowspan", "nowrap", "scope"]
const ELEMENT_ATTRIBUTES: Readonly<Record<string, ReadonlyArray<string>>> = {
  table: TABLE_ATTRIBUTES,
  td: CELL_ATTRIBUTES,
  th: CELL_ATTRIBUTES,
  col: ["span"],
  colgroup: ["span"],
  font: ["color", "face", "size"],
  a: ["href", "target", "name", "rel"],
  img: ["src", "alt", "border", "hspace", "vspace"],
  ol: ["start", "type"],
  ul: ["type"]
}
/** img: `image:ID` names an image of the tenant's library (src/signature/TemplateImages.ts) */
const URL_SCHEMES_BY_TAG: Readonly<Record<string, ReadonlyArray<string>>> = { a: ["https", "mailto", "tel"], img: ["https", "cid", "image"] }
const URL_ATTRIBUTES: Readonly<Record<string, string>> = { a: "href", img: "src" }
/** Disallowed elements whose content is not text for the reader either. */
const DROPPED_WITH_CONTENT = [
  "script",
  "style",
  "textarea",
  "option",
  "select",
  "noscript",
  "noembed",
  "noframes",
  "iframe",
  "object",
  "title",
  "head",
  "template",
  "svg",
  "math",
  "xmp"
]
/** A removal's `detail` quotes at most this much of the removed value. */
const MAX_DETAIL_LENGTH = 120

const quote = (value: string): string => (value.length > MAX_DETAIL_LENGTH ? `${value.slice(0, MAX_DETAIL_LENGTH)}…` : value)

const attributeAllowed = (tag: string, attribute: string): boolean =>
  COMMON_ATTRIBUTES.includes(attribute) || (ELEMENT_ATTRIBUTES[tag]?.includes(attribute) ?? false)

/** A literal URL must name an allowed scheme; one holding a placeholder is decided when rendered. */
const urlAllowed = (tag: string, value: string): boolean => {
  if (value.includes("{{")) return true
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(value.replace(/[\u0000-\u0020]+/g, ""))
  return scheme !== null && (URL_SCHEMES_BY_TAG[tag] ?? []).includes(scheme[1]!.toLowerCase())
}

/** Applies the attribute, URL and style policy to one allowed element, noting what it drops. */
const filterAttributes = (tag: string, attribs: Record<string, string>, removed: Removal[]): Record<string, string> => {
  const kept: Record<string, string> = {}
  for (const [name, value] of Object.entries(attribs)) {
    if (!attributeAllowed(tag, name)) {
      removed.push({ kind: "attribute", name, detail: `<${tag} ${name}="${quote(value)}">` })
    } else if (URL_ATTRIBUTES[tag] === name && !urlAllowed(tag, value)) {
      removed.push({ kind: "url", name, detail: quote(value) })
    } else if (name === "style") {
      const style = filterStyle(value)
      for (const declaration of style.removed) removed.push({ kind: "attribute", name: "style", detail: quote(declaration) })
      if (style.value !== "") kept[name] = style.value
    } else kept[name] = value
  }
  if (tag === "a" && kept.target !== undefined) kept.rel = "noopener noreferrer"
  return kept
}

/** A comment, declaration or processing instruction starts so; without one, there is nothing to find. */
const MARKUP_DECLARATION = /<[!?]/

/** Comments and declarations are dropped by sanitize-html without a hook; count them first. */
const findComments = (html: string, removed: Removal[]): void => {
  if (!MARKUP_DECLARATION.test(html)) return
  const parser = new Parser({
    oncomment: (text) => void removed.push({ kind: "element", name: "#comment", detail: quote(text.trim()) }),
    onprocessinginstruction: (name) => void removed.push({ kind: "element", name: name.toLowerCase() })
  })
  parser.end(html)
}

/** Sanitizes a template's HTML, returning the clean HTML and what was removed, in document order. */
export const sanitizeTemplate = (html: string): SanitizedTemplate => {
  const removed: Removal[] = []
  findComments(html, removed)
  const clean = sanitizeHtml(html, {
    allowedTags: ALLOWED_TAGS,
    // The element policy lives in filterAttributes; this map only mirrors it for sanitize-html's own pass.
    allowedAttributes: Object.fromEntries(ALLOWED_TAGS.map((t) => [t, [...COMMON_ATTRIBUTES, ...(ELEMENT_ATTRIBUTES[t] ?? [])]])),
    allowedSchemes: ["https", "mailto", "tel", "cid"],
    allowedSchemesByTag: { a: ["https", "mailto", "tel"], img: ["https", "cid", "image"] },
    allowedSchemesAppliedToAttributes: ["href", "src", "cite", "background"],
    allowProtocolRelative: false,
    parseStyleAttributes: false,
    disallowedTagsMode: "discard",
    nonTextTags: DROPPED_WITH_CONTENT,
    transformTags: {
      "*": (tagName: string, attribs: sanitizeHtml.Attributes) => {
        if (!ALLOWED_TAGS.includes(tagName)) {
          removed.push({ kind: "element", name: tagName })
          return { tagName, attribs }
        }
        return { tagName, attribs: filterAttributes(tagName, attribs, removed) }
      }
    }
  })
  return { html: clean, removed }
}
