import { HeaderSummary, MessageEnvelope, type SignatureDecision, type Stamp } from "../../src/domain/Signature.js"
import type { TenantFileJson } from "../../src/domain/TenantFile.js"
import { acmeFile } from "../store/TenantFixtures.js"

/**
 * The acme tenant with signature content: a signature for everyone (with a
 * section that vanishes without a mobile number), a disclaimer at the bottom
 * for external recipients, and a banner limited to one minute of 1970
 * (TestClock starts at epoch 0, so tests move into and out of it).
 */
export const signatureFile = (overrides: Partial<TenantFileJson> = {}): TenantFileJson =>
  acmeFile({
    templates: [
      { id: "sig", name: "Signature", html: "<p><b>{{displayName}}</b>{{#title}}, {{title}}{{/title}}{{#mobile}} M: {{mobile}}{{/mobile}}</p>", version: 1 },
      { id: "disc", name: "Disclaimer", html: "<p>Confidential.</p>", text: "Confidential.", version: 1 },
      { id: "banner", name: "Banner", html: '<p><a href="https://acme.example/offer">Offer</a></p>', version: 1 }
    ],
    rules: [
      { id: "sig", name: "Everyone", templateId: "sig", continue: true },
      {
        id: "banner",
        name: "One minute of 1970",
        templateId: "banner",
        continue: true,
        // 00:01–00:02 UTC: read in Tokyo's zone (UTC+9), so a window ignoring the zone would be 9 hours off
        conditions: { dateWindow: { start: "1970-01-01T09:01", end: "1970-01-01T09:02", timeZone: "Asia/Tokyo" } }
      },
      { id: "disc", name: "External disclaimer", templateId: "disc", position: "bottom", conditions: { recipientScope: "external" } }
    ],
    ...overrides
  })

export const envelope = (mailFrom: string, rcptTo: ReadonlyArray<string> = ["bob@acme.example", "client@customer.example"]) =>
  new MessageEnvelope({ mailFrom, rcptTo })

export const header = (subject = "Hello") => new HeaderSummary({ subject, contentType: "text/plain" })

export const asStamp = (d: SignatureDecision): Stamp => {
  if (d._tag !== "Stamp") throw new Error(`expected a Stamp, got NoSignature(${d.reason})`)
  return d
}

/** [recipients, rule ids] per group */
export const groupRules = (d: SignatureDecision) => asStamp(d).groups.map((g) => [g.recipients, g.elements.map((e) => e.ruleId)])

/** the element of a rule in the first group that has it */
export const element = (d: SignatureDecision, ruleId: string) => {
  const found = asStamp(d)
    .groups.flatMap((g) => g.elements)
    .find((e) => e.ruleId === ruleId)
  if (found === undefined) throw new Error(`no element of rule ${ruleId}`)
  return found
}
