import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { ImageMeta } from "../../src/domain/Images.js"
import { Rule } from "../../src/domain/Rule.js"
import { renderElement, type TenantImages } from "../../src/signature/SignatureResolver.js"
import { Template } from "../../src/domain/Template.js"
import { compileTemplate, renderTemplate, type CompiledTemplate } from "../../src/signature/TemplateEngine.js"
import { imageIdsOf, type ImageContext } from "../../src/signature/TemplateImages.js"
import { sanitizeTemplate } from "../../src/signature/TemplateSanitizer.js"
import { valuesFromRecord } from "../../src/signature/TemplateValues.js"

const compile = (html: string): CompiledTemplate => {
  const result = compileTemplate(new Template({ id: "t", name: "t", html: sanitizeTemplate(html).html }))
  if (Either.isLeft(result)) throw new Error(result.left.message)
  return result.right
}

const logo = new ImageMeta({ id: "logo", type: "png", sha256: "a".repeat(64), width: 200, height: 100, bytes: 1000, updatedAt: 0 })
const icon = new ImageMeta({ id: "icon", type: "gif", sha256: "b".repeat(64), width: 20, height: 20, bytes: 100, updatedAt: 0 })
const library = new Map([
  ["logo", logo],
  ["icon", icon]
])

const context = (delivery: "hosted" | "embedded"): ImageContext => ({
  tenantId: "acme",
  images: library,
  delivery,
  publicBaseUrl: "https://img.acme.example"
})

describe("image: sources", () => {
  it("survive the sanitizer, while other schemes on img still go", () => {
    const out = sanitizeTemplate('<p><img src="image:logo" alt="Acme"><img src="javascript:alert(1)"><a href="image:logo">x</a></p>')
    expect(out.html).toContain('<img src="image:logo" alt="Acme" />')
    expect(out.removed.map((r) => r.detail)).toEqual(["javascript:alert(1)", "image:logo"])
  })

  it("render as cid: references with the image's size when embedded, each image listed once", () => {
    const t = compile('<img src="image:logo" alt="Acme" style="display: block"><img src="image:icon"><img src="image:icon">')
    expect(t.images).toEqual(["logo", "icon"])
    const out = renderTemplate(t, valuesFromRecord({}), context("embedded"))
    expect(out.html).toBe(
      `<img src="cid:img-${"a".repeat(32)}.png@imprint" width="200" height="100" alt="Acme" style="display: block">` +
        `<img src="cid:img-${"b".repeat(32)}.gif@imprint" width="20" height="20">`.repeat(2)
    )
    expect(out.images.map((i) => i.meta.id)).toEqual(["logo", "icon"])
  })

  it("render as content-addressed https URLs under the public base URL when hosted", () => {
    const out = renderTemplate(compile('<img src="image:logo">'), valuesFromRecord({}), context("hosted"))
    expect(out.html).toBe(`<img src="https://img.acme.example/i/acme/${"a".repeat(64)}.png" width="200" height="100">`)
  })

  it("keep a size the template gives, and scale the other side from one given", () => {
    const html = (attrs: string) => renderTemplate(compile(`<img src="image:logo" ${attrs}>`), valuesFromRecord({}), context("embedded")).html
    expect(html('width="100"')).toContain('width="100" height="50"')
    expect(html('height="25"')).toContain('width="50" height="25"')
    expect(html('width="10" height="10"')).toContain('width="10" height="10"')
    expect(html('width="50%"')).toContain('width="50%" height="100"')
  })

  it("inside an empty section show nothing and list nothing", () => {
    const t = compile('{{#mobile}}<img src="image:icon">{{/mobile}}')
    const out = renderTemplate(t, valuesFromRecord({}), context("embedded"))
    expect(out.html).toBe("")
    expect(out.images).toEqual([])
  })

  it("refuse placeholders in the width or height of a library image, and ids that cannot be one", () => {
    const error = (html: string) => {
      const r = compileTemplate(new Template({ id: "t", name: "t", html }))
      return Either.isLeft(r) ? r.left.message : "compiled"
    }
    expect(error('<img src="image:logo" width="{{custom.w}}">')).toContain("must be written as numbers")
    expect(error('<img src="image:a/b">')).toContain("does not name an image")
  })

  it("without an image context (an unknown id), render the tag without a src", () => {
    const out = renderTemplate(compile('<img src="image:gone" width="10" alt="x">'), valuesFromRecord({}))
    expect(out.html).toBe('<img width="10" alt="x">')
  })

  it("are found in stored HTML by imageIdsOf", () => {
    expect(imageIdsOf('<img src="image:logo" /><p><img alt="x" src="image:icon" /></p><img src="https://x.example/a.png" />')).toEqual(["logo", "icon"])
  })
})

describe("delivery per template or rule", () => {
  const template = (delivery?: "hosted" | "embedded") => {
    const r = compileTemplate(new Template({ id: "t", name: "t", html: '<img src="image:logo">', ...(delivery !== undefined ? { delivery } : {}) }))
    if (Either.isLeft(r)) throw new Error(r.left.message)
    return r.right
  }
  const bytes = new Uint8Array([1, 2, 3])
  const images = (publicBaseUrl: string | undefined, defaultDelivery: "hosted" | "embedded" = "embedded"): TenantImages => ({
    tenantId: "acme",
    library,
    bytes: (sha) => (sha === logo.sha256 ? bytes : undefined),
    settings: { publicBaseUrl, defaultDelivery }
  })
  const rule = (delivery?: "hosted" | "embedded") => new Rule({ id: "r", name: "r", templateId: "t", ...(delivery !== undefined ? { delivery } : {}) })
  const render = (r: Rule, t: CompiledTemplate, i: TenantImages) => renderElement(r, t, valuesFromRecord({}), undefined, i)

  it("the rule's wins over the template's, which wins over the server default", () => {
    const base = images("https://img.acme.example", "embedded")
    expect(render(rule(), template(), base).delivery).toBe("embedded")
    expect(render(rule(), template("hosted"), base).delivery).toBe("hosted")
    expect(render(rule("embedded"), template("hosted"), base).delivery).toBe("embedded")
    expect(render(rule("hosted"), template(), base).html).toContain('src="https://img.acme.example/i/acme/')
    expect(render(rule(), template(), images("https://img.acme.example", "hosted")).delivery).toBe("hosted")
  })

  it("hosted without a public base URL embeds, so the image still shows; the element carries the stored bytes, shared", () => {
    const element = render(rule("hosted"), template(), images(undefined))
    expect(element.delivery).toBe("embedded")
    expect(element.html).toContain('src="cid:img-')
    expect(element.images).toHaveLength(1)
    expect(element.images[0]!.data).toBe(bytes)
    expect(element.images[0]!.contentType).toBe("image/png")
  })
})
