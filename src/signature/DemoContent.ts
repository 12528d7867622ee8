/**
 * Signature content for the demo tenant (domain demo.example): a standard
 * signature with logo, name, title, phones, address and social links; a
 * seasonal banner with a schedule; a legal disclaimer for external
 * recipients; five directory entries. Images are the tenant library's
 * (`image:logo`, …, drawn by src/demo/DemoImages.ts). Plain data in the tenant-file shape
 * (`templates`, `rules`, `directory`, `settings`), so it can be merged into
 * the demo tenant file and decoded like any other.
 */

const LINKS = "https://example.com/imprint-demo"
const BRAND = "#1a5fb4"

const socialIcon = (href: string, icon: string, alt: string): string =>
  `<a href="${href}" target="_blank"><img src="image:${icon}" alt="${alt}" width="20" height="20" style="border: 0; display: inline-block"></a>`

const phoneLink = (attribute: string): string => `<a href="tel:{{${attribute}}}" style="color: #333333; text-decoration: none">{{${attribute}}}</a>`

/** the space between a signature and what follows it (the banner, or the quoted reply's "On … wrote:") */
const SPACED = "margin: 0 0 16px 0"

const STANDARD_HTML = `<table cellpadding="0" cellspacing="0" border="0" role="presentation" style="font-family: Arial, Helvetica, sans-serif; font-size: 13px; line-height: 1.4; color: #333333; ${SPACED}">
<tr>
<td valign="top" style="padding-right: 16px; border-right: 3px solid ${BRAND}"><img src="image:logo" alt="Demo Company" width="88" height="88" style="display: block; border: 0"></td>
<td valign="top" style="padding-left: 16px">
<div style="font-size: 16px; font-weight: bold; color: #1a1a1a">{{displayName}}</div>
{{#title}}<div style="color: #555555">{{title}}</div>{{/title}}{{^title}}{{#department}}<div style="color: #555555">{{department}}</div>{{/department}}{{/title}}
<div style="font-weight: bold; color: ${BRAND}; padding-top: 2px">{{#company}}{{company}}{{/company}}{{^company}}Demo Company{{/company}}</div>
<div style="padding-top: 8px">{{#telephoneNumber}}T: ${phoneLink("telephoneNumber")}{{/telephoneNumber}}{{#mobile}}{{#telephoneNumber}}&nbsp;&nbsp;|&nbsp;&nbsp;{{/telephoneNumber}}M: ${phoneLink("mobile")}{{/mobile}}</div>
<div><a href="mailto:{{mail}}" style="color: ${BRAND}; text-decoration: none">{{mail}}</a></div>
{{#streetAddress}}<div style="color: #777777">{{streetAddress}}, {{postalCode}} {{l}}{{#co}}, {{co}}{{/co}}</div>{{/streetAddress}}
<div style="padding-top: 8px">${socialIcon("https://www.linkedin.com/company/example", "linkedin", "LinkedIn")}&nbsp;${socialIcon("https://x.com/example", "x", "X")}&nbsp;${socialIcon("https://www.youtube.com/@example", "youtube", "YouTube")}{{#custom.linkedin}}&nbsp;<a href="{{custom.linkedin}}" target="_blank" style="color: ${BRAND}; font-size: 11px">My LinkedIn</a>{{/custom.linkedin}}</div>
</td>
</tr>
</table>`

const BANNER_HTML = `<table cellpadding="0" cellspacing="0" border="0" role="presentation" style="${SPACED}">
<tr><td><a href="${LINKS}/winter-offer" target="_blank"><img src="image:banner-winter" alt="Winter offer: 20% off all plans until 31 January" width="480" height="80" style="display: block; border: 0"></a></td></tr>
</table>`

const DISCLAIMER_TEXT =
  "This email and any attachments are confidential and intended only for the addressee. If you received it in error, " +
  "please tell the sender and delete it. Demo Company Ltd, registered in England and Wales, company no. 01234567."

const DISCLAIMER_HTML = `<div style="font-family: Arial, Helvetica, sans-serif; font-size: 10px; line-height: 1.4; color: #888888; border-top: 1px solid #dddddd; padding-top: 8px; margin-top: 16px">${DISCLAIMER_TEXT}</div>`

export const demoTemplates = [
  { id: "standard", name: "Standard signature", html: STANDARD_HTML, version: 1 },
  { id: "winter-banner", name: "Winter offer banner", html: BANNER_HTML, version: 1 },
  { id: "disclaimer", name: "Legal disclaimer", html: DISCLAIMER_HTML, text: DISCLAIMER_TEXT, version: 1 }
]

export const demoRules = [
  {
    id: "everyone",
    name: "Standard signature for everyone, above the quoted reply",
    templateId: "standard",
    position: "above-reply",
    continue: true
  },
  {
    id: "winter-banner",
    name: "Winter banner for external recipients, December and January",
    templateId: "winter-banner",
    position: "above-reply",
    continue: true,
    conditions: {
      recipientScope: "external",
      kinds: ["new", "reply"],
      dateWindow: { start: "2026-12-01", end: "2027-01-31", timeZone: "Europe/London" }
    }
  },
  {
    id: "external-disclaimer",
    name: "Legal disclaimer at the bottom for external recipients",
    templateId: "disclaimer",
    position: "bottom",
    conditions: { recipientScope: "external" }
  }
]

export const demoDirectory = [
  {
    mail: "alice@demo.example",
    displayName: "Alice Martin",
    givenName: "Alice",
    sn: "Martin",
    title: "Head of Customer Success",
    department: "Customer Success",
    company: "Demo Company",
    telephoneNumber: "+44 20 7946 0101",
    mobile: "+44 7700 900101",
    streetAddress: "1 Example Street",
    l: "London",
    postalCode: "EC1A 1AA",
    co: "United Kingdom",
    proxyAddresses: ["SMTP:alice@demo.example", "smtp:a.martin@demo.example", "smtp:support@demo.example"],
    memberOf: ["Customer Success", "All Staff"],
    custom: { linkedin: "https://www.linkedin.com/in/alice-martin-example" }
  },
  {
    mail: "bob@demo.example",
    displayName: "Bob Okafor",
    givenName: "Bob",
    sn: "Okafor",
    title: "Account Executive",
    department: "Sales",
    company: "Demo Company",
    telephoneNumber: "+44 20 7946 0102",
    streetAddress: "1 Example Street",
    l: "London",
    postalCode: "EC1A 1AA",
    co: "United Kingdom",
    memberOf: ["Sales", "All Staff"]
  },
  {
    mail: "carol@demo.example",
    displayName: "Carol Nguyen",
    givenName: "Carol",
    sn: "Nguyen",
    title: "Software Engineer",
    department: "Engineering",
    company: "Demo Company",
    mobile: "+49 151 23456789",
    streetAddress: "Beispielstraße 5",
    l: "Berlin",
    postalCode: "10115",
    co: "Germany",
    memberOf: ["Engineering", "All Staff"],
    custom: { costCentre: "ENG-42" }
  },
  {
    mail: "dave@demo.example",
    displayName: "Dave Kowalski",
    givenName: "Dave",
    sn: "Kowalski",
    title: "Finance Manager",
    department: "Finance",
    company: "Demo Company",
    telephoneNumber: "+44 20 7946 0104",
    mobile: "+44 7700 900104",
    memberOf: ["Finance", "All Staff"],
    custom: { costCentre: "FIN-07" }
  },
  {
    mail: "erin@demo.example",
    displayName: "Erin O'Brien",
    givenName: "Erin",
    sn: "O'Brien",
    company: "Demo Company",
    streetAddress: "1 Example Street",
    l: "London",
    postalCode: "EC1A 1AA",
    co: "United Kingdom",
    memberOf: ["All Staff"]
  }
]

export const demoSignatureSettings = { skipIfPresent: [] as string[] }

/** The signature part of the demo tenant file. */
export const demoSignatureContent = () => ({
  templates: demoTemplates,
  rules: demoRules,
  directory: demoDirectory,
  settings: demoSignatureSettings
})
