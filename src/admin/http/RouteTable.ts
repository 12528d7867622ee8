import * as HttpApi from "@effect/platform/HttpApi"
import { Api } from "../Api.js"

/**
 * The admin API's routes as data, read from the contract (`Api`), for what
 * must know the route before the router runs: the body cap (BodyLimits) and
 * the access log's route template. Matching follows the router's rule: at
 * each segment a literal beats a parameter (`/rules/order` is not
 * `/rules/{ruleId}`).
 */

export interface Route {
  readonly method: string
  /** the template as the contract spells it, e.g. `/tenants/:tenantId/templates` */
  readonly path: string
  /** `group.endpoint`, e.g. `templates.create` */
  readonly name: string
  readonly segments: ReadonlyArray<string>
}

const segmentsOf = (path: string): Array<string> => path.split("/").filter((s) => s !== "")

const collect = (): ReadonlyArray<Route> => {
  const routes: Array<Route> = []
  HttpApi.reflect(Api, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, group }) => {
      routes.push({ method: endpoint.method, path: endpoint.path, name: `${group.identifier}.${endpoint.name}`, segments: segmentsOf(endpoint.path) })
    }
  })
  return routes
}

export const ROUTES: ReadonlyArray<Route> = collect()

const isParam = (segment: string) => segment.startsWith(":")

/** a literal before a parameter at the first segment where two candidates differ */
const moreSpecific = (a: Route, b: Route): boolean => {
  for (let i = 0; i < a.segments.length; i++) {
    const pa = isParam(a.segments[i]!)
    const pb = isParam(b.segments[i]!)
    if (pa !== pb) return !pa
  }
  return false
}

/** The route a request goes to, by method and path (query string ignored); undefined when none. */
export const matchRoute = (method: string, url: string): Route | undefined => {
  const query = url.indexOf("?")
  const parts = segmentsOf(query < 0 ? url : url.slice(0, query))
  let best: Route | undefined
  for (const route of ROUTES) {
    if (route.method !== method || route.segments.length !== parts.length) continue
    if (!route.segments.every((s, i) => isParam(s) || s === parts[i])) continue
    if (best === undefined || moreSpecific(route, best)) best = route
  }
  return best
}

/** A path parameter's value (percent-decoded; the raw text when it does not decode). */
export const paramOf = (route: Route, url: string, name: string): string | undefined => {
  const index = route.segments.indexOf(`:${name}`)
  if (index < 0) return undefined
  const query = url.indexOf("?")
  const raw = segmentsOf(query < 0 ? url : url.slice(0, query))[index]
  if (raw === undefined) return undefined
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}
