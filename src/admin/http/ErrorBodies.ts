import * as HttpApp from "@effect/platform/HttpApp"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"

/**
 * Every error answer of the admin API has a short JSON body. The contract's
 * errors have one already; what the router and the server answer on their
 * own (404 for an unknown route, 500 for a defect) comes with an empty body,
 * which is given one here. No error echoes a long value back: every
 * string of an error body is shortened (shortenMessage). A 429 gets its
 * `Retry-After` header from the body's retryAfterSeconds. Both happen in a
 * pre-response handler, the one place every answer passes (typed errors
 * become responses after the app's own effect failed).
 */

/** How much of a request's path an error message quotes. */
export const MAX_QUOTED_PATH = 100
/** How many characters of a quoted value an error message keeps. */
export const MAX_QUOTED_VALUE = 64
/** The longest string an error body carries, and the longest line in it. */
export const MAX_ERROR_STRING = 1_000
export const MAX_ERROR_LINE = 240

/** Where the quote opened at `start` closes (past a backslash-escaped quote), or the end of the text. */
const closingQuote = (text: string, start: number): number => {
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x5c) i++
    else if (c === 0x22) return i
  }
  return text.length
}

const LONG_WORD = new RegExp(`\\S{${MAX_QUOTED_VALUE + 1},}`, "g")

/** unquoted text: a word (no white space) longer than MAX_QUOTED_VALUE is a value too */
const shortenWords = (text: string) => text.replace(LONG_WORD, (word) => `${word.slice(0, MAX_QUOTED_VALUE)}… (${word.length} characters)`)

/**
 * Each double-quoted value in `message`, and each unquoted word, longer than
 * MAX_QUOTED_VALUE cut to that prefix, with its length; then each line and
 * the whole elided in the middle to MAX_ERROR_LINE and MAX_ERROR_STRING. Schema's messages quote the offending value whole
 * (`actual "…"`), and a value can be as long as the body cap allows.
 */
export const shortenMessage = (message: string): string => {
  const parts: Array<string> = []
  let from = 0
  for (let open = message.indexOf('"'); open >= 0 && open < message.length; open = message.indexOf('"', from)) {
    const close = closingQuote(message, open)
    const length = close - open - 1
    parts.push(shortenWords(message.slice(from, open)))
    parts.push(length > MAX_QUOTED_VALUE ? `${message.slice(open, open + 1 + MAX_QUOTED_VALUE)}…" (${length} characters)` : message.slice(open, close + 1))
    from = close + 1
  }
  parts.push(shortenWords(message.slice(from)))
  const short = parts
    .join("")
    .split("\n")
    .map((line) => elide(line, MAX_ERROR_LINE))
    .join("\n")
  return elide(short, MAX_ERROR_STRING)
}

/**
 * The start and the end of a text longer than `max`, with how much is left
 * out: a Schema error tree names the type first and the problem last, so the
 * end is the part to keep.
 */
const elide = (text: string, max: number): string => {
  if (text.length <= max) return text
  const head = Math.floor(max * 0.3)
  return `${text.slice(0, head)} …(${text.length - max} characters)… ${text.slice(text.length - (max - head))}`
}

/** Every string in an error body shortened; undefined when nothing changed. */
const shortenStrings = (value: unknown): unknown => {
  if (typeof value === "string") return shortenMessage(value)
  if (Array.isArray(value)) return value.map(shortenStrings)
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shortenStrings(v)]))
  }
  return value
}

const LONG_ERROR_BODY = MAX_QUOTED_VALUE * 2

const jsonBodyOf = (response: HttpServerResponse.HttpServerResponse): unknown => {
  const body = response.body
  if (body._tag !== "Uint8Array" || !body.contentType.includes("json")) return undefined
  try {
    return JSON.parse(new TextDecoder().decode(body.body))
  } catch {
    return undefined
  }
}

const shortenErrorBody = (response: HttpServerResponse.HttpServerResponse): HttpServerResponse.HttpServerResponse => {
  if (response.body._tag !== "Uint8Array" || response.body.body.length <= LONG_ERROR_BODY) return response
  const parsed = jsonBodyOf(response)
  return parsed === undefined ? response : HttpServerResponse.unsafeJson(shortenStrings(parsed), { status: response.status, headers: response.headers })
}

/** A 429's `retryAfterSeconds` (TooManyAttempts) also as the standard header (RFC 9110 §10.2.3). */
const withRetryAfter = (response: HttpServerResponse.HttpServerResponse): HttpServerResponse.HttpServerResponse => {
  if (response.status !== 429) return response
  const body = jsonBodyOf(response) as { retryAfterSeconds?: unknown } | undefined
  const seconds = body?.retryAfterSeconds
  return typeof seconds === "number" && Number.isInteger(seconds) && seconds >= 0
    ? HttpServerResponse.setHeader(response, "retry-after", String(seconds))
    : response
}

const quotedPath = (url: string) => {
  const query = url.indexOf("?")
  const path = query < 0 ? url : url.slice(0, query)
  return path.length > MAX_QUOTED_PATH ? `${path.slice(0, MAX_QUOTED_PATH)}… (${path.length} characters)` : path
}

const bodyFor = (request: HttpServerRequest.HttpServerRequest, status: number) =>
  status === 404
    ? { _tag: "RouteNotFound", message: `no endpoint ${request.method} ${quotedPath(request.url)}; the endpoints are listed at GET /openapi.json` }
    : status >= 500
      ? { _tag: "InternalError", message: "the server failed to answer this request; its cause is in the server's log" }
      : { _tag: "HttpError", message: `the request could not be served (HTTP ${status})` }

const errorBody = (request: HttpServerRequest.HttpServerRequest, response: HttpServerResponse.HttpServerResponse) =>
  Effect.sync(() =>
    response.status < 400
      ? response
      : response.body._tag === "Empty"
        ? HttpServerResponse.unsafeJson(bodyFor(request, response.status), { status: response.status, headers: response.headers })
        : withRetryAfter(shortenErrorBody(response))
  )

/** A middleware installing the handler for every request. */
export const withJsonErrorBodies = <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  Effect.zipRight(HttpApp.appendPreResponseHandler(errorBody), app)
