import { Parser } from "htmlparser2"
import { URL_SPAN_BARE, URL_SPAN_DECORATED, URL_SPAN_END } from "./HtmlToText.js"
import { type MustacheToken, parseMustacheTokens } from "./MustacheTokens.js"
import { imageIdOfSource } from "./TemplateImages.js"

/**
 * Compiles Mustache-style templates into render trees whose every value slot
 * knows its escaping context (DESIGN invariant 9). Mustache parses the tags;
 * the HTML around them is read once with htmlparser2 and written back
 * normalised (attributes double-quoted), with each `{{value}}` replaced by a
 * slot: HTML text, attribute, URL attribute (checked as a whole when rendered)
 * or inline style. Sections must open and close in the same context (both in
 * text, or both in one attribute value), so an empty section can never move a
 * later value into another context; the idea is Go html/template's rule that
 * branches end in the context they started in.
 */

export type ValueContext = "html" | "attribute" | "css" | "text"

export type RenderNode =
  | { readonly _tag: "Literal"; readonly text: string }
  | { readonly _tag: "Value"; readonly name: string; readonly context: ValueContext }
  | { readonly _tag: "Section"; readonly name: string; readonly inverted: boolean; readonly children: ReadonlyArray<RenderNode> }
  /** a link target in plain text: rendered as a URL with an allowed scheme or nothing; `decorated`: written " <url>" */
  | { readonly _tag: "TextUrl"; readonly decorated: boolean; readonly children: ReadonlyArray<RenderNode> }
  /** an attribute whose value holds slots; `url`: the rendered value must have an allowed scheme */
  | { readonly _tag: "Attribute"; readonly name: string; readonly url: boolean; readonly children: ReadonlyArray<RenderNode> }
  /**
   * `<img src="image:ID">`: the tenant's image ID, resolved when rendered into a
   * src for the delivery mode plus width and height (the template's own, if it gave them)
   */
  | { readonly _tag: "ImageSource"; readonly id: string; readonly width?: string; readonly height?: string }
  /**
   * `<img src="{{photo}}">` inside `{{#photo}}…{{/photo}}`: the sender's
   * directory photo, resolved like a library image (hosted, `cid:` or `data:`)
   */
  | { readonly _tag: "PhotoSource"; readonly width?: string; readonly height?: string }

/** The placeholder of the sender's directory photo: only an `<img>` source, only inside its own section. */
export const PHOTO_PLACEHOLDER = "photo"
const PHOTO_USAGE = `{{#photo}}<img src="{{photo}}" width="96" height="96" alt="">{{/photo}}`

/** Thrown inside this module only; the engine turns it into a TemplateError. */
export class CompileFailure extends Error {}

/** Attributes whose value is a URL (a script URL there would run or load on click or display). */
const URL_ATTRIBUTES = new Set([
  "href",
  "src",
  "background",
  "action",
  "formaction",
  "cite",
  "longdesc",
  "usemap",
  "poster",
  "data",
  "codebase",
  "classid",
  "archive",
  "profile",
  "manifest",
  "icon",
  "lowsrc",
  "dynsrc",
  "ping",
  "xlink:href"
])
/** Elements whose content is not HTML text: a slot there would need another escaping. */
const RAW_TEXT_ELEMENTS = new Set(["script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript", "plaintext"])
/** Elements whose raw content htmlparser2 hands over undecoded, to be written back as is. */
const UNDECODED_TEXT = new Set(["script", "style"])
const ELEMENT_NAME = /^[a-z][a-z0-9:-]*$/
const ATTRIBUTE_NAME = /^[a-z_:][a-z0-9_.:-]*$/
/**
 * How deep elements may nest. Email clients give up far earlier, and the
 * text derived from the HTML is built by a recursive walk, which a template
 * of twenty thousand open `<div>`s overflowed.
 */
export const MAX_ELEMENT_DEPTH = 100
const VOID_ELEMENTS = new Set([
  "area",
  "base",
  "basefont",
  "br",
  "col",
  "command",
  "embed",
  "frame",
  "hr",
  "img",
  "input",
  "isindex",
  "keygen",
  "link",
  "meta",
  "param",
  "source",
  "track",
  "wbr"
])

/** Schemes a URL written in the template itself may have (cid: for images attached to the message, image: for the library). */
const LITERAL_URL_SCHEMES = ["https", "mailto", "tel", "cid", "image"]
/** Browsers ignore these around a URL; written back without them. */
const URL_EDGE_BLANKS = /^[\u0000-\u0020]+|[\u0000-\u0020]+$/g
const literalUrlAllowed = (value: string): boolean => {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(value.replace(/[\u0000-\u0020]+/g, ""))
  return scheme !== null && LITERAL_URL_SCHEMES.includes(scheme[1]!.toLowerCase())
}

type Tag =
  | { readonly kind: "value"; readonly name: string }
  | { readonly kind: "open"; readonly name: string; readonly inverted: boolean }
  | { readonly kind: "close"; readonly open: number }

// Private-use characters delimit slot sentinels; the same characters in template text are replaced first.
const SENTINEL_CHARS = /[\uE000\uE001]/
const SENTINEL_CHARS_ALL = /[\uE000\uE001]/g
const SENTINEL = /\uE000(\d+)\uE001/g
const sentinel = (n: number): string => `\uE000${n}\uE001`

const parseMustache = (source: string): ReadonlyArray<MustacheToken> => {
  // mustache.js's tokens from a linear parser (its own is superlinear: MustacheTokens.ts)
  try {
    return parseMustacheTokens(source)
  } catch (e) {
    throw new CompileFailure(e instanceof Error ? e.message : String(e))
  }
}

/**
 * Resolves `{{.}}` to the innermost section's name: values are strings, so
 * inside `{{#mobile}}` the current item is the mobile number.
 */
const valueName = (name: string, sections: ReadonlyArray<string>): string => {
  if (name !== ".") return name
  const innermost = sections[sections.length - 1]
  if (innermost === undefined) throw new CompileFailure("{{.}} is only meaningful inside a section")
  return innermost
}

const checkTokenType = (type: string, name: string): void => {
  if (type === ">") throw new CompileFailure(`partials ({{> ${name}}}) are not supported`)
}

/**
 * A plain-text template: no markup, every value in the "text" context, except
 * inside the URL spans HtmlToText marks around link targets holding
 * placeholders: those render as URLs (only https, mailto, tel), as in HTML.
 */
export const compileText = (source: string): ReadonlyArray<RenderNode> => {
  const { markup, tags } = flatten(parseMustache(source))
  const seen = new Set<number>()
  const stack: Frame[] = [{ out: [] }]
  let last = 0
  for (const m of markup.matchAll(URL_SPAN)) {
    fill(stack, markup.slice(last, m.index), tags, seen, "text", dropStrayMarks, "text")
    last = m.index + m[0].length
    const local: Frame[] = [{ out: [] }]
    fill(local, m[2]!, tags, seen, "attribute", dropStrayMarks, "a link target")
    if (local.length !== 1) throw new CompileFailure("a section in a link target must close inside it")
    stack[stack.length - 1]!.out.push({ _tag: "TextUrl", decorated: m[1] === URL_SPAN_DECORATED, children: mergeLiterals(local[0]!.out) })
  }
  fill(stack, markup.slice(last), tags, seen, "text", dropStrayMarks, "text")
  if (stack.length !== 1) throw new CompileFailure("a section was not closed")
  return mergeLiterals(stack[0]!.out)
}

// A span cut by a Mustache comment or tag leaves a lone mark: it goes.
const dropStrayMarks = (text: string): string => text.replace(/[\uE010-\uE012]/g, "")

const URL_SPAN = new RegExp(`([${URL_SPAN_BARE}${URL_SPAN_DECORATED}])([^${URL_SPAN_BARE}${URL_SPAN_DECORATED}${URL_SPAN_END}]*)${URL_SPAN_END}`, "g")

/** Replaces each Mustache tag by a sentinel, so the HTML parser sees where every tag sits. */
const flatten = (tokens: ReadonlyArray<MustacheToken>): { readonly markup: string; readonly tags: ReadonlyArray<Tag> } => {
  const tags: Tag[] = []
  let markup = ""
  const walk = (list: ReadonlyArray<MustacheToken>, sections: ReadonlyArray<string>): void => {
    for (const [type, value, , , children] of list) {
      checkTokenType(type, value)
      if (type === "text") markup += value.replace(SENTINEL_CHARS_ALL, "\uFFFD")
      else if (type === "name" || type === "&") {
        // `{{{x}}}` and `{{& x}}` get the same escaping as `{{x}}`: no value bypasses it.
        markup += sentinel(tags.push({ kind: "value", name: valueName(value, sections) }) - 1)
      } else if (type === "#" || type === "^") {
        const name = valueName(value, sections)
        const openAt = tags.push({ kind: "open", name, inverted: type === "^" }) - 1
        markup += sentinel(openAt)
        walk(children ?? [], [...sections, name])
        markup += sentinel(tags.push({ kind: "close", open: openAt }) - 1)
      }
    }
  }
  walk(tokens, [])
  return { markup, tags }
}

type Frame = { readonly out: RenderNode[]; readonly open?: { readonly tag: number; readonly name: string; readonly inverted: boolean } }

/** Builds nodes from text holding sentinels; sections push and pop frames on `stack`. */
const fill = (
  stack: Frame[],
  text: string,
  tags: ReadonlyArray<Tag>,
  seen: Set<number>,
  context: ValueContext,
  literal: (s: string) => string,
  where: string
): void => {
  const pushLiteral = (segment: string) => {
    if (SENTINEL_CHARS.test(segment)) throw new CompileFailure("the template contains reserved private-use characters (U+E000, U+E001)")
    stack[stack.length - 1]!.out.push({ _tag: "Literal", text: literal(segment) })
  }
  let last = 0
  for (const m of text.matchAll(SENTINEL)) {
    if (m.index > last) pushLiteral(text.slice(last, m.index))
    last = m.index + m[0].length
    const n = Number(m[1])
    const tag = tags[n]
    // Only an entity in the template (&#xE000;…) can forge a sentinel: it would show up twice or out of range.
    if (tag === undefined || seen.has(n)) throw new CompileFailure("the template contains reserved private-use characters (U+E000, U+E001)")
    seen.add(n)
    if (tag.kind === "value") {
      if (tag.name === PHOTO_PLACEHOLDER) throw new CompileFailure(`{{photo}} can only be the whole src of an <img>, inside its section: ${PHOTO_USAGE}`)
      stack[stack.length - 1]!.out.push({ _tag: "Value", name: tag.name, context })
    } else if (tag.kind === "open") stack.push({ out: [], open: { tag: n, name: tag.name, inverted: tag.inverted } })
    else {
      const frame = stack.pop()
      if (frame?.open === undefined || frame.open.tag !== tag.open) {
        throw new CompileFailure(`a section must open and close in the same place (${where}): both in text, or both in one attribute value`)
      }
      stack[stack.length - 1]!.out.push({ _tag: "Section", name: frame.open.name, inverted: frame.open.inverted, children: mergeLiterals(frame.out) })
    }
  }
  if (last < text.length) pushLiteral(text.slice(last))
}

const escapeText = (s: string): string => s.replace(/[&<>]/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : "&gt;"))
const escapeAttr = (s: string): string => escapeText(s).replace(/"/g, "&quot;")
const hasSentinel = (s: string): boolean => s.includes("\uE000")

/**
 * The elements open at a point of the document, with what the compiler asks
 * of them answered in constant time (amortized): closing the innermost open
 * element of a name (and everything inside it), and the innermost raw-text
 * element. Scanning the whole stack per tag or text made deeply nested
 * templates quadratic.
 */
class OpenElements {
  private readonly names: string[] = []
  /** per name, its positions in `names`, ascending */
  private readonly positions = new Map<string, number[]>()
  /** positions of raw-text elements, ascending */
  private readonly raws: number[] = []

  push(name: string): void {
    const at = this.names.push(name) - 1
    const list = this.positions.get(name)
    if (list === undefined) this.positions.set(name, [at])
    else list.push(at)
    if (RAW_TEXT_ELEMENTS.has(name)) this.raws.push(at)
  }

  /** closes the innermost open `name` and everything opened after it; nothing when none is open */
  close(name: string): void {
    const at = this.positions.get(name)?.at(-1)
    if (at === undefined) return
    while (this.names.length > at) {
      this.positions.get(this.names.pop()!)!.pop()
    }
    while (this.raws.length > 0 && this.raws[this.raws.length - 1]! >= at) this.raws.pop()
  }

  rawParent(): string | undefined {
    const at = this.raws.at(-1)
    return at === undefined ? undefined : this.names[at]
  }
}

/** An HTML template: normalised markup with context-aware value slots. */
export const compileHtml = (source: string): ReadonlyArray<RenderNode> => {
  const { markup, tags } = flatten(parseMustache(source))
  const seen = new Set<number>()
  const stack: Frame[] = [{ out: [] }]
  const open = new OpenElements()
  const emit = (text: string) => stack[stack.length - 1]!.out.push({ _tag: "Literal", text })
  // every element htmlparser2 opens, named validly or not; it reports a close for each
  let depth = 0
  const parser = new Parser(
    {
      onopentag(name, attribs) {
        if (++depth > MAX_ELEMENT_DEPTH) throw new CompileFailure(`elements nest deeper than ${MAX_ELEMENT_DEPTH} levels`)
        if (hasSentinel(name)) throw new CompileFailure("a placeholder cannot be (part of) an element name")
        // A malformed name would be read differently by the next parser: the tag goes, its content stays.
        if (!ELEMENT_NAME.test(name)) return
        emit(`<${name}`)
        const image = name === "img" ? (libraryImage(attribs) ?? photoImage(attribs, tags, seen, stack)) : undefined
        for (const [attr, value] of Object.entries(attribs)) {
          if (image !== undefined && (attr === "src" || attr === "width" || attr === "height")) {
            if (attr === "src") stack[stack.length - 1]!.out.push(image)
            continue
          }
          if (hasSentinel(attr)) throw new CompileFailure("a placeholder cannot be (part of) an attribute name")
          // A name with quotes or brackets would be read differently by the next parser: dropped.
          if (!ATTRIBUTE_NAME.test(attr)) continue
          if (!hasSentinel(value)) {
            // Defence in depth behind the sanitizer: a literal URL with another scheme is dropped.
            const literal = URL_ATTRIBUTES.has(attr) ? value.replace(URL_EDGE_BLANKS, "") : value
            if (URL_ATTRIBUTES.has(attr) && !literalUrlAllowed(literal)) continue
            emit(literal === "" ? ` ${attr}` : ` ${attr}="${escapeAttr(literal)}"`)
            continue
          }
          if (attr.startsWith("on") || attr === "srcset" || attr === "imagesrcset" || attr === "http-equiv" || attr === "content") {
            throw new CompileFailure(`a placeholder cannot be used in the ${attr} attribute`)
          }
          const local: Frame[] = [{ out: [] }]
          fill(local, value, tags, seen, attr === "style" ? "css" : "attribute", (s) => s, `the ${attr} attribute of <${name}>`)
          if (local.length !== 1) throw new CompileFailure(`a section in the ${attr} attribute of <${name}> must close inside it`)
          stack[stack.length - 1]!.out.push({ _tag: "Attribute", name: attr, url: URL_ATTRIBUTES.has(attr), children: mergeLiterals(local[0]!.out) })
        }
        emit(">")
        if (!VOID_ELEMENTS.has(name)) open.push(name)
      },
      onclosetag(name) {
        depth--
        if (hasSentinel(name)) throw new CompileFailure("a placeholder cannot be (part of) an element name")
        if (VOID_ELEMENTS.has(name) || !ELEMENT_NAME.test(name)) return
        open.close(name)
        emit(`</${name}>`)
      },
      ontext(text) {
        const raw = open.rawParent()
        if (raw !== undefined) {
          if (hasSentinel(text)) throw new CompileFailure(`a placeholder cannot be used inside <${raw}>`)
          emit(UNDECODED_TEXT.has(raw) ? text : escapeText(text))
          return
        }
        fill(stack, text, tags, seen, "html", escapeText, "text")
      },
      oncomment(text) {
        if (hasSentinel(text)) throw new CompileFailure("a placeholder cannot be used inside a comment")
      },
      onprocessinginstruction(_name, text) {
        if (hasSentinel(text)) throw new CompileFailure("a placeholder cannot be used inside a declaration")
      }
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true, recognizeSelfClosing: false }
  )
  parser.end(markup)
  if (stack.length !== 1) throw new CompileFailure("a section opened in text must close in text")
  return mergeLiterals(stack[0]!.out)
}

/** An `<img>` whose literal src names a library image: its node, with the sizes the template gave. */
const libraryImage = (attribs: Record<string, string>): RenderNode | undefined => {
  const src = attribs.src
  if (src === undefined || hasSentinel(src)) return undefined
  const id = imageIdOfSource(src)
  if (id === undefined) return undefined
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) throw new CompileFailure(`"${src}" does not name an image: image ids are 1 to 64 of A-Z a-z 0-9 . _ -`)
  const { width, height } = attribs
  if ((width !== undefined && hasSentinel(width)) || (height !== undefined && hasSentinel(height))) {
    throw new CompileFailure(`the width and height of image "${id}" must be written as numbers, not placeholders`)
  }
  return { _tag: "ImageSource", id, ...(width !== undefined ? { width } : {}), ...(height !== undefined ? { height } : {}) }
}

const WHOLE_SENTINEL = /^[\u0000-\u0020]*\uE000(\d+)\uE001[\u0000-\u0020]*$/

/** An `<img src="{{photo}}">`: its node, when inside a (not inverted) `{{#photo}}` section. */
const photoImage = (attribs: Record<string, string>, tags: ReadonlyArray<Tag>, seen: Set<number>, stack: ReadonlyArray<Frame>): RenderNode | undefined => {
  const m = attribs.src === undefined ? null : WHOLE_SENTINEL.exec(attribs.src)
  if (m === null) return undefined
  const n = Number(m[1])
  const tag = tags[n]
  if (tag?.kind !== "value" || tag.name !== PHOTO_PLACEHOLDER) return undefined
  if (seen.has(n)) throw new CompileFailure("the template contains reserved private-use characters (U+E000, U+E001)")
  seen.add(n)
  if (!stack.some((f) => f.open?.name === PHOTO_PLACEHOLDER && !f.open.inverted)) {
    throw new CompileFailure(`<img src="{{photo}}"> must be inside {{#photo}}…{{/photo}}, so users without a photo show nothing: ${PHOTO_USAGE}`)
  }
  const { width, height } = attribs
  if ((width !== undefined && hasSentinel(width)) || (height !== undefined && hasSentinel(height))) {
    throw new CompileFailure("the width and height of the photo must be written as numbers, not placeholders")
  }
  return { _tag: "PhotoSource", ...(width !== undefined ? { width } : {}), ...(height !== undefined ? { height } : {}) }
}

/** True when a tree shows the sender's photo. */
export const usesPhoto = (nodes: ReadonlyArray<RenderNode>): boolean =>
  nodes.some(
    (node) => node._tag === "PhotoSource" || ((node._tag === "Section" || node._tag === "Attribute" || node._tag === "TextUrl") && usesPhoto(node.children))
  )

/** Every library image id a tree uses, in order. */
export const imagesUsed = (nodes: ReadonlyArray<RenderNode>, into: Set<string> = new Set()): Set<string> => {
  for (const node of nodes) {
    if (node._tag === "ImageSource") into.add(node.id)
    else if (node._tag === "Section" || node._tag === "Attribute" || node._tag === "TextUrl") imagesUsed(node.children, into)
  }
  return into
}

/** Joins neighbouring literals so rendering appends fewer strings. */
const mergeLiterals = (nodes: ReadonlyArray<RenderNode>): RenderNode[] => {
  const out: RenderNode[] = []
  for (const node of nodes) {
    const prev = out[out.length - 1]
    if (node._tag === "Literal" && prev?._tag === "Literal") out[out.length - 1] = { _tag: "Literal", text: prev.text + node.text }
    else if (node._tag !== "Literal" || node.text !== "") out.push(node)
  }
  return out
}

/** Every value and section name used by a tree (to check them against the directory's names). */
export const namesUsed = (nodes: ReadonlyArray<RenderNode>, into: Set<string> = new Set()): Set<string> => {
  for (const node of nodes) {
    if (node._tag === "Value") into.add(node.name)
    else if (node._tag === "Section") {
      into.add(node.name)
      namesUsed(node.children, into)
    } else if (node._tag === "Attribute" || node._tag === "TextUrl") namesUsed(node.children, into)
  }
  return into
}
