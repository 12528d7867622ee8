import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect, Either, Option } from "effect"
import * as http from "node:http"
import * as https from "node:https"
import { IMAGE_CONTENT_TYPES, IMAGE_EXTENSIONS } from "../domain/Images.js"
import type { TenantId } from "../domain/Tenant.js"
import type { TlsMaterial } from "../Secrets.js"
import { ImageRepo } from "../store/ImageRepo.js"
import { sniffImage } from "./ImageSniffer.js"

/**
 * Hosted delivery (issue 17): a listener of its own, apart from the admin
 * API because it faces the internet, that serves a tenant's images at
 * content-addressed paths `/i/<tenant>/<sha256>.<ext>` and nothing else.
 * The SHA-256 of the bytes is the address: unguessable without the image,
 * and never reused for other bytes, so answers cache for a year (immutable).
 * No cookies, no directory listing, no redirects; every other request is 404.
 * The composition root (src/ImageRoot.ts) serves imageApp on the listener.
 */

/** A year: the path names the bytes, so they never change under it. */
export const IMAGE_CACHE_CONTROL = "public, max-age=31536000, immutable"

/** Headers on every answer: the bytes are only ever an image, never a document or a script. */
export const IMAGE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "x-content-type-options": "nosniff",
  "content-security-policy": "default-src 'none'; sandbox",
  // mail clients and webmail load it from their own origins
  "cross-origin-resource-policy": "cross-origin",
  "referrer-policy": "no-referrer"
}

const PATH = /^\/i\/([a-z0-9-]{1,63})\/([0-9a-f]{64})\.(png|jpg|gif)$/

const notFound = HttpServerResponse.text("not found\n", {
  status: 404,
  headers: { ...IMAGE_SECURITY_HEADERS, "cache-control": "no-store" }
})

/** The app: GET or HEAD of an image path, or 404. */
export const imageApp = Effect.gen(function* () {
  const request = yield* HttpServerRequest.HttpServerRequest
  const images = yield* ImageRepo
  if (request.method !== "GET" && request.method !== "HEAD") return notFound
  const pathname = request.url.split("?", 1)[0]!
  const m = PATH.exec(pathname)
  if (m === null) return notFound
  const [, tenant, sha256, ext] = m as unknown as [string, string, string, string]
  const etag = `"${sha256}"`
  const stored = images.blobSync(tenant as TenantId, sha256)
  if (Either.isLeft(stored)) {
    yield* Effect.logError("image listener: store read failed", stored.left)
    return HttpServerResponse.text("try again\n", { status: 503, headers: { ...IMAGE_SECURITY_HEADERS, "cache-control": "no-store" } })
  }
  if (Option.isNone(stored.right)) return notFound
  const bytes = stored.right.value
  // the extension must be the bytes' own type: one address, one Content-Type
  const sniffed = sniffImage(bytes)
  if (Either.isLeft(sniffed) || IMAGE_EXTENSIONS[sniffed.right.type] !== ext) return notFound
  const headers = { ...IMAGE_SECURITY_HEADERS, "cache-control": IMAGE_CACHE_CONTROL, etag }
  if (request.headers["if-none-match"]?.split(",").some((t) => t.trim() === etag) === true) {
    return HttpServerResponse.empty({ status: 304, headers })
  }
  return HttpServerResponse.uint8Array(bytes, { contentType: IMAGE_CONTENT_TYPES[sniffed.right.type], headers })
})

export interface ImageServerOptions {
  readonly host: string
  /** 0: any free port (tests) */
  readonly port: number
  /** HTTPS when given; plain HTTP otherwise (behind a TLS-terminating proxy or CDN) */
  readonly tls?: TlsMaterial | undefined
}

/** The listener's server: HTTPS (TLS 1.2 at least) when given TLS material, plain HTTP otherwise. */
export const createImageHttpServer = (tls: TlsMaterial | undefined): http.Server =>
  tls !== undefined ? https.createServer({ key: tls.key, cert: tls.cert, minVersion: "TLSv1.2" }) : http.createServer()

/** The URL the listener answers on, brackets around an IPv6 host. */
export const imageUrl = (host: string, port: number, tls: boolean) => `${tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${port}`
