import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as UrlParams from "@effect/platform/UrlParams"
import { HttpApiDecodeError } from "@effect/platform/HttpApiError"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import { Effect, Schema, Stream } from "effect"
import type { IncomingMessage } from "node:http"
import { PayloadTooLarge } from "./Errors.js"
import { ImportTooLarge, importTooLarge, MAX_IMPORT_BYTES } from "../directory/Api.js"
import { checkJsonText } from "./JsonBody.js"
import { TEST_STAMP_MAX_BYTES, UploadTooLarge, uploadTooLarge } from "../rules/PreviewApi.js"
import { matchRoute } from "./RouteTable.js"

/**
 * A body cap for every route, enforced before the router reads a byte.
 * A declared Content-Length over the cap is answered 413 without reading the
 * body; a chunked body is read until it crosses the cap and then answered the
 * same way. A 413 carries `Connection: close`, so Node closes the connection
 * after the answer instead of draining the rest of the body.
 *
 * Whole-body routes are read here (into at most `cap` bytes) and the router
 * gets a request whose body is that buffer; a JSON body is checked for syntax
 * and nesting here too (JsonBody.ts), so no handler ever sees malformed or
 * deep JSON. The test stamp streams its upload through the pipeline, which
 * counts it; only its declared length is checked here.
 */

const KB = 1024
const MB = 1024 * KB

/** sign-in: an email, a password, a token */
export const AUTH_BODY_CAP = 16 * KB
/** JSON CRUD: a directory entry, a user, a sync source, a preview request */
export const JSON_BODY_CAP = 64 * KB
/** a template's HTML and text (each at most MAX_TEMPLATE_BYTES), JSON-escaped */
export const TEMPLATE_BODY_CAP = 2 * MB
/** a rule or the rules order (long address and group lists) */
export const RULES_BODY_CAP = 256 * KB
/** a whole tenant file: templates, rules and its directory */
export const TENANT_BODY_CAP = 10 * MB
/** a batch of tenant files (POST /tenants/import); larger batches: several calls, or the CLI */
export const TENANT_BATCH_BODY_CAP = 64 * MB

const CAPS: Readonly<Record<string, number>> = {
  "auth.login": AUTH_BODY_CAP,
  "auth.verify": AUTH_BODY_CAP,
  "auth.logout": AUTH_BODY_CAP,
  "templates.create": TEMPLATE_BODY_CAP,
  "templates.replace": TEMPLATE_BODY_CAP,
  "templates.update": TEMPLATE_BODY_CAP,
  "rules.create": RULES_BODY_CAP,
  "rules.replace": RULES_BODY_CAP,
  "rules.reorder": RULES_BODY_CAP,
  "tenants.create": TENANT_BODY_CAP,
  "tenants.update": TENANT_BODY_CAP,
  "tenants.import": TENANT_BATCH_BODY_CAP,
  "directory.importJson": MAX_IMPORT_BYTES,
  "directory.importCsv": MAX_IMPORT_BYTES,
  "preview.testStamp": TEST_STAMP_MAX_BYTES
}

/** routes whose handler reads and parses the body itself (raw handlers) */
const RAW = new Set(["directory.importJson", "directory.importCsv"])
/**
 * Routes whose handler streams the body (and counts it). An image upload's
 * handler also checks the declared length itself, against the image and the
 * tenant's remaining space, and answers `413 ImageTooLarge` saying which.
 */
const STREAMED = new Set(["preview.testStamp", "images.create", "images.replace"])
/** routes whose handler answers an over-long declared body itself (it knows a limit this table cannot) */
const OWN_LIMIT = new Set(["images.create", "images.replace"])

/** The body cap of the route a request goes to; an unknown route gets the smallest. */
export const bodyCapOf = (method: string, url: string): number => {
  const route = matchRoute(method, url)
  return route === undefined ? AUTH_BODY_CAP : (CAPS[route.name] ?? JSON_BODY_CAP)
}

/** The 413 body: the import and test stamp routes keep the errors they always answered. */
const tooLargeBody = (routeName: string | undefined, cap: number): unknown => {
  if (routeName === "directory.importJson" || routeName === "directory.importCsv") {
    return Schema.encodeSync(ImportTooLarge)(importTooLarge(`the body is larger than ${cap} bytes`))
  }
  if (routeName === "preview.testStamp") return Schema.encodeSync(UploadTooLarge)(uploadTooLarge())
  return Schema.encodeSync(PayloadTooLarge)(
    new PayloadTooLarge({
      limit: cap,
      message: `the request body is larger than this endpoint takes (${cap} bytes); send less`
    })
  )
}

const tooLargeResponse = (routeName: string | undefined, cap: number) =>
  HttpServerResponse.unsafeJson(tooLargeBody(routeName, cap), { status: 413, headers: { connection: "close" } })

const decodeError = (message: string) =>
  HttpServerResponse.unsafeJson(Schema.encodeSync(HttpApiDecodeError)(new HttpApiDecodeError({ issues: [], message })), { status: 400 })

/** The body, or undefined once it crossed `cap` (then reading stops and the stream is left paused). */
const readCapped = (source: IncomingMessage, cap: number) =>
  Effect.async<Buffer | undefined, Error>((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    const cleanup = () => {
      source.off("data", onData)
      source.off("end", onEnd)
      source.off("error", onError)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > cap) {
        cleanup()
        source.pause()
        resume(Effect.succeed(undefined))
      } else {
        chunks.push(chunk)
      }
    }
    const onEnd = () => {
      cleanup()
      resume(Effect.succeed(Buffer.concat(chunks)))
    }
    const onError = (error: Error) => {
      cleanup()
      resume(Effect.fail(error))
    }
    source.on("data", onData)
    source.once("end", onEnd)
    source.once("error", onError)
    return Effect.sync(cleanup)
  })

/**
 * The request with its body replaced by `body`: every other member (headers,
 * url, the Node objects the server answers through) is the original's,
 * reached through the prototype. The platform's request has no constructor
 * for this; `modify` keeps the original body stream, which was read here.
 */
const withBody = (request: HttpServerRequest.HttpServerRequest, body: Buffer, json: unknown) => {
  const text = body.toString("utf8")
  const buffered = Object.create(request) as HttpServerRequest.HttpServerRequest
  Object.defineProperties(buffered, {
    text: { value: Effect.succeed(text) },
    json: { value: Effect.succeed(json) },
    arrayBuffer: { value: Effect.sync(() => body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength)) },
    urlParamsBody: { value: Effect.sync(() => UrlParams.fromInput(new URLSearchParams(text))) },
    stream: { value: Stream.succeed(new Uint8Array(body)) }
  })
  return buffered
}

const isJson = (request: HttpServerRequest.HttpServerRequest) => {
  const type = request.headers["content-type"]
  // the platform reads a body without a content type as JSON
  return type === undefined || type.toLowerCase().includes("application/json")
}

const hasBody = (method: string) => method !== "GET" && method !== "HEAD" && method !== "OPTIONS"

const limitBody = (app: HttpApp.Default): HttpApp.Default =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (!hasBody(request.method)) return yield* app
    const route = matchRoute(request.method, request.url)
    const cap = route === undefined ? AUTH_BODY_CAP : (CAPS[route.name] ?? JSON_BODY_CAP)
    const declared = Number(request.headers["content-length"] ?? "0")
    if (declared > cap && !(route !== undefined && OWN_LIMIT.has(route.name))) return tooLargeResponse(route?.name, cap)
    if (route === undefined || STREAMED.has(route.name)) return yield* app
    const body = yield* readCapped(NodeHttpServerRequest.toIncomingMessage(request), cap).pipe(Effect.catchAll((e) => Effect.succeed(e)))
    if (body instanceof Error) return decodeError(`the request body could not be read: ${body.message}`)
    if (body === undefined) return tooLargeResponse(route.name, cap)
    let json: unknown = null
    if (!RAW.has(route.name) && isJson(request) && body.length > 0) {
      const checked = checkJsonText(body.toString("utf8"))
      if (checked._tag === "Invalid") return decodeError(checked.message)
      json = checked.value
    }
    return yield* Effect.provideService(app, HttpServerRequest.HttpServerRequest, withBody(request, body, json))
  })

/** The body caps as an API-level middleware (inside the router's error handling). */
export const BodyLimitsLive = HttpApiBuilder.middleware(limitBody)
