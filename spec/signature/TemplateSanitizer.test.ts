import { Either } from "effect"
import fc from "fast-check"
import { Parser } from "htmlparser2"
import { describe, expect, it } from "vitest"
import { Template } from "../../src/domain/Template.js"
import { demoTemplates } from "../../src/signature/DemoContent.js"
import { compileTemplate } from "../../src/signature/TemplateEngine.js"
import { sanitizeTemplate, type Removal } from "../../src/signature/TemplateSanitizer.js"

interface HostileCase {
  readonly name: string
  readonly html: string
  /** removals that must be reported */
  readonly removed: ReadonlyArray<Partial<Removal>>
  /** text that must not survive */
  readonly gone: ReadonlyArray<string>
  /** text that must survive */
  readonly kept?: ReadonlyArray<string>
}

const CASES: ReadonlyArray<HostileCase> = [
  {
    name: "script element with its content",
    html: "<p>{{displayName}}</p><script>alert(1)</script>",
    removed: [{ kind: "element", name: "script" }],
    gone: ["<script", "alert(1)"],
    kept: ["<p>{{displayName}}</p>"]
  },
  {
    name: "event handlers",
    html: '<img src="https://example.com/a.png" onerror="alert(1)" onload="x()"><p onclick="y()">hi</p>',
    removed: [
      { kind: "attribute", name: "onerror" },
      { kind: "attribute", name: "onload" },
      { kind: "attribute", name: "onclick" }
    ],
    gone: ["onerror", "onload", "onclick", "alert"],
    kept: ['src="https://example.com/a.png"', "<p>hi</p>"]
  },
  {
    name: "javascript: link",
    html: '<a href="javascript:alert(1)">x</a><a href=" JAVAscript:alert(2)">y</a>',
    removed: [
      { kind: "url", name: "href" },
      { kind: "url", name: "href" }
    ],
    gone: ["javascript", "JAVAscript"]
  },
  {
    name: "data: and http: images",
    html: '<img src="data:image/png;base64,AAAA"><img src="http://example.com/a.png">',
    removed: [
      { kind: "url", name: "src" },
      { kind: "url", name: "src" }
    ],
    gone: ["data:", "http:"]
  },
  {
    name: "relative and protocol-relative URLs",
    html: '<a href="/about">a</a><a href="//evil.example/">b</a>',
    removed: [
      { kind: "url", name: "href" },
      { kind: "url", name: "href" }
    ],
    gone: ["/about", "evil.example"]
  },
  {
    name: "forms and inputs",
    html: '<form action="https://evil.example"><input name="pw"><button>Go</button></form>',
    removed: [
      { kind: "element", name: "form" },
      { kind: "element", name: "input" },
      { kind: "element", name: "button" }
    ],
    gone: ["<form", "<input", "<button", "evil.example"]
  },
  {
    name: "iframe, object, embed",
    html: '<iframe src="https://evil.example"></iframe><object data="https://evil.example/x.swf"></object><embed src="https://evil.example/y">',
    removed: [
      { kind: "element", name: "iframe" },
      { kind: "element", name: "object" },
      { kind: "element", name: "embed" }
    ],
    gone: ["iframe", "object", "embed", "evil"]
  },
  {
    name: "style and link elements",
    html: '<style>body{background:url(https://t.example/pixel)}</style><link rel="stylesheet" href="https://evil.example/s.css"><p>x</p>',
    removed: [
      { kind: "element", name: "style" },
      { kind: "element", name: "link" }
    ],
    gone: ["<style", "pixel", "<link"],
    kept: ["<p>x</p>"]
  },
  {
    name: "comments (conditional comments too)",
    html: "<p>a</p><!--[if mso]><script>x</script><![endif]--><!-- secret -->",
    removed: [
      { kind: "element", name: "#comment" },
      { kind: "element", name: "#comment" }
    ],
    gone: ["<!--", "secret", "mso"]
  },
  {
    name: "dangerous inline CSS",
    html: '<p style="color: red; background-image: url(javascript:alert(1)); width: expression(alert(1)); position: fixed">x</p>',
    removed: [
      { kind: "attribute", name: "style" },
      { kind: "attribute", name: "style" },
      { kind: "attribute", name: "style" }
    ],
    gone: ["url(", "expression", "position"],
    kept: ['style="color: red"']
  },
  {
    name: "svg and math with script",
    html: '<svg><script>alert(1)</script><a xlink:href="javascript:x">s</a></svg><math><mi>x</mi></math>',
    removed: [
      { kind: "element", name: "svg" },
      { kind: "element", name: "math" }
    ],
    gone: ["<svg", "alert", "javascript", "<math"]
  },
  {
    name: "meta refresh and base",
    html: '<meta http-equiv="refresh" content="0;url=https://evil.example"><base href="https://evil.example/"><p>x</p>',
    removed: [
      { kind: "element", name: "meta" },
      { kind: "element", name: "base" }
    ],
    gone: ["refresh", "evil"]
  },
  {
    name: "unknown attributes (srcset, id, data-*)",
    html: '<img src="https://example.com/a.png" srcset="https://evil.example/b.png 2x" id="x" data-track="1">',
    removed: [
      { kind: "attribute", name: "srcset" },
      { kind: "attribute", name: "id" },
      { kind: "attribute", name: "data-track" }
    ],
    gone: ["srcset", "data-track", 'id="x"']
  }
]

describe("sanitizeTemplate", () => {
  for (const c of CASES) {
    it(`removes ${c.name} and says so`, () => {
      const { html, removed } = sanitizeTemplate(c.html)
      for (const gone of c.gone) expect(html).not.toContain(gone)
      for (const kept of c.kept ?? []) expect(html).toContain(kept)
      for (const want of c.removed) expect(removed).toContainEqual(expect.objectContaining(want))
      expect(removed.length).toBeGreaterThanOrEqual(c.removed.length)
    })
  }

  it("keeps placeholders in text and in URL, alt and style attributes", () => {
    const template = `<table cellpadding="0" cellspacing="0" border="0"><tr><td width="80" valign="top" colspan="2" style="color: {{custom.colour}}">{{displayName}}</td></tr>
{{#mobile}}<tr><td>M: <a href="tel:{{mobile}}">{{mobile}}</a></td></tr>{{/mobile}}
<tr><td><a href="{{website}}">web</a> <a href="mailto:{{mail}}" target="_blank">{{mail}}</a> <img src="{{photoUrl}}" alt="{{displayName}}" width="64"> <img src="cid:logo"></td></tr></table>`
    const { html, removed } = sanitizeTemplate(template)
    expect(removed).toEqual([])
    for (const kept of [
      'href="tel:{{mobile}}"',
      'href="{{website}}"',
      'href="mailto:{{mail}}"',
      'src="{{photoUrl}}"',
      'alt="{{displayName}}"',
      'style="color: {{custom.colour}}"',
      "{{#mobile}}",
      "{{/mobile}}",
      'src="cid:logo"',
      'cellpadding="0"',
      'colspan="2"'
    ]) {
      expect(html).toContain(kept)
    }
    expect(html).toContain('rel="noopener noreferrer"')
  })

  it("keeps the signature allowlist intact", () => {
    const ok =
      '<div><span><b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><small>s</small><font color="#333333" face="Arial" size="2">f</font></span><h1>h</h1><h6>h</h6><ul><li>l</li></ul><ol><li>o</li></ol><hr><br></div>'
    const { html, removed } = sanitizeTemplate(ok)
    expect(removed).toEqual([])
    expect(html).toContain('<font color="#333333" face="Arial" size="2">')
    expect(html).toContain("<h6>h</h6>")
  })

  it("drops a style holding placeholders whole when a declaration is not allowed", () => {
    const { html, removed } = sanitizeTemplate('<p style="color: {{custom.c}}; background: url({{custom.u}})">x</p>')
    expect(html).toBe("<p>x</p>")
    expect(removed).toContainEqual(expect.objectContaining({ kind: "attribute", name: "style" }))
  })

  it("leaves the demo templates untouched, and they compile", () => {
    for (const t of demoTemplates) {
      const { html, removed } = sanitizeTemplate(t.html)
      expect(removed).toEqual([])
      expect(Either.isRight(compileTemplate(new Template({ ...t, html })))).toBe(true)
    }
  })
})

describe("sanitizer property", () => {
  const PIECES = [
    "<p>",
    "</p>",
    "<script>",
    "</script>",
    "alert(1)",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">',
    '<a href="https://ok.example/">',
    "</a>",
    '<a href="{{custom.web}}">',
    '<img src="{{custom.photo}}">',
    "<iframe src=https://e.example>",
    "<svg onload=alert(1)>",
    "<style>",
    "</style>",
    "<!--",
    "-->",
    '<div style="background:url(javascript:x); color: red">',
    "<form>",
    "<input>",
    "<table>",
    "<tr>",
    "<td onclick=x>",
    "{{displayName}}",
    "{{#mobile}}",
    "{{/mobile}}",
    "<",
    ">",
    '"',
    "'",
    "=",
    " ",
    "text",
    "&lt;",
    "<math>",
    "<object data=x>",
    "<embed>",
    "<base href=//e.example>",
    "<meta http-equiv=refresh>",
    '<a href=" jav&#x09;ascript:x">',
    "<A HREF=JAVASCRIPT:x>",
    '<IMG SRC="data:image/svg+xml,<svg onload=alert(1)>">',
    '<p style="{{custom.colour}}">'
  ]
  const html = fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 20 }).map((p) => p.join(""))
  const allowedUrl = (tag: string, url: string) =>
    url.includes("{{") || (tag === "img" ? /^(https|cid):/i : /^(https|mailto|tel):/i).test(url.replace(/[\u0000-\u0020]+/g, ""))

  it("leaves only allowed elements, no handlers, only allowed URLs", () => {
    fc.assert(
      fc.property(html, (input) => {
        const { html: clean } = sanitizeTemplate(input)
        new Parser(
          {
            onopentag: (name, attribs) => {
              expect(["script", "style", "iframe", "svg", "math", "object", "embed", "form", "input", "base", "meta"]).not.toContain(name)
              for (const [attr, value] of Object.entries(attribs)) {
                expect(attr.startsWith("on")).toBe(false)
                if (attr === "href" || attr === "src") expect(allowedUrl(name, value)).toBe(true)
                if (attr === "style") expect(value).not.toMatch(/url\(|expression|javascript/i)
              }
            },
            oncomment: () => expect.fail("a comment survived")
          },
          { decodeEntities: true }
        ).end(clean)
        // What the sanitizer lets through compiles or is refused, never throws.
        compileTemplate(new Template({ id: "s", name: "s", html: clean }))
      }),
      { numRuns: 2_000 }
    )
  })
})
