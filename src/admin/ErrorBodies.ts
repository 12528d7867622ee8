import { HttpApp, type HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"

/**
 * Every error answer of the admin API has a JSON body. The contract's errors
 * do already; what the router and the server answer on their own (404 for an
 * unknown route, 500 for a defect) comes with an empty body, which is given
 * one here, in a pre-response handler (typed errors become responses after
 * the app's own effect failed).
 */

/** How much of a request's path an error message quotes. */
export const MAX_QUOTED_PATH = 100

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

const fillEmptyErrorBody = (request: HttpServerRequest.HttpServerRequest, response: HttpServerResponse.HttpServerResponse) =>
  Effect.succeed(
    response.status < 400 || response.body._tag !== "Empty"
      ? response
      : HttpServerResponse.unsafeJson(bodyFor(request, response.status), { status: response.status, headers: response.headers })
  )

/** A middleware installing the handler for every request. */
export const withJsonErrorBodies = <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  Effect.zipRight(HttpApp.appendPreResponseHandler(fillEmptyErrorBody), app)
