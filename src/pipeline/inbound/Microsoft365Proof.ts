import mailauthVerifier, { type DkimResult, type DkimVerifier } from "mailauth/lib/dkim/dkim-verifier.js"
import { Transform, type TransformCallback } from "node:stream"
import type { Microsoft365Connector } from "../../domain/Tenant.js"
import { HEADER_PEEK_LIMIT, HeaderEndFinder } from "../headers/HeaderPeek.js"
import { TenantNotProven, TenantProofDeferred } from "./InboundError.js"
import { type DkimKeys, keysOf } from "./DkimKeys.js"

/**
 * The per-message half of a Microsoft 365 binding (the session half is
 * Microsoft365Gate): a stage in the DATA stream, before HeaderPeek, that lets
 * the message through only if it proves it comes from the selected tenant's
 * Microsoft 365 organisation.
 *
 * - At the end of the header block, before that chunk moves on (so before any
 *   body byte can reach a downstream): exactly one `X-MS-Exchange-CrossTenant-Id`,
 *   equal to the GUID of one of the tenant's microsoft365 connectors, and a
 *   DKIM-Signature by that connector's onmicrosoft.com domain. The key lookup
 *   starts here, while the body streams.
 * - While the body streams: mailauth's DkimVerifier hashes it chunk by chunk
 *   (nothing is held), with a resolver that answers only that domain's keys.
 * - At the end, before this stage ends its output (so before any copy's
 *   terminating dot): one signature of that domain must verify, cover From and
 *   hash the whole body (no `l=`). Otherwise the stage fails, which aborts
 *   every downstream copy: TenantNotProven (550 5.7.1), or TenantProofDeferred
 *   (451 4.7.5) when the key lookup failed temporarily.
 */

const CROSS_TENANT_ID = "x-ms-exchange-crosstenant-id"

interface HeaderField {
  readonly name: string
  readonly value: string
}

/** Header fields of a complete header block (unfolded; names in lower case). */
const fields = (block: Buffer): Array<HeaderField> => {
  const out: Array<HeaderField> = []
  for (const line of block.toString("latin1").split("\r\n")) {
    if (line === "") continue
    if ((line[0] === " " || line[0] === "\t") && out.length > 0) {
      const last = out[out.length - 1]
      out[out.length - 1] = { name: last.name, value: `${last.value} ${line.trim()}` }
      continue
    }
    const colon = line.indexOf(":")
    if (colon > 0) out.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).trim() })
  }
  return out
}

/** A DKIM-Signature's tag (`d`, `s`), whitespace removed. */
const tag = (signature: string, name: string): string | undefined => {
  const m = new RegExp(`(?:^|;)\\s*${name}\\s*=([^;]*)`, "i").exec(signature)
  return m?.[1].replace(/\s+/g, "")
}

const coversFrom = (r: DkimResult) => (r.signingHeaders?.keys ?? "").split(":").some((k) => k.trim().toLowerCase() === "from")

export class Microsoft365Proof extends Transform {
  private head: Array<Buffer> = []
  private headBytes = 0
  private readonly ending = new HeaderEndFinder()
  private inBody = false
  private verifier: DkimVerifier | undefined
  private domain = ""

  constructor(
    private readonly connectors: ReadonlyArray<Microsoft365Connector>,
    private readonly keys: DkimKeys
  ) {
    super()
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (!this.inBody) {
      const end = this.ending.push(chunk)
      this.head.push(chunk)
      this.headBytes += chunk.length
      if (end === -1 && this.headBytes <= HEADER_PEEK_LIMIT) return this.forward(chunk, done)
      if (end === -1 || end > HEADER_PEEK_LIMIT) return done(new TenantNotProven({ detail: `header block longer than ${HEADER_PEEK_LIMIT} bytes` }))
      // joined once, when the block has ended (HeaderEndFinder: no join per piece)
      const head = this.head.length === 1 ? this.head[0] : Buffer.concat(this.head, this.headBytes)
      this.inBody = true
      this.head = []
      const failure = this.checkHeaders(head.subarray(0, end))
      if (failure !== undefined) return done(new TenantNotProven({ detail: failure }))
    }
    this.forward(chunk, done)
  }

  /** Hashes the chunk (backpressure from the verifier), then passes it on unchanged. */
  private forward(chunk: Buffer, done: TransformCallback): void {
    this.ensureVerifier().write(chunk, (err) => (err ? done(new TenantNotProven({ detail: err.message })) : done(null, chunk)))
  }

  private ensureVerifier(): DkimVerifier {
    // the domain is known once the headers are: until then the resolver refuses every name, and it is not asked before the end
    if (this.verifier === undefined) {
      this.verifier = new mailauthVerifier.DkimVerifier({ resolver: (name, type) => keysOf(this.keys, this.domain || "invalid.")(name, type) })
      // its failures arrive through the write and end callbacks
      this.verifier.on("error", () => undefined)
    }
    return this.verifier
  }

  /** The reason the header block proves nothing, or undefined. */
  private checkHeaders(block: Buffer): string | undefined {
    const all = fields(block)
    const ids = all.filter((f) => f.name === CROSS_TENANT_ID)
    if (ids.length !== 1)
      return `${ids.length === 0 ? "no" : ids.length} X-MS-Exchange-CrossTenant-Id header${ids.length === 0 ? "" : "s"} (exactly one expected)`
    const guid = ids[0].value.toLowerCase()
    const connector = this.connectors.find((c) => c.tenantGuid === guid)
    if (connector === undefined) return `X-MS-Exchange-CrossTenant-Id ${guid} is not this tenant's Microsoft 365 tenant`
    this.domain = connector.domain
    const signatures = all.filter((f) => f.name === "dkim-signature" && tag(f.value, "d")?.toLowerCase() === connector.domain)
    if (signatures.length === 0) return `no DKIM signature of ${connector.domain}`
    for (const s of signatures) {
      const selector = tag(s.value, "s")
      // starts the lookup while the body streams; the verifier asks again (cached) at the end
      if (selector) this.keys.txt(`${selector}._domainkey.${connector.domain}`).catch(() => undefined)
    }
    return undefined
  }

  override _flush(done: TransformCallback): void {
    if (!this.inBody) return done(new TenantNotProven({ detail: "the message ended before its header block did" }))
    const verifier = this.ensureVerifier()
    verifier.end((err?: Error | null) => done(err ? new TenantNotProven({ detail: err.message }) : this.verdict(verifier.results)))
  }

  private verdict(results: ReadonlyArray<DkimResult>): TenantNotProven | TenantProofDeferred | null {
    const mine = results.filter((r) => r.signingDomain?.toLowerCase() === this.domain)
    if (mine.some((r) => r.status.result === "pass" && coversFrom(r) && !r.canonBodyLengthLimited)) return null
    const temporary = mine.find((r) => r.status.result === "temperror")
    if (temporary !== undefined) return new TenantProofDeferred({ detail: temporary.status.comment ?? "temporary DNS failure" })
    const why = mine.map((r) =>
      r.status.result === "pass" ? (coversFrom(r) ? "signs only part of the body (l=)" : "does not sign From") : (r.status.comment ?? r.status.result)
    )
    return new TenantNotProven({ detail: `DKIM signature of ${this.domain} does not verify (${why.join("; ")})` })
  }
}
