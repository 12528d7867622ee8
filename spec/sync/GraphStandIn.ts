/**
 * A Microsoft Graph stand-in for the sync specs and perf/SyncBench: HTTPS on
 * 127.0.0.1 (port 0) answering Graph-shaped JSON — the client credentials
 * token endpoint (tokens expire on demand: 401 InvalidAuthenticationToken),
 * /users/delta with paging (@odata.nextLink), a deltaLink, changes and
 * `@removed` entries on the next delta (carrying only what changed, as Graph
 * does), /users/{id}, /users/{id}/transitiveMemberOf, and injected faults
 * (429/503 with Retry-After, 410 for forgotten delta links, a down service),
 * and profile photos: /users/{id}/photo (metadata with @odata.mediaEtag, 404
 * without one) and /users/{id}/photo/$value (the bytes).
 */
import * as https from "node:https"
import type { AddressInfo } from "node:net"

export interface GraphUser {
  readonly id: string
  readonly [key: string]: unknown
}

export interface Fault {
  readonly status: number
  readonly retryAfter?: string
}

export interface StandInOptions {
  readonly key: string
  readonly cert: string
  readonly clientId?: string
  readonly clientSecret?: string
  readonly pageSize?: number
  readonly tokenLifetimeSeconds?: number
}

export const CLIENT_ID = "standin-client"
export const CLIENT_SECRET = "standin-secret-Qx7!"

export class GraphStandIn {
  readonly users = new Map<string, GraphUser>()
  readonly groups = new Map<string, ReadonlyArray<{ id: string; displayName: string }>>()
  /** profile photos by user id; a new etag per setPhoto, as Graph gives a new mediaEtag per upload */
  readonly photos = new Map<string, { readonly etag: string; readonly bytes: Buffer }>()
  private photoSeq = 0
  /** user ids whose photo answers 403 (a mailbox policy, a missing permission) */
  readonly photoForbidden = new Set<string>()
  /** change log: version n is changes[n - 1] */
  private readonly changes: Array<{ id: string; removed: boolean; changed: ReadonlyArray<string> }> = []
  /** delta links carry this; forgetting them all is a new generation */
  private generation = 0
  private readonly validTokens = new Set<string>()
  private tokenSeq = 0
  private faults: Array<Fault> = []
  down = false
  /** requests still answered before the service goes down (undefined: no countdown) */
  private answersLeft: number | undefined
  pageSize: number
  /** counters the specs read */
  readonly counts = {
    connections: 0,
    token: 0,
    deltaPages: 0,
    userReads: 0,
    groupReads: 0,
    throttled: 0,
    unauthorized: 0,
    gone: 0,
    photoMeta: 0,
    photoValue: 0
  }
  private server!: https.Server
  url = ""

  constructor(private readonly options: StandInOptions) {
    this.pageSize = options.pageSize ?? 100
  }

  /** the certificate a client trusts as its CA */
  get caCert() {
    return this.options.cert
  }
  get base() {
    return `${this.url}/v1.0`
  }
  get tokenUrl() {
    return `${this.url}/tenant-x/oauth2/v2.0/token`
  }

  async start(): Promise<this> {
    this.server = https.createServer({ key: this.options.key, cert: this.options.cert }, (req, res) => {
      let body = ""
      req.on("data", (c: Buffer) => (body += c.toString("utf8")))
      req.on("end", () => this.handle(req, body, res))
    })
    this.server.on("secureConnection", (socket) => {
      this.counts.connections++
      socket.setNoDelay(true)
    })
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve))
    this.url = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`
    return this
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  // ---- directory changes ------------------------------------------------------------
  put(user: GraphUser): void {
    const before = this.users.get(user.id)
    this.users.set(user.id, user)
    const changed = Object.keys(user).filter((k) => k !== "id" && JSON.stringify(before?.[k]) !== JSON.stringify(user[k]))
    this.changes.push({ id: user.id, removed: false, changed })
  }
  /** uploads (or, with undefined, deletes) a user's photo; Graph's delta does not report photo changes */
  setPhoto(id: string, bytes: Buffer | undefined): void {
    if (bytes === undefined) this.photos.delete(id)
    else this.photos.set(id, { etag: `W/"photo-${++this.photoSeq}"`, bytes })
  }
  remove(id: string): void {
    this.users.delete(id)
    this.changes.push({ id, removed: true, changed: [] })
  }
  /** every delta link issued so far answers 410 */
  forgetDeltaLinks(): void {
    this.generation++
  }
  /** every token issued so far answers 401 InvalidAuthenticationToken */
  expireTokens(): void {
    this.validTokens.clear()
  }
  /** the service answers `requests` more Graph requests, then is down (500) until `down = false` */
  breakAfter(requests: number): void {
    this.answersLeft = requests
  }
  /** the next Graph requests (not the token endpoint) answer these, one each */
  inject(...faults: ReadonlyArray<Fault>): void {
    this.faults.push(...faults)
  }

  // ---- HTTP ---------------------------------------------------------------------------
  private json(res: import("node:http").ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}) {
    res.writeHead(status, { "content-type": "application/json", ...headers })
    res.end(JSON.stringify(value))
  }
  private error(res: import("node:http").ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}) {
    this.json(res, status, { error: { code, message } }, headers)
  }

  private handle(req: import("node:http").IncomingMessage, body: string, res: import("node:http").ServerResponse) {
    const url = new URL(req.url ?? "/", this.url)
    if (req.method === "POST" && url.pathname === "/tenant-x/oauth2/v2.0/token") return this.token(body, res)
    if (this.answersLeft !== undefined && this.answersLeft-- <= 0) {
      this.answersLeft = undefined
      this.down = true
    }
    if (this.down) return this.error(res, 500, "InternalServerError", "the stand-in is down")
    const auth = req.headers.authorization ?? ""
    if (!auth.startsWith("Bearer ") || !this.validTokens.has(auth.slice(7))) {
      this.counts.unauthorized++
      return this.error(res, 401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
    }
    const fault = this.faults.shift()
    if (fault !== undefined) {
      if (fault.status === 429 || fault.status === 503) this.counts.throttled++
      return this.error(
        res,
        fault.status,
        fault.status === 429 ? "TooManyRequests" : "ServiceUnavailable",
        "injected",
        fault.retryAfter === undefined ? {} : { "retry-after": fault.retryAfter }
      )
    }
    const path = url.pathname.replace(/^\/v1\.0/, "")
    if (path === "/users/delta") return this.delta(url, res)
    const member = /^\/users\/([^/]+)\/transitiveMemberOf$/.exec(path)
    if (member) {
      this.counts.groupReads++
      return this.json(res, 200, {
        value: (this.groups.get(decodeURIComponent(member[1])) ?? []).map((g) => ({ "@odata.type": "#microsoft.graph.group", ...g }))
      })
    }
    const photo = /^\/users\/([^/]+)\/photo(\/\$value)?$/.exec(path)
    if (photo) {
      const stored = this.photos.get(decodeURIComponent(photo[1]))
      if (photo[2] === undefined) this.counts.photoMeta++
      else this.counts.photoValue++
      if (this.photoForbidden.has(decodeURIComponent(photo[1]))) return this.error(res, 403, "ErrorAccessDenied", "Access is denied.")
      if (stored === undefined) return this.error(res, 404, "ImageNotFound", "The photo wasn't found.")
      if (photo[2] === undefined) {
        return this.json(res, 200, {
          "@odata.context": `${this.base}/$metadata#users('x')/photo/$entity`,
          "@odata.mediaContentType": "image/jpeg",
          "@odata.mediaEtag": stored.etag,
          id: "96X96",
          width: 96,
          height: 96
        })
      }
      res.writeHead(200, { "content-type": "image/jpeg", "content-length": String(stored.bytes.length) })
      return res.end(stored.bytes)
    }
    const one = /^\/users\/([^/]+)$/.exec(path)
    if (one) {
      this.counts.userReads++
      const user = this.users.get(decodeURIComponent(one[1]))
      return user === undefined ? this.error(res, 404, "Request_ResourceNotFound", "no such user") : this.json(res, 200, user)
    }
    return this.error(res, 400, "BadRequest", `unknown path ${url.pathname}`)
  }

  private token(body: string, res: import("node:http").ServerResponse) {
    const form = new URLSearchParams(body)
    if (form.get("grant_type") !== "client_credentials" || form.get("scope") !== "https://graph.microsoft.com/.default") {
      return this.json(res, 400, { error: "invalid_request", error_description: "AADSTS900144: bad grant or scope" })
    }
    if (form.get("client_id") !== (this.options.clientId ?? CLIENT_ID) || form.get("client_secret") !== (this.options.clientSecret ?? CLIENT_SECRET)) {
      return this.json(res, 401, { error: "invalid_client", error_description: "AADSTS7000215: Invalid client secret provided." })
    }
    this.counts.token++
    const token = `standin-token-${++this.tokenSeq}`
    this.validTokens.add(token)
    this.json(res, 200, { token_type: "Bearer", expires_in: this.options.tokenLifetimeSeconds ?? 3599, access_token: token })
  }

  private delta(url: URL, res: import("node:http").ServerResponse) {
    this.counts.deltaPages++
    const skip = url.searchParams.get("$skiptoken")
    const deltaToken = url.searchParams.get("$deltatoken")
    let entries: Array<Record<string, unknown>>
    let offset = 0
    let version = this.changes.length
    if (skip !== null) {
      // a page token carries the listing it continues: "full|<since>|<version>|<offset>"
      const [kind, since, v, o] = skip.split("|")
      version = Number(v)
      offset = Number(o)
      entries = kind === "full" ? this.snapshot() : this.since(Number(since), version)
      return this.page(res, entries, offset, skip.split("|").slice(0, 3).join("|"), version)
    }
    if (deltaToken !== null) {
      const [gen, sinceText] = deltaToken.split(".")
      const since = Number(sinceText)
      if (Number(gen) !== this.generation) {
        this.counts.gone++
        return this.error(res, 410, "syncStateNotFound", "The sync state is no longer valid; start over.")
      }
      entries = this.since(since, version)
      return this.page(res, entries, 0, `delta|${since}|${version}`, version)
    }
    return this.page(res, this.snapshot(), offset, `full|0|${version}`, version)
  }

  /** the listing a full pass pages through, kept until the directory changes (sorting 100,000 users per page would dominate) */
  private snapshotCache: { readonly version: number; readonly users: Array<Record<string, unknown>> } | undefined
  private snapshot(): Array<Record<string, unknown>> {
    if (this.snapshotCache?.version !== this.changes.length) {
      this.snapshotCache = {
        version: this.changes.length,
        users: Array.from(this.users.values()).sort((a, b) => (a.id < b.id ? -1 : 1)) as Array<Record<string, unknown>>
      }
    }
    return this.snapshotCache.users
  }

  /** changes after version `since` up to `until`: the last state per id, with only the changed properties */
  private since(since: number, until: number): Array<Record<string, unknown>> {
    const last = new Map<string, { removed: boolean; changed: Set<string> }>()
    for (const c of this.changes.slice(since, until)) {
      const entry = last.get(c.id) ?? { removed: false, changed: new Set<string>() }
      entry.removed = c.removed
      for (const k of c.changed) entry.changed.add(k)
      last.set(c.id, entry)
    }
    return Array.from(last, ([id, c]) => {
      const user = this.users.get(id)
      if (c.removed || user === undefined) return { id, "@removed": { reason: "deleted" } }
      return { id, ...Object.fromEntries(Array.from(c.changed, (k) => [k, user[k]])) }
    })
  }

  private page(res: import("node:http").ServerResponse, entries: ReadonlyArray<Record<string, unknown>>, offset: number, listing: string, version: number) {
    const value = entries.slice(offset, offset + this.pageSize)
    const end = offset + this.pageSize >= entries.length
    const link = end
      ? { "@odata.deltaLink": `${this.base}/users/delta?$deltatoken=${this.generation}.${version}` }
      : { "@odata.nextLink": `${this.base}/users/delta?$skiptoken=${encodeURIComponent(`${listing}|${offset + this.pageSize}`)}` }
    this.json(res, 200, { "@odata.context": `${this.base}/$metadata#users(id,mail)`, value, ...link })
  }
}

/** A Graph user shaped like Entra ID's. */
export const graphUser = (i: number, domain = "contoso.example", extra: Record<string, unknown> = {}): GraphUser => ({
  id: `00000000-0000-0000-0000-${String(i).padStart(12, "0")}`,
  mail: `user${i}@${domain}`,
  userPrincipalName: `user${i}@${domain}`,
  displayName: `User ${i}`,
  givenName: "User",
  surname: String(i),
  jobTitle: "Engineer",
  department: "R&D",
  companyName: "Contoso",
  businessPhones: [`+1 555 ${String(i % 10000).padStart(4, "0")}`],
  mobilePhone: null,
  officeLocation: "Building 1",
  city: "Redmond",
  country: "US",
  proxyAddresses: [`SMTP:user${i}@${domain}`, `smtp:u${i}@${domain}`],
  accountEnabled: true,
  ...extra
})
