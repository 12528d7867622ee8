import { Option } from "effect"
import type { DirectoryUser } from "../domain/Directory.js"
import type { MessageKind, Rule, SignatureSettings } from "../domain/Rule.js"
import { IMAGE_CONTENT_TYPES, type ImageDeliverySettings, type ImageMeta } from "../domain/Images.js"
import { ElementImage, NoSignature, RecipientGroup, SignatureElement, Stamp, type SignatureDecision } from "../domain/Signature.js"
import { messageKind, type ThreadingFacts } from "./MessageKindDetection.js"
import { RenderCache } from "./RenderCache.js"
import { groupRecipients, normalizeAddress, type MessageFacts } from "./RuleEngine.js"
import { renderTemplate, type CompiledTemplate } from "./TemplateEngine.js"
import { effectiveDelivery, photoImageMeta } from "./TemplateImages.js"
import { userValues, valuesIdentity, type TemplateValues } from "./TemplateValues.js"

/**
 * Builds the SignatureDecision for one message: the rules per recipient group,
 * each applied rule's template rendered for the sender (through the render
 * cache), wrapped in an element that carries a marker so a stamped signature
 * is recognised when the message comes by again (a reply quoting it).
 */

export const NoSignatureReasons = {
  /** MAIL FROM:<> (bounces, receipts) */
  nullSender: "null-sender",
  noRecipients: "no-recipients",
  senderNotInDirectory: "sender-not-in-directory",
  noRuleMatched: "no-rule-matched"
} as const

/** The attribute that marks a stamped element; its value is the rule id. */
export const MARKER_ATTRIBUTE = "data-imprint-signature"

export const markerFor = (ruleId: string): string => `${MARKER_ATTRIBUTE}="${ruleId}"`

export interface ResolveInput {
  readonly rules: ReadonlyArray<Rule>
  /** compiled templates by template id */
  readonly templates: ReadonlyMap<string, CompiledTemplate>
  readonly user: Option.Option<DirectoryUser>
  readonly envelope: { readonly mailFrom: string; readonly rcptTo: ReadonlyArray<string> }
  readonly header: ThreadingFacts
  /** the message kind when already known (the rules tester); absent: read from `header` */
  readonly kind?: MessageKind
  readonly tenantDomains: ReadonlyArray<string>
  readonly settings: SignatureSettings
  /** epoch milliseconds */
  readonly now: number
  readonly cache?: RenderCache<SignatureElement>
  /** the tenant's image library; absent: `image:` sources render without a src */
  readonly images?: TenantImages
}

/** What rendering library images needs from the tenant's state and the server's settings. */
export interface TenantImages {
  readonly tenantId: string
  readonly library: ReadonlyMap<string, ImageMeta>
  /** the stored bytes of an image (by SHA-256), shared, never copied per message */
  readonly bytes: (sha256: string) => Uint8Array | undefined
  /** the stored bytes of a directory photo (by SHA-256), read from the store when a signature shows it */
  readonly photoBytes?: (sha256: string) => Uint8Array | undefined
  readonly settings: ImageDeliverySettings
}

/** One rule's element for a sender; cached per rule, position, delivery, template version and directory values. */
export const renderElement = (
  rule: Rule,
  template: CompiledTemplate,
  values: TemplateValues,
  cache?: RenderCache<SignatureElement>,
  images?: TenantImages,
  /** the sender's directory photo (`{{#photo}}`); its SHA-256 is among `values`, so the cache key follows it */
  photo?: DirectoryUser["photo"]
): SignatureElement => {
  const delivery = images === undefined ? "embedded" : effectiveDelivery(rule.delivery ?? template.delivery ?? images.settings.defaultDelivery, images.settings)
  const photoMeta = template.photo ? photoImageMeta(photo) : undefined
  const make = () => {
    const rendered = renderTemplate(
      template,
      values,
      images === undefined || (template.images.length === 0 && !template.photo)
        ? undefined
        : {
            tenantId: images.tenantId,
            images: images.library,
            delivery,
            publicBaseUrl: images.settings.publicBaseUrl,
            photo: photoMeta
          }
    )
    const marker = markerFor(rule.id)
    const shown: Array<ElementImage> = []
    for (const image of rendered.images) {
      const data = image.meta === photoMeta ? images?.photoBytes?.(image.meta.sha256) : images?.bytes(image.meta.sha256)
      // bytes missing (a blob removed under a stale state): the img stays, without a part
      if (data === undefined) continue
      shown.push(new ElementImage({ contentId: image.contentId, contentType: IMAGE_CONTENT_TYPES[image.meta.type], src: image.src, data }, true))
    }
    return new SignatureElement(
      {
        ruleId: rule.id,
        templateId: template.id,
        templateVersion: template.version,
        html: `<div ${marker}>${rendered.html}</div>`,
        text: rendered.text,
        marker,
        position: rule.position,
        delivery,
        images: shown
      },
      true // built from checked parts; skips re-validating on the hot path
    )
  }
  if (cache === undefined) return make()
  const key = `${rule.id}\u0000${rule.position}\u0000${delivery}\u0000${template.id}\u0000${template.version}\u0000${valuesIdentity(values)}`
  return cache.getOrCompute(key, make)
}

/** Decides and renders the signature elements of one message, per recipient group. */
export const resolveSignature = (input: ResolveInput): SignatureDecision => {
  if (normalizeAddress(input.envelope.mailFrom) === "") return new NoSignature({ reason: NoSignatureReasons.nullSender }, true)
  if (input.envelope.rcptTo.length === 0) return new NoSignature({ reason: NoSignatureReasons.noRecipients }, true)
  if (Option.isNone(input.user)) return new NoSignature({ reason: NoSignatureReasons.senderNotInDirectory }, true)
  const facts: MessageFacts = {
    sender: input.envelope.mailFrom,
    user: input.user,
    kind: input.kind ?? messageKind(input.header),
    subject: input.header.subject,
    tenantDomains: input.tenantDomains,
    now: input.now
  }
  const hasTemplate = (id: string) => input.templates.has(id)
  const groups = groupRecipients(input.rules, facts, input.envelope.rcptTo, hasTemplate)
  if (groups.every((g) => g.rules.length === 0)) return new NoSignature({ reason: NoSignatureReasons.noRuleMatched }, true)
  const sender = input.user.value
  const values = userValues(sender)
  return new Stamp(
    {
      groups: groups.map(
        (g) =>
          new RecipientGroup(
            {
              recipients: g.recipients,
              elements: g.rules.map((rule) => renderElement(rule, input.templates.get(rule.templateId)!, values, input.cache, input.images, sender.photo))
            },
            true
          )
      ),
      skipIfPresent: input.settings.skipIfPresent,
      ...(input.settings.placeholder !== undefined ? { placeholder: input.settings.placeholder } : {})
    },
    true
  )
}
