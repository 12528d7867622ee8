import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { DirectoryAttributes, DirectoryUser } from "../../src/domain/Directory.js"
import { Template } from "../../src/domain/Template.js"
import { compileTemplate, renderTemplate, type CompiledTemplate } from "../../src/signature/TemplateEngine.js"
import { userValues, valuesFromRecord } from "../../src/signature/TemplateValues.js"
import { MAX_VALUE_LENGTH } from "../../src/signature/ValueEscaping.js"

const compile = (html: string, text?: string): CompiledTemplate => {
  const result = compileTemplate(new Template({ id: "t", name: "t", html, ...(text !== undefined ? { text } : {}) }))
  if (Either.isLeft(result)) throw new Error(result.left.message)
  return result.right
}
const compileError = (html: string): string => {
  const result = compileTemplate(new Template({ id: "t", name: "t", html }))
  if (Either.isRight(result)) throw new Error(`compiled: ${html}`)
  return result.left.message
}
const render = (html: string, values: Record<string, string>, text?: string) => renderTemplate(compile(html, text), valuesFromRecord(values))

describe("placeholders", () => {
  it("renders every directory attribute and custom attributes", () => {
    const user = new DirectoryUser({
      mail: "ann@demo.example",
      ...Object.fromEntries(DirectoryAttributes.filter((a) => a !== "mail").map((a) => [a, `v-${a}`])),
      custom: { costCentre: "CC-1", "team.name": "Core" }
    })
    const html = DirectoryAttributes.map((a) => `<span>${a}={{${a}}}</span>`).join("") + "<i>{{custom.costCentre}}</i><i>{{custom.team.name}}</i>"
    const out = renderTemplate(compile(html), userValues(user))
    for (const a of DirectoryAttributes) expect(out.html).toContain(`<span>${a}=${a === "mail" ? "ann@demo.example" : `v-${a}`}</span>`)
    expect(out.html).toContain("<i>CC-1</i><i>Core</i>")
    expect(out.text).toContain("displayName=v-displayName")
  })

  it("renders an absent value as nothing", () => {
    expect(render("<p>[{{title}}]</p>", {}).html).toBe("<p>[]</p>")
  })

  it("rejects unknown placeholders, partials and {{.}} outside sections at compile time", () => {
    expect(compileError("<p>{{displayname}}</p>")).toContain("unknown placeholder {{displayname}}")
    expect(compileError("<p>{{> footer}}</p>")).toContain("partials")
    expect(compileError("<p>{{.}}</p>")).toContain("section")
    expect(compileError("<p>{{#mobile}}open")).toMatch(/unclosed|Unclosed/)
  })
})

describe("sections", () => {
  const template = "<p>{{#mobile}}M: {{mobile}}{{/mobile}}{{^mobile}}no mobile{{/mobile}}</p>"

  it("shows a section with a value and hides it without one, and the inverse the other way round", () => {
    expect(render(template, { mobile: "+1 555" }).html).toBe("<p>M: +1 555</p>")
    expect(render(template, {}).html).toBe("<p>no mobile</p>")
    expect(render(template, { mobile: "  " }).html).toBe("<p>no mobile</p>")
  })

  it("{{.}} inside a section is the section's value", () => {
    expect(render("<p>{{#title}}[{{.}}]{{/title}}</p>", { title: "CEO" }).html).toBe("<p>[CEO]</p>")
  })

  it("sections may span elements (table rows) and may sit inside one attribute", () => {
    const html = '<table><tr><td>a</td></tr>{{#mobile}}<tr><td>{{mobile}}</td></tr>{{/mobile}}</table><a title="{{#title}}T: {{title}}{{/title}}">x</a>'
    expect(render(html, { mobile: "1", title: "Boss" }).html).toBe('<table><tr><td>a</td></tr><tr><td>1</td></tr></table><a title="T: Boss">x</a>')
    expect(render(html, {}).html).toBe('<table><tr><td>a</td></tr></table><a title="">x</a>')
  })

  it("rejects a section that opens in one context and closes in another", () => {
    // With title empty, the quote inside the section would vanish and {{mobile}} would land outside the attribute.
    expect(compileError('<a title="{{#title}}"{{/title}} href="{{mobile}}">x</a>')).toMatch(/attribute/)
    expect(compileError('<p>{{#title}}<a title="{{/title}}">x</a></p>')).toContain("same place")
    expect(compileError('<p><a title="{{#title}}">{{/title}}x</a></p>')).toContain("must close inside it")
  })

  it("refuses entity-encoded private-use characters that could pose as placeholders", () => {
    expect(compileError('<p>{{displayName}}</p><a href="&#xE000;0&#xE001;">x</a>')).toContain("private-use")
    expect(compileError("<p>&#xE000;99&#xE001;</p>")).toContain("private-use")
  })

  it("rejects placeholders in closing tags, attribute names, comments, raw text and event handlers", () => {
    expect(compileError("<p>x</{{title}}>")).toContain("comment")
    // "<" before a placeholder is text to an HTML parser, so it is written back escaped.
    expect(render("<{{title}}>x", { title: "script" }).html).toBe("&lt;script&gt;x")
    expect(compileError("<p {{title}}>x</p>")).toContain("attribute name")
    expect(compileError("<p>x<!-- {{title}} --></p>")).toContain("comment")
    expect(compileError("<style>p { color: {{title}} }</style>")).toContain("<style>")
    expect(compileError('<p onclick="{{title}}">x</p>')).toContain("onclick")
  })
})

describe("escaping by context", () => {
  const hostile = {
    script: "<script>alert(1)</script>",
    breakout: '"><img src=x onerror=alert(1)>',
    js: "javascript:alert(document.cookie)",
    syntax: "{{7*7}} {{#mail}}x{{/mail}} {{{mail}}}"
  }

  it("entity-escapes values in HTML text", () => {
    const out = render("<p>{{displayName}}|{{title}}</p>", { displayName: hostile.script, title: hostile.breakout }).html
    expect(out).toBe("<p>&lt;script&gt;alert(1)&lt;/script&gt;|&quot;&gt;&lt;img src=x onerror=alert(1)&gt;</p>")
  })

  it("keeps a value inside its attribute", () => {
    const out = render('<img alt="{{displayName}}" src="https://example.com/a.png">', { displayName: hostile.breakout }).html
    expect(out).toBe('<img alt="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" src="https://example.com/a.png">')
  })

  it("empties URL attributes whose finished URL is not https, mailto or tel", () => {
    const html = '<a href="{{custom.web}}">w</a><img src="{{custom.photo}}">'
    for (const bad of [
      hostile.js,
      " JaVaScRiPt:alert(1)",
      "java\tscript:alert(1)",
      "data:text/html;base64,PHNjcmlwdD4=",
      "vbscript:x",
      "//evil.example/x",
      "/relative",
      "http://plain.example",
      "&#106;avascript:alert(1)"
    ]) {
      expect(render(html, { "custom.web": bad, "custom.photo": bad }).html).toBe('<a href="">w</a><img src="">')
    }
    expect(render(html, { "custom.web": 'https://example.com/?a=1&b="2"', "custom.photo": "https://example.com/p.png" }).html).toBe(
      '<a href="https://example.com/?a=1&amp;b=&quot;2&quot;">w</a><img src="https://example.com/p.png">'
    )
  })

  it("checks the whole URL, so template text and values cannot combine into a script URL", () => {
    const html = '<a href="{{custom.a}}{{custom.b}}">x</a><a href="tel:{{mobile}}">m</a><a href="mailto:{{mail}}">e</a>'
    const out = render(html, { "custom.a": "", "custom.b": hostile.js, mobile: '+1"><script>', mail: "a@b.example" }).html
    expect(out).toBe('<a href="">x</a><a href="tel:+1&quot;&gt;&lt;script&gt;">m</a><a href="mailto:a@b.example">e</a>')
    expect(render('<a href="{{custom.a}}script:alert(1)">x</a>', { "custom.a": "java" }).html).toBe('<a href="">x</a>')
  })

  it("writes the template back normalised: attributes double-quoted, malformed names dropped", () => {
    expect(render("<p class=a title='b' data-x=\"c\">x</p>", {}).html).toBe('<p class="a" title="b" data-x="c">x</p>')
    expect(render('<p a"b="1" c="2">x</p><o:p>y</o:p>', {}).html).toBe('<p c="2">x</p><o:p>y</o:p>')
  })

  it("drops template-literal URLs with other schemes even if the sanitizer was skipped", () => {
    expect(render('<a href="javascript:alert(1)">x</a><img src="cid:logo">', {}).html).toBe('<a>x</a><img src="cid:logo">')
  })

  it("lets only plain tokens into a style attribute", () => {
    const html = '<p style="color: {{custom.colour}}">x</p>'
    expect(render(html, { "custom.colour": "#1a5fb4" }).html).toBe('<p style="color: #1a5fb4">x</p>')
    expect(render(html, { "custom.colour": "red; background: url(https://t.example/x)" }).html).toBe('<p style="color: ">x</p>')
    expect(render(html, { "custom.colour": 'red" onmouseover="x' }).html).toBe('<p style="color: ">x</p>')
  })

  it("never reads a value as template syntax", () => {
    const out = render("<p>{{displayName}}</p>", { displayName: hostile.syntax, mail: "m@x.example" }, "{{displayName}}")
    expect(out.html).toBe("<p>{{7*7}} {{#mail}}x{{/mail}} {{{mail}}}</p>")
    expect(out.text).toBe(hostile.syntax)
  })

  it("treats {{{x}}} and {{& x}} like {{x}}", () => {
    expect(render("<p>{{{displayName}}}{{& title}}</p>", { displayName: "<b>", title: "<i>" }).html).toBe("<p>&lt;b&gt;&lt;i&gt;</p>")
  })

  it("strips line breaks and bidi controls from values, in HTML and text", () => {
    const values = { displayName: "Eve\r\nBcc: x@evil.example", title: "\u202Egnp.exe\u2066x\u2069" }
    const out = render('<p title="{{title}}">{{displayName}}</p>', values, "{{displayName}} / {{title}}")
    expect(out.html).toBe('<p title="gnp.exex">Eve Bcc: x@evil.example</p>')
    expect(out.text).toBe("Eve Bcc: x@evil.example / gnp.exex")
    expect(out.html + out.text).not.toMatch(/[\r\n\u202a-\u202e\u2066-\u2069]/)
  })

  it("caps a 100 KB value", () => {
    const big = "A".repeat(100 * 1024)
    const out = render("<p>{{displayName}}</p>", { displayName: big }, "{{displayName}}")
    expect(out.html).toBe(`<p>${"A".repeat(MAX_VALUE_LENGTH)}</p>`)
    expect(out.text.length).toBe(MAX_VALUE_LENGTH)
    // A cut never splits a surrogate pair.
    const emoji = render("<p>{{displayName}}</p>", { displayName: "a" + "😀".repeat(60_000) }).html
    expect(emoji.endsWith("😀</p>")).toBe(true)
  })
})

describe("text body", () => {
  it("uses the written text body with plain-text value handling", () => {
    const out = render("<p>{{displayName}}</p>", { displayName: "<b>Ann</b> & Co" }, "{{displayName}}\n{{#mobile}}M: {{mobile}}\n{{/mobile}}Bye")
    expect(out.text).toBe("<b>Ann</b> & Co\nBye")
  })

  it("derives the text body from the HTML when absent, placeholders included", () => {
    const c = compile(
      '<table><tr><td>{{displayName}}</td><td>{{title}}</td></tr></table><p>{{#mobile}}M: <a href="tel:{{mobile}}">{{mobile}}</a>{{/mobile}}</p><p><a href="{{custom.web}}">Website</a></p>'
    )
    expect(c.textDerived).toBe(true)
    const out = renderTemplate(c, valuesFromRecord({ displayName: "Ann", title: "CEO", "custom.web": "https://a.example" }))
    expect(out.text).toBe("Ann | CEO\nWebsite <https://a.example>")
    const withMobile = renderTemplate(c, valuesFromRecord({ displayName: "Ann", title: "CEO", mobile: "+1 5", "custom.web": "https://a.example" }))
    expect(withMobile.text).toBe("Ann | CEO\nM: +1 5\nWebsite <https://a.example>")
  })

  it("renders derived link targets as URLs: a rejected one leaves nothing", () => {
    const c = compile('<p>{{displayName}}</p><p><a href="{{custom.web}}">Website</a></p><p><a href="{{custom.web}}">{{custom.web}}</a></p>')
    const text = (web: string) => renderTemplate(c, valuesFromRecord({ displayName: "Ann", "custom.web": web })).text
    expect(text("https://a.example")).toBe("Ann\nWebsite <https://a.example>\nhttps://a.example")
    expect(text("javascript:alert(1)")).toBe("Ann\nWebsite")
  })

  // issue 14 item 6: the RFC 3676 separator is "-- " with its space; without it readers see no separator
  it("keeps the signature separator '-- ' with its trailing space, while other lines lose trailing blanks", () => {
    const out = render("<p>{{displayName}}</p>", { displayName: "Ann" }, "-- \n{{displayName}}  \n{{#mobile}}-- \n{{/mobile}}Bye")
    expect(out.text).toBe("-- \nAnn\nBye")
  })

  it("lists the placeholders a template uses", () => {
    expect(compile("<p>{{displayName}}{{#mobile}}{{mobile}}{{/mobile}}</p>", "{{custom.x}}").placeholders).toEqual(["custom.x", "displayName", "mobile"])
  })
})
