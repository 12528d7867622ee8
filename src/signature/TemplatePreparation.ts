import { Either } from "effect"
import { Template } from "../domain/Template.js"
import { compileTemplate, type CompiledTemplate, TemplateError } from "./TemplateEngine.js"
import { sanitizeTemplate, type Removal } from "./TemplateSanitizer.js"

/**
 * What saving a template does (admin API, tenant import): sanitize the HTML,
 * then compile it, so a template that is stored is one that renders. The
 * caller stores `template`, keeps `compiled`, and shows `removed`.
 */
export interface PreparedTemplate {
  /** the template with its HTML sanitized */
  readonly template: Template
  readonly compiled: CompiledTemplate
  /** what the sanitizer took out, in document order */
  readonly removed: ReadonlyArray<Removal>
}

/**
 * The most a template's HTML, or its text, may hold when saved (UTF-8 bytes).
 * A signature is a few kilobytes; Outlook's own practical limit is far below.
 * Templates stored before the limit still load (compileTemplate has none).
 */
export const MAX_TEMPLATE_BYTES = 256 * 1024

const oversized = (template: Template): TemplateError | undefined => {
  for (const part of ["html", "text"] as const) {
    const source = template[part]
    // a UTF-8 byte is at least one UTF-16 unit and at most three
    if (source === undefined || source.length * 3 <= MAX_TEMPLATE_BYTES) continue
    const bytes = Buffer.byteLength(source, "utf8")
    if (bytes > MAX_TEMPLATE_BYTES) {
      return new TemplateError({
        templateId: template.id,
        part,
        message: `it is ${bytes} bytes; a template's ${part} takes at most ${MAX_TEMPLATE_BYTES} bytes (${MAX_TEMPLATE_BYTES / 1024} KB)`
      })
    }
  }
  return undefined
}

export const prepareTemplate = (template: Template): Either.Either<PreparedTemplate, TemplateError> => {
  const tooLarge = oversized(template)
  if (tooLarge !== undefined) return Either.left(tooLarge)
  const { html, removed } = sanitizeTemplate(template.html)
  const clean = html === template.html ? template : new Template({ ...template, html })
  return Either.map(compileTemplate(clean), (compiled) => ({ template: clean, compiled, removed }))
}
