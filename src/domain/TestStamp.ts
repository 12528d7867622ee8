import { Context, Data, type Effect } from "effect"
import type { Readable } from "node:stream"
import type { HeaderSummary, MessageEnvelope, SignatureDecision } from "./Signature.js"
import type { Tenant } from "./Tenant.js"

/**
 * What the admin API's test stamp asks the data plane: an uploaded message
 * through the relay's own DATA pipeline, each copy captured instead of sent.
 * The admin room names this interface; the pipeline implements it
 * (src/pipeline/DryRun.ts) and the composition root provides it, so admin
 * does not import the pipeline.
 */

export interface TestStampInput {
  /** the upload as it arrives (bare LF or CR is turned into CRLF, as .eml files carry them) */
  readonly upload: Readable
  /** the most upload bytes read; past it the run fails with `tooBig` */
  readonly uploadLimit: number
  readonly tenant: Tenant
  /** the envelope sender; undefined: the From header's address */
  readonly sender: string | undefined
  /** the envelope recipients; undefined or empty: the To and Cc headers' addresses */
  readonly recipients: ReadonlyArray<string> | undefined
  readonly serverName: string
  readonly resolve: (envelope: MessageEnvelope, header: HeaderSummary) => Effect.Effect<SignatureDecision>
}

export interface TestStampCopy {
  readonly recipients: ReadonlyArray<string>
  readonly ruleIds: ReadonlyArray<string>
  /** kinds of parts that received the signature */
  readonly stamped: ReadonlyArray<"html" | "text">
  /** why this copy passed unstamped, when it did */
  readonly skipped: string | undefined
  readonly message: Buffer
}

export interface TestStampResult {
  readonly sender: string
  readonly recipients: ReadonlyArray<string>
  /** why the whole message passes unstamped, when it does */
  readonly unstamped: string | undefined
  readonly copies: ReadonlyArray<TestStampCopy>
  /** upload bytes read */
  readonly bytes: number
}

/** What the relay would have answered instead of relaying (a loop, smuggling, stamping failed), or an upload over its limit. */
export class TestStampRefused extends Data.TaggedError("TestStampRefused")<{
  readonly reason: string
  readonly message: string
  readonly tooBig: boolean
}> {}

export interface TestStamperApi {
  readonly run: (input: TestStampInput) => Effect.Effect<TestStampResult, TestStampRefused>
}

export class TestStamper extends Context.Tag("imprint/TestStamper")<TestStamper, TestStamperApi>() {}
