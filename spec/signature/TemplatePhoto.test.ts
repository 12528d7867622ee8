import { Either, Option } from "effect"
import { describe, expect, it } from "vitest"
import { DirectoryPhoto, DirectoryUser } from "../../src/domain/Directory.js"
import { Rule } from "../../src/domain/Rule.js"
import { Template } from "../../src/domain/Template.js"
import { renderElement, type TenantImages } from "../../src/signature/SignatureResolver.js"
import { compileTemplate, type CompiledTemplate, renderTemplate } from "../../src/signature/TemplateEngine.js"
import { sanitizeTemplate } from "../../src/signature/TemplateSanitizer.js"
import { userValues } from "../../src/signature/TemplateValues.js"

/** `{{#photo}}<img src="{{photo}}">{{/photo}}`: the sender's directory photo, or nothing (issue 17 item 3). */

const PHOTO_TEMPLATE = '<p>{{#photo}}<img src="{{photo}}" width="64" height="64" alt="">{{/photo}}<b>{{displayName}}</b></p>'

const compiled = (html: string): Either.Either<CompiledTemplate, string> =>
  Either.mapLeft(compileTemplate(new Template({ id: "t", name: "t", html: sanitizeTemplate(html).html })), (e) => e.message)

const compile = (html: string): CompiledTemplate => Either.getOrThrowWith(compiled(html), (m) => new Error(m))

const photo = new DirectoryPhoto({ sha256: "c".repeat(64), width: 96, height: 96, bytes: 2100, source: "etag-1" })
const withPhoto = new DirectoryUser({ mail: "ann@acme.example", displayName: "Ann", photo })
const without = new DirectoryUser({ mail: "bob@acme.example", displayName: "Bob" })

const photoBytes = Buffer.from("stored jpeg bytes")
const images = (publicBaseUrl?: string): TenantImages => ({
  tenantId: "acme",
  library: new Map(),
  bytes: () => undefined,
  photoBytes: (sha) => (sha === photo.sha256 ? photoBytes : undefined),
  settings: { publicBaseUrl, defaultDelivery: publicBaseUrl === undefined ? "embedded" : "hosted" }
})
const rule = new Rule({ id: "r", name: "r", templateId: "t" })

describe("{{#photo}} sections", () => {
  it("survive the sanitizer and compile to a photo source", () => {
    expect(sanitizeTemplate(PHOTO_TEMPLATE).html).toContain('<img src="{{photo}}"')
    const t = compile(PHOTO_TEMPLATE)
    expect(t.photo).toBe(true)
    expect(t.placeholders).toContain("photo")
  })

  it("embed the sender's photo as a cid: part with the template's size", () => {
    const element = renderElement(rule, compile(PHOTO_TEMPLATE), userValues(withPhoto), undefined, images(), withPhoto.photo)
    const cid = `img-${"c".repeat(32)}.jpg@imprint`
    expect(element.html).toContain(`<img src="cid:${cid}" width="64" height="64" alt>`)
    expect(element.images.map((i) => [i.contentId, i.contentType, Buffer.from(i.data).toString()])).toEqual([[cid, "image/jpeg", "stored jpeg bytes"]])
  })

  it("point at the content-addressed hosted path when hosted", () => {
    const element = renderElement(rule, compile(PHOTO_TEMPLATE), userValues(withPhoto), undefined, images("https://img.acme.example"), withPhoto.photo)
    expect(element.html).toContain(`<img src="https://img.acme.example/i/acme/${"c".repeat(64)}.jpg" width="64" height="64" alt>`)
  })

  it("show nothing, and carry no part, for a user without a photo", () => {
    const element = renderElement(rule, compile(PHOTO_TEMPLATE), userValues(without), undefined, images(), without.photo)
    expect(element.html).toContain("<p><b>Bob</b></p>")
    expect(element.html).not.toContain("<img")
    expect(element.images).toEqual([])
    expect(element.text).toBe("Bob")
  })

  it("write the photo's own size when the template gives none", () => {
    const out = renderTemplate(compile('{{#photo}}<img src="{{photo}}">{{/photo}}'), userValues(withPhoto), {
      tenantId: "acme",
      images: new Map(),
      delivery: "embedded",
      publicBaseUrl: undefined,
      photo: { id: "photo", type: "jpeg", sha256: photo.sha256, width: 96, height: 96, bytes: 2100, updatedAt: 0 } as never
    })
    expect(out.html).toBe(`<img src="cid:img-${"c".repeat(32)}.jpg@imprint" width="96" height="96">`)
  })

  it("an inverted section shows a fallback for users without one", () => {
    const t = compile('{{#photo}}<img src="{{photo}}">{{/photo}}{{^photo}}<span>no photo</span>{{/photo}}')
    expect(renderTemplate(t, userValues(without)).html).toBe("<span>no photo</span>")
  })

  it("are refused where {{photo}} is not the src of an <img> inside its section", () => {
    expect(Either.getLeft(compiled('<img src="{{photo}}">'))).toEqual(Option.some(expect.stringContaining("must be inside {{#photo}}")))
    expect(Either.getLeft(compiled('{{^photo}}<img src="{{photo}}">{{/photo}}'))).toEqual(Option.some(expect.stringContaining("must be inside {{#photo}}")))
    expect(Either.getLeft(compiled("<p>{{photo}}</p>"))).toEqual(Option.some(expect.stringContaining("can only be the whole src of an <img>")))
    expect(Either.getLeft(compiled('{{#photo}}<a href="{{photo}}">me</a>{{/photo}}'))).toEqual(
      Option.some(expect.stringContaining("can only be the whole src"))
    )
    expect(Either.getLeft(compiled('{{#photo}}<img src="https://x.example/{{photo}}">{{/photo}}'))).toEqual(
      Option.some(expect.stringContaining("can only be the whole src"))
    )
  })

  it("a changed photo is a new render (the cache key follows the photo)", () => {
    const moved = new DirectoryUser({ ...withPhoto, photo: new DirectoryPhoto({ ...photo, sha256: "d".repeat(64) }) })
    expect(userValues(moved).get("photo")).toBe("d".repeat(64))
    expect(userValues(withPhoto).get("photo")).toBe("c".repeat(64))
  })
})
