import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as http from "node:http"
import { hostedImagePath } from "../../src/domain/Images.js"
import type { TenantId } from "../../src/domain/Tenant.js"
import { imageListenerLayer } from "../../src/ImageRoot.js"
import { ImageListener } from "../../src/Listeners.js"
import { ImageRepo } from "../../src/store/ImageRepo.js"
import { Store } from "../../src/store/Store.js"
import { TenantRepo } from "../../src/store/TenantRepo.js"
import { TempStorePath } from "../store/TempStore.js"
import { acmeFile } from "../store/TenantFixtures.js"
import { testPng, tinyGif } from "../support/Images.js"
import { tenantImport } from "../../src/actors/TenantImport.js"
import { saveImage } from "../../src/images/ImageLibrary.js"

const StoreLayer = ImageRepo.Default.pipe(Layer.provideMerge(Layer.mergeAll(Store.Default, TenantRepo.Default)), Layer.provide(TempStorePath))

interface Answer {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: Buffer
}

const request = (url: string, method = "GET", headers: Record<string, string> = {}) =>
  Effect.async<Answer, Error>((resume) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) })))
    })
    req.on("error", (e) => resume(Effect.fail(e)))
    req.end()
  })

describe("image listener (hosted delivery)", () => {
  it.scoped("serves an image at its content address with long caching and security headers, and 404 for everything else", () =>
    Effect.gen(function* () {
      const tenants = yield* TenantRepo
      yield* tenantImport(tenants).importTenant(acmeFile())
      yield* tenantImport(tenants).importTenant(acmeFile({ id: "other", connectors: [{ type: "cidr", cidrs: ["198.51.100.0/24"] }] }))
      const images = yield* ImageRepo
      const png = testPng(40, 20)
      const { image } = yield* saveImage(images, "acme" as TenantId, "logo", png, "create")
      const server = yield* Effect.map(Layer.build(imageListenerLayer({ host: "127.0.0.1", port: 0 })), Context.get(ImageListener))
      const url = `${server.url}${hostedImagePath("acme", image)}`

      const ok = yield* request(url)
      expect(ok.status).toBe(200)
      expect(ok.body.equals(png)).toBe(true)
      expect(ok.headers["content-type"]).toBe("image/png")
      expect(ok.headers["content-length"]).toBe(String(png.length))
      expect(ok.headers["cache-control"]).toBe("public, max-age=31536000, immutable")
      expect(ok.headers["x-content-type-options"]).toBe("nosniff")
      expect(ok.headers["content-security-policy"]).toBe("default-src 'none'; sandbox")
      expect(ok.headers.etag).toBe(`"${image.sha256}"`)
      expect(ok.headers["set-cookie"]).toBeUndefined()

      const head = yield* request(url, "HEAD")
      expect(head.status).toBe(200)
      expect(head.body.length).toBe(0)
      expect((yield* request(url, "GET", { "if-none-match": `"${image.sha256}"` })).status).toBe(304)

      const gone = [
        `${server.url}/`,
        `${server.url}/i/`,
        `${server.url}/i/acme/`,
        url.replace(/\.png$/, ".gif"), // the bytes are a PNG: one address, one type
        url.replace(image.sha256, "0".repeat(64)),
        url.replace("/i/acme/", "/i/other/"), // another tenant's address for the same bytes: not stored there
        url.replace("/i/acme/", "/i/ACME/"),
        `${url}/`,
        `${url}.png`
      ]
      for (const u of gone) {
        const answer = yield* request(u)
        expect(answer.status, u).toBe(404)
        expect(answer.headers["x-content-type-options"], u).toBe("nosniff")
        expect(answer.headers["set-cookie"], u).toBeUndefined()
      }
      expect((yield* request(url, "POST")).status).toBe(404)
      expect((yield* request(url, "DELETE")).status).toBe(404)

      // a replaced image's old address is gone; the new one serves the new bytes
      const { image: replaced } = yield* saveImage(images, "acme" as TenantId, "logo", tinyGif(), "replace")
      expect((yield* request(url)).status).toBe(404)
      const next = yield* request(`${server.url}${hostedImagePath("acme", replaced)}`)
      expect(next.status).toBe(200)
      expect(next.headers["content-type"]).toBe("image/gif")
    }).pipe(Effect.provide(StoreLayer))
  )
})
