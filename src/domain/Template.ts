import { Schema } from "effect"
import { ImageDeliveryMode } from "./Images.js"

/** A signature template (a signature, a banner, a disclaimer: all are templates). */
export class Template extends Schema.Class<Template>("Template")({
  id: Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9._-]{1,64}$/)),
  name: Schema.String,
  /** Mustache-style HTML, sanitized when saved */
  html: Schema.String,
  /** Mustache-style plain text; derived from `html` when absent */
  text: Schema.optional(Schema.String),
  /** how library images (`<img src="image:ID">`) travel: "hosted" or "embedded"; absent: the rule's, else `images.defaultDelivery` */
  delivery: Schema.optional(ImageDeliveryMode),
  /** bumped on every save; part of the render cache key */
  version: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 1 })
}) {}

/** Something the sanitizer took out of a template's HTML when it was saved (signature/TemplateSanitizer). */
export interface Removal {
  readonly kind: "element" | "attribute" | "url"
  readonly name: string
  readonly detail?: string
}

/** What the sanitizer took out of one template (only templates that lost something are listed). */
export interface TemplateRemovals {
  readonly templateId: string
  readonly removed: ReadonlyArray<Removal>
}
