import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { Template } from "../../src/domain/Template.js"
import { MAX_ELEMENT_DEPTH } from "../../src/signature/TemplateCompiler.js"
import { compileTemplate } from "../../src/signature/TemplateEngine.js"
import { MAX_TEMPLATE_BYTES, prepareTemplate } from "../../src/signature/TemplatePreparation.js"

/**
 * Item 8 of issue 13: a template's parts are capped at MAX_TEMPLATE_BYTES
 * when saved, and no template shape makes compiling throw (deep nesting
 * overflowed the stack of the HTML-to-text walk). Speed is measured in
 * perf/TemplateCompileBench.ts, not here.
 */

const unit = `<table><tr><td style="color:#333">{{displayName}}</td><td><a href="mailto:{{mail}}">{{mail}}</a>{{#mobile}} M: {{mobile}}{{/mobile}}</td></tr></table>\n`
const filled = (bytes: number) => unit.repeat(Math.floor(bytes / unit.length))
const template = (html: string, text?: string) => new Template({ id: "big", name: "Big", html, ...(text !== undefined ? { text } : {}) })

describe("template limits", () => {
  it("a template of MAX_TEMPLATE_BYTES is saved", () => {
    expect(MAX_TEMPLATE_BYTES).toBe(256 * 1024)
    expect(Either.isRight(prepareTemplate(template(filled(MAX_TEMPLATE_BYTES))))).toBe(true)
  })

  it("HTML or text over MAX_TEMPLATE_BYTES is refused, naming the part and the limit", () => {
    const html = prepareTemplate(template(filled(MAX_TEMPLATE_BYTES) + "x".repeat(unit.length)))
    expect(Either.isLeft(html) && html.left.part).toBe("html")
    expect(Either.isLeft(html) && html.left.message).toContain("at most 262144 bytes (256 KB)")
    const text = prepareTemplate(template("<p>{{displayName}}</p>", "{{displayName}}\n".repeat(MAX_TEMPLATE_BYTES / 10)))
    expect(Either.isLeft(text) && text.left.part).toBe("text")
  })

  it("the limit counts UTF-8 bytes", () => {
    const html = `<p>${"é".repeat(MAX_TEMPLATE_BYTES / 2)}</p>`
    expect(html.length).toBeLessThan(MAX_TEMPLATE_BYTES)
    expect(Either.isLeft(prepareTemplate(template(html)))).toBe(true)
  })

  it("elements nested deeper than MAX_ELEMENT_DEPTH are a compile error, not a crash", () => {
    const deep = (n: number) => `${"<div>".repeat(n)}{{displayName}}${"</div>".repeat(n)}`
    expect(Either.isRight(compileTemplate(template(deep(MAX_ELEMENT_DEPTH))))).toBe(true)
    for (const html of [deep(MAX_ELEMENT_DEPTH + 1), "<div>".repeat(20_000), "<span>".repeat(20_000) + "</b>".repeat(20_000)]) {
      const compiled = compileTemplate(template(html))
      expect(Either.isLeft(compiled) && compiled.left.message).toContain(`deeper than ${MAX_ELEMENT_DEPTH}`)
      const prepared = prepareTemplate(template(html))
      expect(Either.isLeft(prepared)).toBe(true)
    }
  })
})
