import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import { Cause, Effect, Exit, FiberRef } from "effect"
import type { Principal } from "./Principal.js"
import { matchRoute, paramOf } from "./RouteTable.js"

/**
 * The admin API's access log: one JSON line per request, written after the
 * answer went out, through the process's logger (src/LogOutput.ts):
 * `admin request` with method, route template (never the path itself: paths
 * hold emails and ids), status, durationMs, principal kind and tenant. No
 * body, header, query string or token is ever read into it. An answer of 500
 * or more is logged at error level with its cause: the typed error or defect
 * the handler failed with (recorded on its way to the error encoder), else
 * what the server itself failed with.
 */

export type PrincipalKind = "operator" | "session" | "apiToken" | "none"

interface AccessRecord {
  principal: PrincipalKind
  tenant: string | undefined
  cause: Cause.Cause<unknown> | undefined
}

/** The current request's record; undefined outside a request. */
const CurrentAccessRecord = FiberRef.unsafeMake<AccessRecord | undefined>(undefined)

/** Called by AdminAuth when it resolved the bearer. */
export const notePrincipal = (principal: Principal) =>
  Effect.map(FiberRef.get(CurrentAccessRecord), (record) => {
    if (record === undefined) return
    record.principal = principal._tag === "Operator" ? "operator" : principal.via
    record.tenant ??= principal._tag === "TenantMember" ? principal.tenantId : undefined
  })

/** HTTP status for a request the client gave up on before its answer (nginx's convention). */
const CLIENT_CLOSED = 499

/** The serve-level middleware: outermost, so the answer has been written when it logs. */
export const accessLog = (app: HttpApp.Default): HttpApp.Default =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const started = performance.now()
    const route = matchRoute(request.method, request.url)
    const record: AccessRecord = {
      principal: "none",
      tenant: route === undefined ? undefined : paramOf(route, request.url, "tenantId"),
      cause: undefined
    }
    const exit = yield* Effect.exit(Effect.locally(app, CurrentAccessRecord, record))
    const node = NodeHttpServerRequest.toServerResponse(request)
    const status = Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause) ? CLIENT_CLOSED : node.statusCode
    const annotations = {
      method: request.method,
      route: route?.path ?? "(no route)",
      status,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      principal: record.principal,
      ...(record.tenant !== undefined ? { tenant: record.tenant } : {})
    }
    const cause = record.cause ?? (Exit.isFailure(exit) ? exit.cause : undefined)
    yield* (status >= 500 ? Effect.logError("admin request failed", cause ?? "no cause recorded") : Effect.logInfo("admin request")).pipe(
      Effect.annotateLogs(annotations)
    )
    return yield* exit
  })

/** Inside the router's error handling: keeps the cause a handler failed with, before it becomes an answer. */
const recordFailure = (app: HttpApp.Default): HttpApp.Default =>
  Effect.tapErrorCause(app, (cause) =>
    Effect.map(FiberRef.get(CurrentAccessRecord), (record) => {
      if (record !== undefined) record.cause = cause
    })
  )

export const AccessLogFailuresLive = HttpApiBuilder.middleware(recordFailure)
