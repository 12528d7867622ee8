import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { PreviewRequest } from "../../src/admin/rules/PreviewApi.js"
import { transferDecode } from "../pipeline/mime/MimeHarness.js"
import { mimeFacts } from "../support/ImageMail.js"
import * as https from "node:https"
import type { TenantId } from "../../src/domain/Tenant.js"
import { sniffImage } from "../../src/images/ImageSniffer.js"
import { AuditRepo } from "../../src/store/AuditRepo.js"
import { ImageRepo, MAX_IMAGE_BYTES, MAX_TENANT_IMAGE_BYTES } from "../../src/store/ImageRepo.js"
import { jpegHeader, paddedPng, testPng, tinyGif } from "../support/Images.js"
import { AdminEnv, adminTestLayer, operatorClient, TestCert } from "./AdminHarness.js"
import { createContentTenant, memberClient } from "./ContentHarness.js"
import { saveImage } from "../../src/images/ImageLibrary.js"

const tid = (s: string) => s as TenantId
const field = (e: unknown, key: string) => (e as Record<string, unknown>)[key]

/**
 * A raw POST whose headers declare `declared` body bytes, of which only
 * `sent` are written: answered before the body arrives, or never (then the
 * test times out), which is what "checked before the body is read" means.
 */
const rawUpload = (path: string, sent: Buffer, declared = sent.length) =>
  Effect.gen(function* () {
    const env = yield* AdminEnv
    const cert = yield* TestCert
    return yield* Effect.async<{ status: number; body: string }, Error>((resume) => {
      const request = https.request(
        `${env.baseUrl}${path}`,
        {
          method: "POST",
          ca: cert.cert,
          agent: false,
          headers: { authorization: `Bearer ${env.token}`, "content-type": "image/png", "content-length": String(declared) }
        },
        (response) => {
          let body = ""
          response.setEncoding("utf8")
          response.on("data", (c: string) => (body += c))
          response.on("end", () => {
            request.destroy()
            resume(Effect.succeed({ status: response.statusCode ?? 0, body }))
          })
        }
      )
      request.on("error", (e) => resume(Effect.fail(e)))
      request.write(sent)
      if (declared === sent.length) request.end()
      return Effect.sync(() => request.destroy())
    })
  })

describe("image sniffing", () => {
  const ok = (b: Uint8Array) => sniffImage(b).pipe((e) => (e._tag === "Right" ? e.right : e.left))
  it("reads type and size from PNG, GIF and JPEG headers, whatever the name says", () => {
    expect(ok(testPng(120, 40))).toEqual({ type: "png", width: 120, height: 40 })
    expect(ok(tinyGif())).toEqual({ type: "gif", width: 3, height: 2 })
    expect(ok(jpegHeader())).toEqual({ type: "jpeg", width: 640, height: 480 })
  })
  it("refuses SVG, WebP, other bytes and truncated headers with a reason", () => {
    expect(ok(Buffer.from('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'))).toContain("SVG")
    expect(ok(Buffer.from("\uFEFF  <svg></svg>"))).toContain("SVG")
    expect(ok(Buffer.from("RIFF\0\0\0\0WEBPVP8 "))).toContain("WebP")
    expect(ok(Buffer.from("GIF8"))).toContain("not a PNG, JPEG or GIF")
    expect(ok(testPng(4, 4).subarray(0, 20))).toContain("truncated")
    expect(ok(jpegHeader().subarray(0, 22))).toContain("no frame header")
  })
})

const TestLayer = ImageRepo.DefaultWithoutDependencies.pipe(Layer.provideMerge(adminTestLayer()))

layer(TestLayer)("admin API: images", (it) => {
  it.effect("upload, list, get, content, replace and delete; the type and size come from the bytes", () =>
    Effect.gen(function* () {
      yield* createContentTenant("img-a", "192.0.2.0/28")
      const client = yield* operatorClient
      const path = { tenantId: "img-a", imageId: "logo" }
      const png = testPng(120, 40)
      const created = yield* client.images.create({ path, payload: png })
      expect(created.image).toMatchObject({
        id: "logo",
        type: "png",
        contentType: "image/png",
        width: 120,
        height: 40,
        bytes: png.length,
        templateSource: "image:logo"
      })
      expect(created.image.sha256).toMatch(/^[0-9a-f]{64}$/)
      expect(created.image.hostedPath).toBe(`/i/img-a/${created.image.sha256}.png`)
      expect(created.previousSha256).toBeUndefined()

      const again = yield* Effect.flip(client.images.create({ path, payload: png }))
      expect(again._tag).toBe("ImageAlreadyExists")

      const list = yield* client.images.list({ path: { tenantId: "img-a" } })
      expect(list.images.map((i) => i.id)).toEqual(["logo"])
      expect(list.totalBytes).toBe(png.length)
      expect(list.limits).toEqual({ imageBytes: MAX_IMAGE_BYTES, tenantBytes: MAX_TENANT_IMAGE_BYTES })
      expect((yield* client.images.get({ path })).width).toBe(120)

      const gif = tinyGif()
      const replaced = yield* client.images.replace({ path, payload: gif })
      expect(replaced.image).toMatchObject({ type: "gif", width: 3, height: 2 })
      expect(replaced.previousSha256).toBe(created.image.sha256)

      const env = yield* AdminEnv
      const cert = yield* TestCert
      const content = yield* Effect.promise(
        () =>
          new Promise<{ type: string; nosniff: string; body: Buffer }>((resolve, reject) => {
            https
              .get(`${env.baseUrl}/tenants/img-a/images/logo/content`, { ca: cert.cert, headers: { authorization: `Bearer ${env.token}` } }, (r) => {
                const chunks: Array<Buffer> = []
                r.on("data", (c: Buffer) => chunks.push(c))
                r.on("end", () =>
                  resolve({ type: String(r.headers["content-type"]), nosniff: String(r.headers["x-content-type-options"]), body: Buffer.concat(chunks) })
                )
              })
              .on("error", reject)
          })
      )
      expect(content.type).toBe("image/gif")
      expect(content.nosniff).toBe("nosniff")
      expect(content.body.equals(gif)).toBe(true)

      // the replaced bytes are gone from the store: content-addressed, nothing else named them
      const repo = yield* ImageRepo
      expect((yield* repo.blobSync(tid("img-a"), created.image.sha256))._tag).toBe("None")

      yield* client.images.delete({ path })
      expect((yield* Effect.flip(client.images.get({ path })))._tag).toBe("ImageNotFound")
      expect((yield* repo.blobSync(tid("img-a"), replaced.image.sha256))._tag).toBe("None")

      const audit = yield* (yield* AuditRepo).list(tid("img-a"), { limit: 10 })
      expect(audit.entries.map((e) => e.action).filter((a) => a.startsWith("image."))).toEqual(["image.delete", "image.replace", "image.create"])
    })
  )

  it.effect("SVG and other non-images are 400 with the reason; PUT of an unknown id is 404", () =>
    Effect.gen(function* () {
      yield* createContentTenant("img-b", "192.0.2.16/28")
      const client = yield* operatorClient
      const svg = yield* Effect.flip(
        client.images.create({
          path: { tenantId: "img-b", imageId: "evil" },
          payload: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>')
        })
      )
      expect(svg._tag).toBe("ImageInvalid")
      expect(field(svg, "message")).toContain("SVG")
      const missing = yield* Effect.flip(client.images.replace({ path: { tenantId: "img-b", imageId: "nope" }, payload: testPng(2, 2) }))
      expect(missing._tag).toBe("ImageNotFound")
      const badId = yield* rawUpload("/tenants/img-b/images/a%20b", testPng(2, 2))
      expect(badId.status).toBe(400)
      expect(badId.body).toContain("an image id is 1 to 64 of")
    })
  )

  it.effect(
    "over 1 MB declared is 413 before the body is read; so is what would pass 50 MB for the tenant",
    () =>
      Effect.gen(function* () {
        yield* createContentTenant("img-c", "192.0.2.32/28")
        const big = yield* rawUpload("/tenants/img-c/images/big", Buffer.from("\x89PNG"), MAX_IMAGE_BYTES + 1)
        expect(big.status).toBe(413)
        expect(JSON.parse(big.body)).toMatchObject({ _tag: "ImageTooLarge", limit: "1 MB per image" })

        // fill the tenant to 1 byte under 50 MB through the repository (49 images of 1 MB and the rest)
        const repo = yield* ImageRepo
        for (let i = 0; i < 49; i++) yield* saveImage(repo, tid("img-c"), `fill-${i}`, paddedPng(MAX_IMAGE_BYTES, 4, i + 1), "create")
        const left = MAX_TENANT_IMAGE_BYTES - 49 * MAX_IMAGE_BYTES
        yield* saveImage(repo, tid("img-c"), "fill-last", paddedPng(left - 1, 5, 5), "create")
        const full = yield* rawUpload("/tenants/img-c/images/one-more", Buffer.from("\x89PNG"), 100)
        expect(full.status).toBe(413)
        expect(JSON.parse(full.body)).toMatchObject({ _tag: "ImageTooLarge", limit: "50 MB per tenant" })

        // the same bytes under a second id take no room: content-addressed
        const dup = yield* saveImage(repo, tid("img-c"), "dup", paddedPng(MAX_IMAGE_BYTES, 4, 1), "create")
        expect(dup.image.sha256).toBe((yield* repo.get(tid("img-c"), "fill-0")).sha256)
        const client = yield* operatorClient
        // ...and an image whose real length passes the tenant limit is refused after reading it
        const over = yield* Effect.flip(client.images.create({ path: { tenantId: "img-c", imageId: "over" }, payload: testPng(3, 3) }))
        expect(over).toMatchObject({ _tag: "ImageTooLarge", limit: "50 MB per tenant" })
      }),
    120_000
  )

  it.effect("templates use images by id: an unknown id is 400 at save, and a used image cannot be deleted", () =>
    Effect.gen(function* () {
      yield* createContentTenant("img-d", "192.0.2.48/28")
      const client = yield* operatorClient
      const unknown = yield* Effect.flip(
        client.templates.create({
          path: { tenantId: "img-d" },
          payload: { id: "with-logo", name: "Logo", html: '<p><img src="image:logo" alt="Logo"></p>' }
        })
      )
      expect(unknown._tag).toBe("TemplateInvalid")
      expect(field(unknown, "message")).toContain('unknown image "logo"')
      expect(field(unknown, "message")).toContain("POST /tenants/img-d/images/{imageId}")

      yield* client.images.create({ path: { tenantId: "img-d", imageId: "logo" }, payload: testPng(60, 30) })
      const saved = yield* client.templates.create({
        path: { tenantId: "img-d" },
        payload: { id: "with-logo", name: "Logo", html: '<p><img src="image:logo" alt="Logo"></p>', delivery: "embedded" }
      })
      expect(saved.template.delivery).toBe("embedded")
      const inUse = yield* Effect.flip(client.images.delete({ path: { tenantId: "img-d", imageId: "logo" } }))
      expect(inUse._tag).toBe("ImageInUse")
      expect(field(inUse, "templateIds")).toEqual(["with-logo"])

      const rendered = yield* client.templates.render({ path: { tenantId: "img-d", templateId: "with-logo" }, payload: { mail: "alice@img-d.example" } })
      expect(rendered.html).toMatch(/<img src="data:image\/png;base64,[A-Za-z0-9+/=]+" width="60" height="30" alt="Logo">/)
    })
  )

  it.effect("the preview shows a template's images as data: URLs; the test stamp returns them as real related parts", () =>
    Effect.gen(function* () {
      yield* createContentTenant("img-p", "192.0.2.96/28")
      const client = yield* operatorClient
      const png = testPng(30, 10)
      yield* client.images.create({ path: { tenantId: "img-p", imageId: "logo" }, payload: png })
      yield* client.templates.replace({
        path: { tenantId: "img-p", templateId: "sig" },
        payload: { name: "Signature", html: '<p>{{displayName}} <img src="image:logo" alt="Logo"></p>', text: "{{displayName}}" }
      })
      const answer = yield* client.preview.preview({
        path: { tenantId: "img-p" },
        payload: Schema.decodeUnknownSync(PreviewRequest)({ sender: "alice@img-p.example", recipients: ["bob@img-p.example"] })
      })
      const dataUrl = `data:image/png;base64,${png.toString("base64")}`
      expect(answer.groups[0]!.html).toContain(`<img src="${dataUrl}" width="30" height="10" alt="Logo">`)

      const message = [
        "From: alice@img-p.example",
        "To: bob@img-p.example",
        "Subject: hi",
        "MIME-Version: 1.0",
        'Content-Type: multipart/alternative; boundary="b"',
        "",
        "--b",
        "Content-Type: text/plain",
        "",
        "Hello",
        "--b",
        "Content-Type: text/html",
        "",
        "<p>Hello</p>",
        "--b--",
        ""
      ].join("\r\n")
      const stamped = yield* client.preview.testStamp({ path: { tenantId: "img-p" }, urlParams: {}, payload: new TextEncoder().encode(message) })
      const facts = yield* Effect.promise(() => mimeFacts(Buffer.from(stamped.copies[0]!.messageBase64, "base64")))
      expect(facts.images.size).toBe(1)
      expect(facts.attachments).toEqual([])
      const [cid, part] = [...facts.images][0]!
      expect(facts.html).toContain(`src="cid:${cid}"`)
      expect(transferDecode(part).equals(png)).toBe(true)
    })
  )

  it.effect("tenant rules: another tenant's member gets 404, an auditor reads but may not upload", () =>
    Effect.gen(function* () {
      yield* createContentTenant("img-e", "192.0.2.64/28")
      yield* createContentTenant("img-f", "192.0.2.80/28")
      const operator = yield* operatorClient
      yield* operator.images.create({ path: { tenantId: "img-e", imageId: "logo" }, payload: testPng(4, 4) })
      const stranger = yield* memberClient("img-f", "owner")
      expect((yield* Effect.flip(stranger.images.list({ path: { tenantId: "img-e" } })))._tag).toBe("TenantNotFound")
      expect((yield* Effect.flip(stranger.images.get({ path: { tenantId: "img-e", imageId: "logo" } })))._tag).toBe("TenantNotFound")
      const auditor = yield* memberClient("img-e", "auditor")
      expect((yield* auditor.images.list({ path: { tenantId: "img-e" } })).images).toHaveLength(1)
      expect((yield* Effect.flip(auditor.images.create({ path: { tenantId: "img-e", imageId: "x" }, payload: testPng(2, 2) })))._tag).toBe("Forbidden")
      expect((yield* Effect.flip(auditor.images.delete({ path: { tenantId: "img-e", imageId: "logo" } })))._tag).toBe("Forbidden")
      const editor = yield* memberClient("img-e", "editor")
      expect((yield* editor.images.create({ path: { tenantId: "img-e", imageId: "x" }, payload: testPng(2, 2) })).image.id).toBe("x")
    })
  )
})
