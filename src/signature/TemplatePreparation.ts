import { Either } from "effect"
import { Template } from "../domain/Template.js"
import { compileTemplate, type CompiledTemplate, type TemplateError } from "./TemplateEngine.js"
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

export const prepareTemplate = (template: Template): Either.Either<PreparedTemplate, TemplateError> => {
  const { html, removed } = sanitizeTemplate(template.html)
  const clean = html === template.html ? template : new Template({ ...template, html })
  return Either.map(compileTemplate(clean), (compiled) => ({ template: clean, compiled, removed }))
}
