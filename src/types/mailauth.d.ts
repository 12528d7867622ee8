/**
 * Types for the parts of mailauth 4 Imprint uses (src/pipeline/inbound/Microsoft365Proof.ts,
 * and its DKIM signer in specs). Its own .d.ts files describe the top-level API only.
 */
declare module "mailauth/lib/dkim/dkim-verifier.js" {
  import { Writable } from "node:stream"

  /** TXT records as node:dns resolveTxt gives them: each record a list of strings */
  export type TxtResolver = (name: string, rrtype: string) => Promise<ReadonlyArray<ReadonlyArray<string>>>

  export interface DkimResult {
    readonly signingDomain?: string
    readonly selector?: string
    readonly signingHeaders?: { readonly keys: string }
    readonly canonBodyLengthLimited?: boolean
    readonly status: { readonly result: "pass" | "fail" | "neutral" | "temperror" | "permerror" | "policy" | "none"; readonly comment?: string }
  }

  /**
   * A Writable: the header block is parsed when it ends, each body chunk goes
   * into the body hashes as it is written, and keys are looked up and
   * signatures checked when the stream finishes; `results` is filled by then.
   */
  export class DkimVerifier extends Writable {
    constructor(options: { resolver?: TxtResolver; minBitLength?: number; curTime?: Date })
    readonly results: ReadonlyArray<DkimResult>
  }

  const module: { DkimVerifier: typeof DkimVerifier }
  export default module
}

declare module "mailauth/lib/dkim/sign.js" {
  export interface DkimSignOptions {
    readonly signatureData: ReadonlyArray<{
      readonly signingDomain: string
      readonly selector: string
      readonly privateKey: string | Buffer
      readonly canonicalization?: string
      readonly algorithm?: string
    }>
    readonly signTime?: Date
  }
  const module: { dkimSign(input: string | Buffer, options: DkimSignOptions): Promise<{ signatures: string; errors: ReadonlyArray<unknown> }> }
  export default module
}
