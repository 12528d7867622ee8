import { describe, expect, it } from "vitest"
import { htmlToText, URL_SPAN_DECORATED, URL_SPAN_END } from "../../src/signature/HtmlToText.js"

describe("htmlToText", () => {
  it("writes links as text <url>, or the url alone when the text says the same", () => {
    expect(htmlToText('<p><a href="https://example.com/about">About us</a></p>')).toBe("About us <https://example.com/about>")
    expect(htmlToText('<p><a href="https://example.com">https://example.com</a></p>')).toBe("https://example.com")
    expect(htmlToText('<p><a href="mailto:a@example.com">a@example.com</a> <a href="tel:+15550100">+15550100</a></p>')).toBe("a@example.com +15550100")
    expect(htmlToText('<a href="https://example.com"></a>')).toBe("https://example.com")
  })

  it("uses an image's alt text as the text of its link, and drops other images", () => {
    const html =
      '<img src="https://example.com/logo.png" alt="Logo"><p><a href="https://www.linkedin.com/company/x"><img src="https://example.com/in.png" alt="LinkedIn"></a></p>'
    expect(htmlToText(html)).toBe("LinkedIn <https://www.linkedin.com/company/x>")
  })

  it("writes table rows as lines with their cells joined", () => {
    const html = "<table><tr><td>Ann Lee</td><td>CEO</td><td></td></tr><tr><td>T: 1</td></tr></table>"
    expect(htmlToText(html)).toBe("Ann Lee | CEO\nT: 1")
  })

  it("writes cells holding several lines (nested layout tables) as blocks", () => {
    const html = '<table><tr><td><img src="https://example.com/l.png" alt="L"></td><td><div>Ann Lee</div><div>CEO</div></td></tr></table>'
    expect(htmlToText(html)).toBe("Ann Lee\nCEO")
  })

  it("breaks lines at block elements and <br>, decodes entities, collapses whitespace, leaves no markup", () => {
    const html = "<div>Ann&nbsp;Lee &amp; Co</div><p>Line   one<br>Line\n two</p><h2>Head</h2><ul><li>a</li><li>b</li></ul><hr><span>&lt;not a tag&gt;</span>"
    expect(htmlToText(html)).toBe("Ann Lee & Co\nLine one\nLine two\nHead\na\nb\n----\n<not a tag>")
  })

  it("keeps template placeholders, in text and in link targets", () => {
    const html =
      '<div>{{displayName}}</div>{{#mobile}}<div>M: <a href="tel:{{mobile}}">{{mobile}}</a></div>{{/mobile}}<div><a href="{{custom.web}}">Web</a></div>'
    // A link target holding a placeholder is marked, so the text compiler renders it as a URL.
    expect(htmlToText(html)).toBe(`{{displayName}}\n{{#mobile}}\nM: {{mobile}}\n{{/mobile}}\nWeb${URL_SPAN_DECORATED}{{custom.web}}${URL_SPAN_END}`)
  })

  it("drops script and style content", () => {
    expect(htmlToText("<style>p{}</style><script>x()</script><p>ok</p>")).toBe("ok")
  })
})
