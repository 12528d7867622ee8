import { Data, Either } from "effect"
import type { Template } from "../domain/Template.js"
import type { ImageDeliveryMode } from "../domain/Images.js"
import { compileHtml, compileText, CompileFailure, imagesUsed, namesUsed, type RenderNode, usesPhoto } from "./TemplateCompiler.js"
import { type ImageContext, imageSize, imageSource, type RenderedImage } from "./TemplateImages.js"
import { htmlToText } from "./HtmlToText.js"
import { isKnownPlaceholder, type TemplateValues } from "./TemplateValues.js"
import { cleanValue, escapeAttributeValue, escapeHtmlText, plainTextValue, safeCssValue, safeUrl } from "./ValueEscaping.js"

/**
 * Public face of the template engine: compile a Template once per version,
 * render it many times from directory values. Rendering never parses: it walks
 * the compiled trees, and a value is only ever inserted, never read as syntax.
 */

export class TemplateError extends Data.TaggedError("TemplateError")<{
  readonly templateId: string
  readonly part: "html" | "text"
  readonly message: string
}> {}

export interface CompiledTemplate {
  readonly id: string
  readonly version: number
  readonly name: string
  readonly html: ReadonlyArray<RenderNode>
  readonly text: ReadonlyArray<RenderNode>
  /** true when the text body was derived from the HTML (the template had none) */
  readonly textDerived: boolean
  /** placeholder and section names used, sorted */
  readonly placeholders: ReadonlyArray<string>
  /** library image ids the HTML uses (`<img src="image:ID">`), in order */
  readonly images: ReadonlyArray<string>
  /** true when the HTML shows the sender's directory photo (`<img src="{{photo}}">`) */
  readonly photo: boolean
  /** how this template's images travel, when the template says (a rule may override it) */
  readonly delivery?: ImageDeliveryMode | undefined
}

export interface RenderedTemplate {
  readonly html: string
  readonly text: string
  /** the library images the HTML shows, each once (empty without an image context) */
  readonly images: ReadonlyArray<RenderedImage>
}

const compilePart = (template: Template, part: "html" | "text", source: string): Either.Either<ReadonlyArray<RenderNode>, TemplateError> => {
  try {
    const nodes = part === "html" ? compileHtml(source) : compileText(source)
    const unknown = [...namesUsed(nodes)].filter((name) => !isKnownPlaceholder(name))
    if (unknown.length > 0) {
      return Either.left(
        new TemplateError({
          templateId: template.id,
          part,
          message: `unknown placeholder ${unknown.map((n) => `{{${n}}}`).join(", ")}: use a directory attribute name (displayName, title, mobile, …) or custom.<name>`
        })
      )
    }
    return Either.right(nodes)
  } catch (e) {
    if (e instanceof CompileFailure) return Either.left(new TemplateError({ templateId: template.id, part, message: e.message }))
    throw e
  }
}

/**
 * Compiles a (sanitized) template. The text body, when absent, is derived from
 * the HTML with its placeholders kept, so its values get plain-text handling.
 */
export const compileTemplate = (template: Template): Either.Either<CompiledTemplate, TemplateError> =>
  Either.gen(function* () {
    const html = yield* compilePart(template, "html", template.html)
    const textSource = template.text ?? htmlToText(template.html)
    const text = yield* compilePart(template, "text", textSource)
    return {
      id: template.id,
      version: template.version,
      name: template.name,
      html,
      text,
      textDerived: template.text === undefined,
      placeholders: [...namesUsed(text, namesUsed(html))].sort(),
      images: [...imagesUsed(html)],
      photo: usesPhoto(html),
      ...(template.delivery !== undefined ? { delivery: template.delivery } : {})
    }
  })

/** A section is shown when its value has non-blank text. */
const present = (values: TemplateValues, name: string): boolean => cleanValue(values.get(name) ?? "").trim() !== ""

const renderValue = (values: TemplateValues, name: string, context: RenderNode & { _tag: "Value" }): string => {
  const value = values.get(name) ?? ""
  switch (context.context) {
    case "html":
      return escapeHtmlText(value)
    case "attribute":
      return cleanValue(value) // escaped with the whole attribute value
    case "css":
      return safeCssValue(value)
    case "text":
      return plainTextValue(value).replaceAll(VANISHED, "")
  }
}

/**
 * Left in plain text where a section rendered nothing, so the line it stood on
 * can go as a whole ("M: …" gone means no empty line), while blank lines the
 * template has on purpose stay.
 */
const VANISHED = "\uE004"

/** Where `image:` sources resolve while rendering, and the images met so far (each once). */
interface ImageRendering {
  readonly context: ImageContext
  readonly used: Map<string, RenderedImage>
}

/** ` src="…" width="…" height="…"` for a library image; an unknown id (deleted, or from an import) keeps only the sizes given. */
const renderImage = (node: RenderNode & { _tag: "ImageSource" | "PhotoSource" }, images: ImageRendering | undefined): string => {
  const meta = node._tag === "PhotoSource" ? images?.context.photo : images?.context.images.get(node.id)
  if (meta === undefined || images === undefined) {
    return (
      (node.width !== undefined ? ` width="${escapeAttributeValue(node.width)}"` : "") +
      (node.height !== undefined ? ` height="${escapeAttributeValue(node.height)}"` : "")
    )
  }
  let rendered = images.used.get(meta.sha256)
  if (rendered === undefined) images.used.set(meta.sha256, (rendered = imageSource(images.context, meta)))
  const size = imageSize(meta, node)
  return ` src="${escapeAttributeValue(rendered.src)}" width="${escapeAttributeValue(size.width)}" height="${escapeAttributeValue(size.height)}"`
}

const renderInto = (nodes: ReadonlyArray<RenderNode>, values: TemplateValues, text = false, images?: ImageRendering): string => {
  let out = ""
  for (const node of nodes) {
    switch (node._tag) {
      case "Literal":
        out += node.text
        break
      case "Value":
        out += renderValue(values, node.name, node)
        break
      case "Section":
        if (present(values, node.name) !== node.inverted) out += renderInto(node.children, values, text, images)
        else if (text) out += VANISHED
        break
      case "TextUrl": {
        const url = safeUrl(renderInto(node.children, values))
        // A rejected link target leaves nothing, and a line holding only it goes.
        out += url === "" ? VANISHED : node.decorated ? ` <${url}>` : url
        break
      }
      case "Attribute": {
        const raw = renderInto(node.children, values)
        out += ` ${node.name}="${escapeAttributeValue(node.url ? safeUrl(raw) : raw)}"`
        break
      }
      case "ImageSource":
      case "PhotoSource":
        out += renderImage(node, images)
        break
    }
  }
  return out
}

/** RFC 3676 §4.3: the signature separator line is "-- ", its space part of it */
const SIGNATURE_SEPARATOR = "-- "

/** Blank lines left by empty sections collapse; lines lose trailing blanks, except the separator's. */
const tidyText = (text: string): string =>
  text
    .split(/\r?\n/)
    .filter((line) => !(line.includes(VANISHED) && line.replaceAll(VANISHED, "").trim() === ""))
    .map((line) => line.replaceAll(VANISHED, ""))
    .map((line) => (line === SIGNATURE_SEPARATOR ? line : line.trimEnd()))
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .replace(/^\n+|\n+$/g, "")

export const renderHtml = (compiled: CompiledTemplate, values: TemplateValues, images?: ImageContext): string =>
  renderInto(compiled.html, values, false, images === undefined ? undefined : { context: images, used: new Map() })

export const renderText = (compiled: CompiledTemplate, values: TemplateValues): string => tidyText(renderInto(compiled.text, values, true))

/** Renders both bodies; with `images`, library images resolve for its delivery mode and are listed. */
export const renderTemplate = (compiled: CompiledTemplate, values: TemplateValues, images?: ImageContext): RenderedTemplate => {
  const rendering = images === undefined ? undefined : { context: images, used: new Map<string, RenderedImage>() }
  return {
    html: renderInto(compiled.html, values, false, rendering),
    text: renderText(compiled, values),
    images: rendering === undefined ? [] : [...rendering.used.values()]
  }
}
