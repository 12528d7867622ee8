import { Effect } from "effect"
import type { MimeNode } from "mailsplit"
import addressparser from "nodemailer/lib/addressparser/index.js"
import { randomBytes } from "node:crypto"
import { Transform, type Readable, type TransformCallback } from "node:stream"
import { type HeaderSummary, MessageEnvelope, type SignatureDecision } from "../domain/Signature.js"
import type { Tenant } from "../domain/Tenant.js"
import { type TestStampInput, TestStampRefused, type TestStamperApi, type TestStampResult } from "../domain/TestStamp.js"
import { passesUnstamped, planCopies, unstamped } from "./CopyPlanner.js"
import type { StampOutcome } from "./mime/StampPlan.js"
import { DownstreamPool } from "./downstream/DownstreamPool.js"
import { DownstreamLink } from "./Relay.js"
import { PipelineFailed, type RelayError } from "./RelayError.js"
import type { readRootFacts } from "./headers/RootHeaders.js"
import { senderAllowed } from "./Inbound.js"
import type { SmtpReply } from "./downstream/SmtpReply.js"
import { type Copy, relayTransaction } from "./Transaction.js"

/**
 * A message through the relay's own DATA pipeline without relaying it (the
 * admin API's test stamp): relayTransaction with the same HeaderPeek
 * decision, the same stamped copy (StampedCopy: MimeScanner → Stamper), but
 * each downstream copy is captured in memory instead of sent. The decision
 * is the relay's (CopyPlanner.passesUnstamped: loop, kinds that pass unstamped, null sender;
 * the tenant's signature decision) minus the fail-safe memory, which belongs
 * to real retries.
 *
 * The loop stamp is signed with a throwaway key: a test-stamped message fed
 * back to the relay is stamped again rather than passed as already relayed,
 * so the admin API can never mint a stamp that lets mail skip its signature.
 */

export class UploadLimitExceeded extends Error {
  constructor(readonly limit: number) {
    super(`the upload exceeds ${limit} bytes`)
  }
}

const CR = 0x0d
const LF = 0x0a
const CR_BYTE = Buffer.from([CR])
const LF_BYTE = Buffer.from([LF])

/**
 * Counts the uploaded bytes (failing past `limit`) and turns bare LF and bare
 * CR into CRLF: .eml files are usually saved with the platform's line ends,
 * while the relay (LineGuard) takes CRLF only, as on the SMTP wire.
 */
export class UploadNormalizer extends Transform {
  private bytes = 0
  private pendingCR = false

  constructor(private readonly limit: number) {
    super()
  }

  get uploaded(): number {
    return this.bytes
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length
    if (this.bytes > this.limit) return done(new UploadLimitExceeded(this.limit))
    const parts: Array<Buffer> = []
    let from = 0
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]
      const afterCR = i === 0 ? this.pendingCR : chunk[i - 1] === CR
      if (b === LF && !afterCR)
        parts.push(chunk.subarray(from, i), CR_BYTE) // bare LF: CR before it
      else if (afterCR && b !== LF)
        parts.push(chunk.subarray(from, i), LF_BYTE) // bare CR: LF after it
      else continue
      from = i
    }
    if (chunk.length > 0) this.pendingCR = chunk[chunk.length - 1] === CR
    if (parts.length === 0) return done(null, chunk)
    parts.push(chunk.subarray(from))
    done(null, Buffer.concat(parts))
  }

  override _flush(done: TransformCallback): void {
    done(null, this.pendingCR ? LF_BYTE : undefined)
  }
}

/** A downstream that keeps what it is sent. */
class CaptureLink extends DownstreamLink {
  readonly chunks: Array<Buffer> = []

  constructor() {
    super("dry-run", { connectMs: 0, commandMs: 0, dataMs: 0 }, DownstreamPool.none())
  }

  override send(output: Readable): Effect.Effect<SmtpReply, RelayError> {
    return Effect.tryPromise({
      try: async () => {
        for await (const chunk of output) this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array))
        return { code: 250, enhanced: "2.0.0", text: "captured (not relayed)", lines: ["2.0.0 captured (not relayed)"] } satisfies SmtpReply
      },
      catch: (e): RelayError =>
        typeof e === "object" && e !== null && "_tag" in e ? (e as RelayError) : new PipelineFailed({ detail: e instanceof Error ? e.message : String(e) })
    })
  }
}

export interface DryRunInput {
  readonly upstream: Readable
  readonly tenant: Tenant
  /** the envelope sender; undefined: the From header's address */
  readonly sender: string | undefined
  /** the envelope recipients; undefined or empty: the To and Cc headers' addresses */
  readonly recipients: ReadonlyArray<string> | undefined
  /** LineGuard's limit on the (normalized) stream */
  readonly maxBytes: number
  readonly serverName: string
  readonly resolve: (envelope: MessageEnvelope, header: HeaderSummary) => Effect.Effect<SignatureDecision>
}

export interface DryRunCopy {
  readonly recipients: ReadonlyArray<string>
  readonly ruleIds: ReadonlyArray<string>
  readonly outcome: StampOutcome | undefined
  readonly message: Buffer
}

export interface DryRunResult {
  readonly sender: string
  readonly recipients: ReadonlyArray<string>
  /** why the whole message passes unstamped, when it does */
  readonly unstamped: string | undefined
  readonly copies: ReadonlyArray<DryRunCopy>
}

const addresses = (root: MimeNode, ...names: ReadonlyArray<string>): Array<string> =>
  names.flatMap((name) => root.headers.get(name).map((line) => line.slice(line.indexOf(":") + 1))).flatMap((value) => flatten(addressparser(value)))

const flatten = (list: ReturnType<typeof addressparser>): Array<string> =>
  list.flatMap((a) => ("group" in a && a.group !== undefined ? flatten(a.group) : a.address ? [a.address] : []))

export const dryRun = Effect.fn("DryRun.stamp")(function* (input: DryRunInput) {
  let sender = input.sender ?? ""
  let recipients = [...(input.recipients ?? [])]
  const links: Array<CaptureLink> = []
  const decide = (root: MimeNode, facts: ReturnType<typeof readRootFacts>) =>
    Effect.gen(function* () {
      if (input.sender === undefined) sender = addresses(root, "from")[0] ?? ""
      if (recipients.length === 0) recipients = addresses(root, "to", "cc")
      if (recipients.length === 0) return unstamped(recipients, "no-recipients")
      const reason = passesUnstamped(root, facts.loop, sender)
      if (reason !== undefined) return unstamped(recipients, reason)
      if (!senderAllowed(input.tenant, sender)) return unstamped(recipients, "sender-not-in-tenant-domains")
      const decision = yield* input.resolve(MessageEnvelope.make({ mailFrom: sender, rcptTo: recipients }), facts.summary)
      return planCopies(decision, recipients)
    })
  const policy = {
    tenant: input.tenant.id,
    receivedLine: `from admin-test-stamp by ${input.serverName} with test-stamp (not relayed); ${new Date().toUTCString()}`,
    stampKey: randomBytes(32),
    nowSeconds: Math.floor(Date.now() / 1000),
    stampMaxAgeSeconds: 0
  }
  const result = yield* relayTransaction({
    upstream: input.upstream,
    maxBytes: input.maxBytes,
    policy,
    recipients,
    decide,
    links: (copies: ReadonlyArray<Copy>) =>
      Effect.sync(() =>
        copies.map(() => {
          const link = new CaptureLink()
          links.push(link)
          return link
        })
      )
  })
  return {
    sender,
    recipients,
    unstamped: result.decision.unstamped,
    copies: result.decision.copies.map((copy, i) => ({
      recipients: copy.recipients,
      ruleIds: copy.ruleIds,
      outcome: result.outcomes[i],
      message: Buffer.concat(links[i].chunks)
    }))
  } satisfies DryRunResult
})

/** What the relay would have answered instead of relaying, as the test stamp's refusal naming the reason. */
const refusal = (e: RelayError, tooBig: boolean): TestStampRefused => {
  switch (e._tag) {
    case "MailLoop":
      return new TestStampRefused({ tooBig, reason: "mail-loop", message: `the relay refuses this message as a mail loop: ${e.received} Received headers` })
    case "BareLineEnding":
      return new TestStampRefused({
        tooBig,
        reason: "bare-line-ending",
        message: `the relay refuses this message: a line of NULs and one dot at byte ${e.offset}`
      })
    case "StampingFailed":
      return new TestStampRefused({
        tooBig,
        reason: "stamping-failed",
        message: `stamping failed (${e.detail}); the relay would answer 451 and relay the retry unstamped`
      })
    default:
      return new TestStampRefused({ tooBig, reason: e._tag, message: `the message could not be processed: ${e._tag}` })
  }
}

/**
 * The upload into the normalizer. Past the limit the upload is no longer
 * fed but not destroyed either (that would reset an HTTP connection before
 * the 413 is written); Node discards the rest after the answer.
 */
const feedUpload = (upload: Readable, normalizer: UploadNormalizer): UploadNormalizer => {
  upload.pipe(normalizer)
  upload.once("error", (e) => normalizer.destroy(e))
  normalizer.once("error", () => {
    upload.unpipe(normalizer)
    upload.resume()
  })
  return normalizer
}

/** The test stamp (domain/TestStamp.ts) over dryRun: the admin API's TestStamper. */
export const testStamper: TestStamperApi = {
  run: Effect.fn("DryRun.testStamp")(function* (input: TestStampInput) {
    const normalizer = new UploadNormalizer(input.uploadLimit)
    const result = yield* dryRun({
      upstream: feedUpload(input.upload, normalizer),
      tenant: input.tenant,
      sender: input.sender,
      recipients: input.recipients,
      // normalizing bare LF to CRLF at most doubles the bytes; LineGuard's limit only has to allow that
      maxBytes: 2 * input.uploadLimit,
      serverName: input.serverName,
      resolve: input.resolve
    }).pipe(Effect.mapError((e) => refusal(e, normalizer.uploaded > input.uploadLimit || e._tag === "MessageTooBig")))
    return {
      sender: result.sender,
      recipients: result.recipients,
      unstamped: result.unstamped,
      copies: result.copies.map((c) => ({
        recipients: c.recipients,
        ruleIds: c.ruleIds,
        stamped: c.outcome?.stamped ?? [],
        skipped: c.outcome?.skipped,
        message: c.message
      })),
      bytes: normalizer.uploaded
    } satisfies TestStampResult
  })
}
