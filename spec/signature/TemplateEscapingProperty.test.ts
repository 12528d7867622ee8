import { Either } from "effect"
import fc from "fast-check"
import { Parser } from "htmlparser2"
import { describe, expect, it } from "vitest"
import { Template } from "../../src/domain/Template.js"
import { demoTemplates } from "../../src/signature/DemoContent.js"
import { compileTemplate, renderTemplate, type CompiledTemplate } from "../../src/signature/TemplateEngine.js"
import { sanitizeTemplate } from "../../src/signature/TemplateSanitizer.js"
import { valuesFromRecord } from "../../src/signature/TemplateValues.js"
import { cleanValue } from "../../src/signature/ValueEscaping.js"

/**
 * Property: no directory value changes the markup a template renders to. The
 * output is parsed with a real HTML parser and its element/attribute structure
 * compared with the same template rendered from harmless values (same
 * sections shown), and every URL attribute must still have an allowed scheme.
 */

const ALL_CONTEXTS = `<table style="color: {{custom.colour}}"><tr><td title="{{title}}">{{displayName}}</td></tr>
{{#mobile}}<tr><td>M: <a href="tel:{{mobile}}">{{mobile}}</a></td></tr>{{/mobile}}{{^mobile}}<tr><td>-</td></tr>{{/mobile}}
<tr><td><a href="{{custom.web}}" title="{{#company}}{{company}} {{/company}}site">{{custom.web}}</a><img src="{{custom.photo}}" alt="{{displayName}}"></td></tr>
<tr><td><a href="{{custom.a}}{{custom.b}}">ab</a> <a href="mailto:{{mail}}?subject={{custom.a}}">{{mail}}</a> {{{custom.b}}}</td></tr></table>`

const compile = (html: string): CompiledTemplate => {
  const result = compileTemplate(new Template({ id: "p", name: "p", html: sanitizeTemplate(html).html }))
  if (Either.isLeft(result)) throw new Error(result.left.message)
  return result.right
}
const templates = [compile(ALL_CONTEXTS), ...demoTemplates.map((t) => compile(t.html))]

const NAMES = [
  "displayName",
  "title",
  "company",
  "mobile",
  "telephoneNumber",
  "mail",
  "department",
  "streetAddress",
  "postalCode",
  "l",
  "co",
  "custom.colour",
  "custom.web",
  "custom.photo",
  "custom.a",
  "custom.b",
  "custom.linkedin"
]

const HOSTILE_PIECES = [
  "<",
  ">",
  '"',
  "'",
  "&",
  "=",
  "/",
  ":",
  ";",
  "(",
  ")",
  "{{",
  "}}",
  "{{7*7}}",
  "{{#mail}}",
  "{{/mail}}",
  "{{{x}}}",
  "`",
  " ",
  "\t",
  "\r\n",
  "\n",
  "\u202e",
  "\u2066",
  "\u0000",
  "javascript:",
  "JaVaScRiPt:",
  "data:",
  "vbscript:",
  "https:",
  "tel:",
  "mailto:",
  "//",
  "<script>",
  "</td>",
  "</table>",
  '"><img src=x onerror=alert(1)>',
  "<!--",
  "-->",
  "<![CDATA[",
  "&quot;",
  "&#x22;",
  "&lt;",
  "url(",
  "expression(",
  "\\",
  "x",
  "é",
  "😀"
]
const hostileValue = fc.oneof(
  fc.array(fc.constantFrom(...HOSTILE_PIECES), { maxLength: 12 }).map((parts) => parts.join("")),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.constant("")
)
const hostileValues = fc.record(Object.fromEntries(NAMES.map((n) => [n, hostileValue])) as Record<string, fc.Arbitrary<string>>)

/** Element and attribute structure (names only), as an HTML parser sees it. */
const structure = (html: string): string[] => {
  const out: string[] = []
  const parser = new Parser(
    {
      onopentag: (name, attribs) => void out.push(`<${name} ${Object.keys(attribs).sort().join(" ")}>`),
      onclosetag: (name) => void out.push(`</${name}>`),
      oncomment: () => void out.push("<!--->"),
      onprocessinginstruction: (name) => void out.push(`<?${name}>`)
    },
    { decodeEntities: true }
  )
  parser.end(html)
  return out
}

/** The URL attribute values of the output, decoded. */
const urls = (html: string): string[] => {
  const out: string[] = []
  new Parser(
    {
      onattribute: (name, value) => void (name === "href" || name === "src" ? out.push(value) : undefined)
    },
    { decodeEntities: true }
  ).end(html)
  return out
}

const harmless = (values: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(values).map(([k, v]) => [k, cleanValue(v).trim() === "" ? "" : "https://x.example"]))

describe("escaping property", () => {
  it("no directory value produces markup, leaves its attribute or smuggles a URL scheme", () => {
    fc.assert(
      fc.property(hostileValues, fc.nat(templates.length - 1), (values, which) => {
        const template = templates[which]!
        const rendered = renderTemplate(template, valuesFromRecord(values))
        const reference = renderTemplate(template, valuesFromRecord(harmless(values)))
        expect(structure(rendered.html)).toEqual(structure(reference.html))
        for (const url of urls(rendered.html)) expect(url === "" || /^(https|mailto|tel|cid):/i.test(url)).toBe(true)
        // Values bring no line breaks (a rejected URL may take its line away) or bidi controls, in HTML or text.
        expect(rendered.text.split("\n").length).toBeLessThanOrEqual(reference.text.split("\n").length)
        expect(rendered.text).not.toMatch(/[\uE000-\uE0FF]/)
        expect(rendered.html + rendered.text).not.toMatch(/[\r\u202a-\u202e\u2066-\u2069]/)
      }),
      { numRuns: 1_000 }
    )
  })

  it("the property can fail: a template that splices a value into markup unescaped is caught", () => {
    // A control for the checker itself: naive rendering (no escaping) must be detected.
    const naive = (values: Record<string, string>) => `<p title="${values.title}">${values.displayName}</p>`
    const breaking = { title: '"><img src=x onerror=alert(1)>', displayName: "<b>x</b>" }
    expect(structure(naive(breaking))).not.toEqual(structure(naive(harmless(breaking))))
  })
})

describe("escaping property over arbitrary templates", () => {
  const PIECES = [
    "<p>",
    "</p>",
    "<div>",
    "</div>",
    '<a href="',
    "<a href=",
    "<a title='",
    '">',
    "'>",
    ">",
    "</a>",
    '<img src="',
    '" alt="',
    "<td>",
    "<tr>",
    "<table>",
    "</table>",
    "<br>",
    "<style>",
    "</style>",
    "<!--",
    "-->",
    "<",
    "</",
    "=",
    '"',
    "'",
    " ",
    "text",
    "&amp;",
    "&#34;",
    "https://x.example/",
    "tel:",
    "javascript:",
    "{{displayName}}",
    "{{{title}}}",
    "{{& mobile}}",
    "{{#mobile}}",
    "{{/mobile}}",
    "{{^mobile}}",
    "{{#title}}",
    "{{/title}}",
    "{{custom.web}}",
    "{{.}}",
    "{{! note }}",
    ' style="color: ',
    "{{custom.colour}}",
    "<textarea>",
    "<svg>",
    "<![CDATA[",
    "]]>",
    "<o:p>",
    "\n"
  ]
  const template = fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 24 }).map((parts) => parts.join(""))

  it("a template compiles or is refused, and a compiled one keeps its structure whatever the values", () => {
    let compiled = 0
    fc.assert(
      fc.property(template, hostileValues, (html, values) => {
        const result = compileTemplate(new Template({ id: "p", name: "p", html }))
        if (Either.isLeft(result)) return
        compiled++
        const rendered = renderTemplate(result.right, valuesFromRecord(values))
        const reference = renderTemplate(result.right, valuesFromRecord(harmless(values)))
        expect(structure(rendered.html)).toEqual(structure(reference.html))
        for (const url of urls(rendered.html)) expect(url === "" || /^(https|mailto|tel|cid):/i.test(url)).toBe(true)
        expect(rendered.text).not.toMatch(/[\uE000-\uE0FF]/)
      }),
      { numRuns: 2_000 }
    )
    // The generator must reach the interesting case often enough to mean something.
    expect(compiled).toBeGreaterThan(200)
  })
})
