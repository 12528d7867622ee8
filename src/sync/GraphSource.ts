import { Effect, Option, Stream } from "effect"
import { GRAPH_DEFAULT_MAPPING, mapRecord, mergeMapping, type SourceRecord } from "./AttributeMapping.js"
import { type DirectorySource, type SourceChange, SourceError, type SourcePass, type SourcePhoto } from "./DirectorySource.js"
import { DeltaGone, type GraphClient, GraphNotFound, makeGraphClient, makeTokenCache, MAX_GRAPH_PHOTO_BYTES } from "./GraphClient.js"
import type { GraphSourceSettings } from "../domain/SyncSettings.js"

/**
 * Microsoft Graph users as a DirectorySource. Every pass is a delta query:
 * the first (no cursor) walks /users/delta from the start and lists every
 * user ("full"), following @odata.nextLink, and ends with an
 * @odata.deltaLink that is the next pass's cursor ("delta": only changes,
 * `@removed` entries become RemoveById). A delta link the service forgot
 * (410) falls back to a full pass. Delta entries carry only what changed, so
 * each changed user is read whole before it is mapped.
 */

/** the Graph properties the default mapping reads, plus what identification needs */
export const GRAPH_SELECT = [
  "id",
  "mail",
  "userPrincipalName",
  "displayName",
  "givenName",
  "surname",
  "jobTitle",
  "department",
  "companyName",
  "businessPhones",
  "mobilePhone",
  "faxNumber",
  "officeLocation",
  "streetAddress",
  "city",
  "state",
  "postalCode",
  "country",
  "proxyAddresses",
  "accountEnabled"
] as const
/** users read at once (group lookups, whole reads of delta entries) */
export const GRAPH_FETCH_CONCURRENCY = 8
/** bounds a pass: 100,000 pages of up to 999 users is more than any tenant */
export const MAX_PAGES = 100_000
/** groups read per user (transitiveMemberOf pages) */
export const MAX_GROUP_PAGES = 20

interface Page {
  readonly value: ReadonlyArray<Record<string, unknown>>
  readonly next: string | undefined
  readonly deltaLink: string | undefined
}

const toPage = (json: unknown, source: string, url: string): Effect.Effect<Page, SourceError> => {
  const j = json as { value?: unknown; "@odata.nextLink"?: unknown; "@odata.deltaLink"?: unknown } | null
  if (typeof j !== "object" || j === null || !Array.isArray(j.value)) {
    return Effect.fail(new SourceError({ source, message: `GET ${url}: the answer has no "value" list`, retryable: true }))
  }
  return Effect.succeed({
    value: j.value.filter((v): v is Record<string, unknown> => typeof v === "object" && v !== null),
    next: typeof j["@odata.nextLink"] === "string" ? j["@odata.nextLink"] : undefined,
    deltaLink: typeof j["@odata.deltaLink"] === "string" ? j["@odata.deltaLink"] : undefined
  })
}

/** Graph JSON → the string-valued record AttributeMapping reads (arrays kept, numbers and booleans dropped). */
const toRecord = (user: Record<string, unknown>, memberOf: ReadonlyArray<string> | undefined): SourceRecord => {
  const record: Record<string, string | ReadonlyArray<string>> = {}
  for (const [k, v] of Object.entries(user)) {
    if (typeof v === "string") record[k] = v
    else if (Array.isArray(v)) record[k] = v.filter((x): x is string => typeof x === "string")
  }
  if (memberOf !== undefined) record.memberOf = memberOf
  return record
}

export const makeGraphSource = (settings: GraphSourceSettings): DirectorySource => {
  const name = `graph:${settings.name}`
  const base = settings.graphBaseUrl.replace(/\/+$/, "")
  const select = `$select=${GRAPH_SELECT.join(",")}`
  const fullUrl = `${base}/users/delta?${select}`
  const mapping = mergeMapping(GRAPH_DEFAULT_MAPPING, settings.mapping)
  const wantGroups = settings.includeGroups || settings.groupFilter !== undefined
  const tokens = makeTokenCache()
  const sourceError = (message: string, retryable: boolean) => new SourceError({ source: name, message, retryable })

  const pass = (cursor: Option.Option<string>) =>
    Effect.gen(function* () {
      const client: GraphClient = yield* makeGraphClient(
        {
          source: name,
          tokenUrl: settings.tokenUrl,
          clientId: settings.clientId,
          clientSecret: settings.clientSecret,
          caCertPem: settings.caCertPem
        },
        tokens
      )
      const getJson = client.getJson
      const asSourceError = <A>(e: Effect.Effect<A, SourceError | DeltaGone | GraphNotFound>, url: string) =>
        Effect.catchIf(
          e,
          (x): x is DeltaGone | GraphNotFound => x._tag !== "SourceError",
          (x) => Effect.fail(sourceError(x._tag === "DeltaGone" ? `GET ${url}: the service says to start over (410)` : `GET ${url}: not found (404)`, false))
        )
      const page = (url: string) => asSourceError(getJson(url), url).pipe(Effect.flatMap((json) => toPage(json, name, url)))

      // the first page decides the mode: an expired delta link means a full pass
      let mode: SourcePass["mode"] = Option.isSome(cursor) ? "delta" : "full"
      let first: Page
      if (Option.isSome(cursor)) {
        const gone = yield* getJson(cursor.value).pipe(
          Effect.flatMap((json) => toPage(json, name, "the delta link")),
          Effect.map((p) => Option.some(p)),
          Effect.catchTag("DeltaGone", () => Effect.succeed(Option.none<Page>())),
          Effect.catchTag("GraphNotFound", () => Effect.fail(sourceError("the delta link answered 404", false)))
        )
        if (Option.isSome(gone)) first = gone.value
        else {
          yield* Effect.logWarning("Graph no longer knows the delta link; running a full pass").pipe(Effect.annotateLogs({ source: name }))
          mode = "full"
          first = yield* page(fullUrl)
        }
      } else first = yield* page(fullUrl)

      const groupsOf = Effect.fn("GraphSource.groupsOf")(function* (id: string) {
        const names: Array<string> = []
        const ids: Array<string> = []
        let url: string | undefined = `${base}/users/${encodeURIComponent(id)}/transitiveMemberOf?$select=id,displayName`
        for (let pages = 0; url !== undefined; pages++) {
          if (pages >= MAX_GROUP_PAGES) return yield* sourceError(`user ${id} has more than ${MAX_GROUP_PAGES} pages of groups`, false)
          const p: Page = yield* page(url)
          for (const g of p.value) {
            if (typeof g.id === "string") ids.push(g.id)
            if (typeof g.displayName === "string") names.push(g.displayName)
            else if (typeof g.id === "string") names.push(g.id)
          }
          url = p.next
        }
        return { names, ids }
      })

      /**
       * The user's photo: its metadata names the version (`@odata.mediaEtag`);
       * the bytes ($value) are read only when the sync finds that version new.
       * 404: the user has no photo (or no mailbox to keep one in).
       */
      const photoOf = (id: string): Effect.Effect<SourcePhoto | undefined, SourceError> => {
        const url = `${base}/users/${encodeURIComponent(id)}/photo`
        return getJson(url).pipe(
          Effect.map((meta): SourcePhoto | undefined => {
            const etag = (meta as Record<string, unknown> | null)?.["@odata.mediaEtag"]
            return {
              ...(typeof etag === "string" && etag !== "" ? { tag: `graph:${etag}` } : {}),
              bytes: client.getBytes(`${url}/$value`, MAX_GRAPH_PHOTO_BYTES).pipe(
                Effect.map((b): Uint8Array | undefined => b),
                Effect.catchTag("GraphNotFound", () => Effect.succeed(undefined)),
                Effect.catchTag("DeltaGone", () => Effect.fail(sourceError(`GET ${url}/$value: 410`, true)))
              )
            }
          }),
          Effect.catchTag("GraphNotFound", () => Effect.succeed(undefined)),
          Effect.catchTag("DeltaGone", () => Effect.fail(sourceError(`GET ${url}: 410`, true))),
          // refused for this user's photo (403, 400): the user still syncs, keeping the cached photo, and the sync logs why
          Effect.catchIf(
            (e): e is SourceError => e._tag === "SourceError" && !e.retryable,
            (e) => Effect.succeed<SourcePhoto>({ bytes: Effect.fail(e) })
          )
        )
      }

      /** One entry of a delta page → its change, or nothing (a full pass skips users outside the group filter). */
      const toChange = (entry: Record<string, unknown>): Effect.Effect<ReadonlyArray<SourceChange>, SourceError> =>
        Effect.gen(function* () {
          const id = typeof entry.id === "string" ? entry.id : undefined
          if (id === undefined) return [{ _tag: "Rejected", ref: "graph:(no id)", reason: "a Graph user without an id" }]
          if (entry["@removed"] !== undefined) return [{ _tag: "RemoveById", sourceId: id }]
          // a delta entry carries only the changed properties: read the user whole
          let user = entry
          if (mode === "delta") {
            const url = `${base}/users/${encodeURIComponent(id)}?${select}`
            const whole = yield* getJson(url).pipe(
              Effect.map((u) => Option.some(u as Record<string, unknown>)),
              Effect.catchTag("GraphNotFound", () => Effect.succeed(Option.none<Record<string, unknown>>())),
              Effect.catchTag("DeltaGone", () => Effect.fail(sourceError(`GET ${url}: 410`, false)))
            )
            if (Option.isNone(whole)) return [{ _tag: "RemoveById", sourceId: id }]
            user = whole.value
          }
          if (user.accountEnabled === false) return mode === "delta" ? [{ _tag: "RemoveById", sourceId: id }] : []
          const groups = wantGroups ? yield* groupsOf(id) : undefined
          if (
            settings.groupFilter !== undefined &&
            groups !== undefined &&
            !groups.ids.includes(settings.groupFilter) &&
            !groups.names.includes(settings.groupFilter)
          ) {
            return mode === "delta" ? [{ _tag: "RemoveById", sourceId: id }] : []
          }
          const change = mapRecord(toRecord(user, settings.includeGroups ? groups?.names : undefined), mapping, `graph:${id}`)
          if (change._tag !== "Upsert") return [change]
          const photo = settings.photos ? yield* photoOf(id) : undefined
          return [{ ...change, sourceId: id, ...(photo !== undefined ? { photo } : {}) }]
        })

      let deltaLink: string | undefined
      let pages = 0
      const pageStream = Stream.paginateEffect(first as Page | string, (state) =>
        Effect.gen(function* () {
          const current = typeof state === "string" ? yield* page(state) : state
          if (++pages > MAX_PAGES) return yield* sourceError(`more than ${MAX_PAGES} pages; stopping`, false)
          if (current.deltaLink !== undefined) deltaLink = current.deltaLink
          return [current, current.next === undefined ? Option.none<string>() : Option.some(current.next)] as const
        })
      )
      const needsReads = mode === "delta" || wantGroups || settings.photos
      // a page at a time: per-element stream stages cost more than mapping the user
      const changes = pageStream.pipe(
        Stream.mapEffect((p) => Effect.forEach(p.value, toChange, { concurrency: needsReads ? GRAPH_FETCH_CONCURRENCY : 1 })),
        Stream.mapConcat((cs) => cs.flat())
      )
      return {
        mode,
        changes,
        nextCursor: Effect.sync(() => Option.fromNullable(deltaLink))
      } satisfies SourcePass
    })

  return { kind: "graph", name, pass }
}
