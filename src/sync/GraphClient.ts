import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Clock, Duration, Effect, type Scope, Stream } from "effect"
import { rootCertificates } from "node:tls"
import { SourceError } from "./DirectorySource.js"

/**
 * Microsoft Graph over HTTPS for one source: the OAuth 2.0 client credentials
 * token (cached until shortly before it expires, fetched again on a 401),
 * throttling (429/503 with Retry-After, a bounded number of times), and errors
 * turned into SourceErrors that say what to fix. GraphSource reads users
 * through it; it knows nothing about users.
 */

export const GRAPH_SCOPE = "https://graph.microsoft.com/.default"
/** retries of one request answered 429 or 503 */
export const MAX_THROTTLE_RETRIES = 6
/** Retry-After absent or unreadable */
export const DEFAULT_RETRY_AFTER = Duration.seconds(5)
/** a Retry-After longer than this is cut to it, so a pass cannot hang for hours */
export const MAX_RETRY_AFTER = Duration.minutes(2)
/** a token is fetched again this long before its stated expiry (clock skew, request time) */
export const TOKEN_EXPIRY_SKEW = Duration.seconds(60)
export const REQUEST_TIMEOUT = Duration.seconds(60)
/** a photo's bytes are read up to this many; a larger answer is refused while it streams */
export const MAX_GRAPH_PHOTO_BYTES = 4 * 1024 * 1024

export interface GraphClientOptions {
  /** for messages: "graph:contoso" */
  readonly source: string
  readonly tokenUrl: string
  readonly clientId: string
  readonly clientSecret: string
  readonly caCertPem?: string | undefined
}

/** A delta link the service no longer knows (410 Gone, or a resync error code): the caller starts a full pass. */
export class DeltaGone {
  readonly _tag = "DeltaGone"
}

/** 404: the object is gone (a user deleted between the delta page and its read). */
export class GraphNotFound {
  readonly _tag = "GraphNotFound"
}

/** The token cache outlives a pass (one per source), so a delta pass minutes later reuses a valid token. */
export interface TokenCache {
  token: { readonly value: string; readonly expiresAt: number } | undefined
}
export const makeTokenCache = (): TokenCache => ({ token: undefined })

const RESYNC_CODES = new Set(["syncStateNotFound", "syncStateInvalid", "resyncRequired", "resyncChangesApplyDifferencesReplaceAllFromServer"])

/**
 * An HttpClient trusting the system's CAs plus `caCertPem`, living as long as the current scope (its agent is
 * destroyed when the scope closes). Made per sync pass from the source's own settings (a tenant's CA), so it
 * cannot be a Layer of the composition root; it is a scoped value, not a Layer built at run time.
 */
export const makeHttpClient = (caCertPem: string | undefined): Effect.Effect<HttpClient.HttpClient, never, Scope.Scope> =>
  NodeHttpClient.make.pipe(
    Effect.provideServiceEffect(
      NodeHttpClient.HttpAgent,
      NodeHttpClient.makeAgent({
        keepAlive: true,
        ...(caCertPem === undefined ? {} : { ca: [...rootCertificates, caCertPem] })
      })
    )
  )

/** Seconds or an HTTP date (RFC 9110), bounded by MAX_RETRY_AFTER. */
export const retryAfter = (header: string | undefined, now: number): Duration.Duration => {
  if (header === undefined) return DEFAULT_RETRY_AFTER
  const seconds = /^\d+$/.test(header.trim()) ? Number(header.trim()) * 1000 : Date.parse(header) - now
  if (!Number.isFinite(seconds)) return DEFAULT_RETRY_AFTER
  return Duration.min(Duration.millis(Math.max(0, seconds)), MAX_RETRY_AFTER)
}

/** Graph's error body: { error: { code, message } }; the token endpoint's: { error, error_description }. */
const describeError = (body: string): { code?: string; message: string } => {
  try {
    const json = JSON.parse(body) as { error?: { code?: string; message?: string } | string; error_description?: string }
    if (typeof json.error === "object" && json.error !== null)
      return { code: json.error.code, message: `${json.error.code ?? "error"}: ${json.error.message ?? ""}`.trim() }
    if (typeof json.error === "string") return { code: json.error, message: `${json.error}: ${(json.error_description ?? "").split("\n")[0]}` }
  } catch {
    // not JSON: the start of the text is the best description there is
  }
  return { message: body.slice(0, 200) }
}

export const makeGraphClient = (options: GraphClientOptions, cache: TokenCache) =>
  Effect.gen(function* () {
    const http = yield* makeHttpClient(options.caCertPem)
    const fail = (message: string, retryable: boolean) => new SourceError({ source: options.source, message, retryable })

    const send = (request: HttpClientRequest.HttpClientRequest, what: string) =>
      http.execute(request).pipe(
        Effect.timeoutFail({ duration: REQUEST_TIMEOUT, onTimeout: () => fail(`${what}: no answer within ${Duration.format(REQUEST_TIMEOUT)}`, true) }),
        Effect.catchTag("RequestError", "ResponseError", (e) => Effect.fail(fail(`${what}: ${e.message}`, true)))
      )
    const text = (response: HttpClientResponse.HttpClientResponse) => response.text.pipe(Effect.orElseSucceed(() => ""))

    const fetchToken = Effect.gen(function* () {
      const request = HttpClientRequest.post(options.tokenUrl).pipe(
        HttpClientRequest.acceptJson,
        HttpClientRequest.bodyUrlParams({
          grant_type: "client_credentials",
          client_id: options.clientId,
          client_secret: options.clientSecret,
          scope: GRAPH_SCOPE
        })
      )
      const response = yield* send(request, `token request to ${options.tokenUrl}`)
      const body = yield* text(response)
      if (response.status !== 200) {
        const { message } = describeError(body)
        return yield* fail(
          response.status >= 500
            ? `the token endpoint answered ${response.status}: ${message}`
            : `the token endpoint refused the client credentials (${response.status} ${message}); check tokenUrl, clientId and clientSecret`,
          response.status >= 500
        )
      }
      const json = yield* Effect.try({
        try: () => JSON.parse(body) as { access_token?: unknown; expires_in?: unknown },
        catch: () => fail("the token endpoint's answer is not JSON", true)
      })
      if (typeof json.access_token !== "string") return yield* fail("the token endpoint's answer has no access_token", false)
      const expiresIn = typeof json.expires_in === "number" ? json.expires_in : Number(json.expires_in ?? 3600)
      const now = yield* Clock.currentTimeMillis
      cache.token = { value: json.access_token, expiresAt: now + expiresIn * 1000 - Duration.toMillis(TOKEN_EXPIRY_SKEW) }
      return json.access_token
    })

    const accessToken = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      return cache.token !== undefined && cache.token.expiresAt > now ? cache.token.value : yield* fetchToken
    })

    /** The body of a 200, refused past `max` bytes as it arrives (a Content-Length over it is refused before reading). */
    const bytes = (response: HttpClientResponse.HttpClientResponse, url: string, max: number) =>
      Effect.gen(function* () {
        const declared = Number(response.headers["content-length"] ?? "0")
        const tooLarge = (n: number) => fail(`GET ${url}: the answer is ${n} bytes or more; at most ${max} are read`, false)
        if (declared > max) return yield* tooLarge(declared)
        const chunks: Array<Uint8Array> = []
        let size = 0
        yield* Stream.runForEach(response.stream, (chunk) => {
          size += chunk.length
          if (size > max) return Effect.fail(tooLarge(size))
          chunks.push(chunk)
          return Effect.void
        }).pipe(Effect.catchTag("ResponseError", (e) => Effect.fail(fail(`GET ${url}: ${e.message}`, true))))
        return Buffer.concat(chunks)
      })

    /** GET a Graph URL as JSON; DeltaGone when a delta link expired. */
    const getJson = (url: string) =>
      get(url, "application/json", (response) =>
        Effect.gen(function* () {
          const body = yield* text(response)
          return yield* Effect.try({ try: () => JSON.parse(body) as unknown, catch: () => fail(`GET ${url}: the answer is not JSON`, true) })
        })
      )

    /** GET a Graph URL's bytes (a photo's $value), at most `max` of them. */
    const getBytes = (url: string, max: number) => get(url, "image/*", (response) => bytes(response, url, max))

    const get = <A>(
      url: string,
      accept: string,
      read: (response: HttpClientResponse.HttpClientResponse) => Effect.Effect<A, SourceError>
    ): Effect.Effect<A, SourceError | DeltaGone | GraphNotFound> => {
      const attempt = (throttleRetries: number, refreshed: boolean): Effect.Effect<A, SourceError | DeltaGone | GraphNotFound> =>
        Effect.gen(function* () {
          const token = yield* accessToken
          const response = yield* send(
            HttpClientRequest.get(url).pipe(HttpClientRequest.setHeader("accept", accept), HttpClientRequest.bearerToken(token)),
            `GET ${url}`
          )
          if (response.status === 200) return yield* read(response)
          const body = yield* text(response)
          const error = describeError(body)
          if (response.status === 401 && !refreshed) {
            // expired or revoked before our estimate: one fresh token, then give up
            cache.token = undefined
            return yield* attempt(throttleRetries, true)
          }
          if (response.status === 429 || response.status === 503) {
            if (throttleRetries >= MAX_THROTTLE_RETRIES) {
              return yield* fail(`Graph kept throttling (${response.status}) after ${MAX_THROTTLE_RETRIES} retries; the next pass tries again`, true)
            }
            const wait = retryAfter(response.headers["retry-after"], yield* Clock.currentTimeMillis)
            yield* Effect.logInfo(`Graph answered ${response.status}; retrying after ${Duration.format(wait)}`).pipe(
              Effect.annotateLogs({ source: options.source })
            )
            yield* Effect.sleep(wait)
            return yield* attempt(throttleRetries + 1, refreshed)
          }
          if (response.status === 410 || (error.code !== undefined && RESYNC_CODES.has(error.code))) return yield* Effect.fail(new DeltaGone())
          if (response.status === 404) return yield* Effect.fail(new GraphNotFound())
          if (response.status === 401 || response.status === 403) {
            return yield* fail(
              `Graph refused access (${response.status} ${error.message}); the app registration needs the User.Read.All (and GroupMember.Read.All for groups) application permission with admin consent`,
              false
            )
          }
          return yield* fail(`GET ${url} answered ${response.status}: ${error.message}`, response.status >= 500)
        })
      return attempt(0, false)
    }

    return { getJson, getBytes } as const
  })

export type GraphClient = Effect.Effect.Success<ReturnType<typeof makeGraphClient>>
