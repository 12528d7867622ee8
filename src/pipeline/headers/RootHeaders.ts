import libmime from "libmime"
import type { MimeNode } from "mailsplit"
import { HeaderSummary } from "../../domain/Signature.js"
import { checkStamp, LOOP_STAMP_HEADER, messageIdentity, signStamp, type StampCheck } from "./LoopStamp.js"
import { MailLoop } from "./HeadersError.js"

/** RFC 5321 6.3 suggests 100 Received headers as the loop limit. */
export const MAX_RECEIVED = 100

export interface RootHeaderPolicy {
  readonly tenant: string
  readonly receivedLine: string
  readonly stampKey: Buffer
  readonly nowSeconds: number
  readonly stampMaxAgeSeconds: number
  /** more header lines to put in front, e.g. "X-Imprint-Rule: r1" */
  readonly extraLines?: ReadonlyArray<string>
}

/** What the root headers said, for the transaction log and the signature decision. */
export interface RootFacts {
  readonly summary: HeaderSummary
  readonly identity: string
  /** "valid": the message was relayed by Imprint before and must pass untouched */
  readonly loop: StampCheck | "none"
  /** the header lines Imprint puts in front of the message (Received, and a fresh stamp unless one is valid) */
  readonly prefix: Buffer
}

/** Header values are latin1 strings in mailsplit; raw UTF-8 (RFC 6532) is recovered, encoded words decoded. */
export const headerText = (raw: string): string => {
  const utf8 = Buffer.from(raw, "latin1").toString("utf8")
  const value = utf8.includes("\uFFFD") ? raw : utf8
  try {
    return libmime.decodeWords(value)
  } catch {
    return value
  }
}

/** Folds a header line at spaces so no line exceeds 78 characters where it can be helped (RFC 5322 2.1.1). */
export const foldHeader = (line: string, width = 78): string => {
  const out: string[] = []
  let rest = line
  while (rest.length > width) {
    const cut = rest.lastIndexOf(" ", width)
    if (cut <= 0) break
    out.push(rest.slice(0, cut))
    rest = " " + rest.slice(cut + 1)
  }
  out.push(rest)
  return out.join("\r\n")
}

export const summarize = (root: MimeNode): HeaderSummary =>
  HeaderSummary.make(
    {
      subject: headerText(root.headers.getFirst("subject")),
      messageId: root.headers.getFirst("message-id") || undefined,
      inReplyTo: root.headers.getFirst("in-reply-to") || undefined,
      references: root.headers.getFirst("references") || undefined,
      contentType: root.contentType || "text/plain"
    },
    true
  ) // strings from the parser: validation would only repeat the types, once per message

/**
 * What the root headers say, without changing them: the summary for the
 * signature decision, the message identity, and the loop stamp's standing.
 * Refuses a message with MAX_RECEIVED or more Received headers (a loop).
 */
export const readRootFacts = (root: MimeNode, policy: RootHeaderPolicy) => {
  const { headers } = root
  const received = headers.get("received").length
  if (received >= MAX_RECEIVED) throw new MailLoop({ received })
  const summary = summarize(root)
  const identity = messageIdentity({
    messageId: summary.messageId,
    from: headers.getFirst("from"),
    date: headers.getFirst("date"),
    subject: summary.subject
  })
  const { stampKey, tenant, nowSeconds, stampMaxAgeSeconds } = policy
  const stamps = headers.get(LOOP_STAMP_HEADER).map((line) => line.slice(line.indexOf(":") + 1))
  const checks = stamps.map((v) => checkStamp(stampKey, v, tenant, identity, nowSeconds, stampMaxAgeSeconds))
  const loop: RootFacts["loop"] = checks.includes("valid") ? "valid" : (checks[0] ?? "none")
  return { summary, identity, loop, stamps: stamps.length }
}

/** The lines Imprint puts in front: Received, a fresh loop stamp unless a valid one is there, and any extra lines. */
export const buildPrefix = (policy: RootHeaderPolicy, facts: { identity: string; loop: RootFacts["loop"] }): Buffer => {
  const { stampKey, tenant, nowSeconds } = policy
  const lines = [`Received: ${policy.receivedLine}`]
  if (facts.loop !== "valid") lines.push(`${LOOP_STAMP_HEADER}: ${signStamp(stampKey, tenant, facts.identity, nowSeconds)}`)
  lines.push(...(policy.extraLines ?? []))
  return Buffer.from(lines.map((l) => foldHeader(l) + "\r\n").join(""), "utf8")
}

/**
 * The stamped copy's edit of the root node (pipeline/StampedCopy.ts): refuses loops by
 * Received count, checks the loop stamp (keeps a valid one, drops forged and stale ones),
 * and prepares the Received and stamp lines. Those are put in front as bytes (`prefix`)
 * rather than added through mailsplit, whose header rebuild normalises malformed header
 * blocks: every other byte of the header stays as it came (invariant 4). Only removing a
 * bad stamp rebuilds.
 */
export const editRoot = (root: MimeNode, policy: RootHeaderPolicy, known?: ReturnType<typeof readRootFacts>): RootFacts => {
  const facts = known ?? readRootFacts(root, policy)
  if (facts.loop !== "valid" && facts.stamps > 0) root.headers.remove(LOOP_STAMP_HEADER)
  return { summary: facts.summary, identity: facts.identity, loop: facts.loop, prefix: buildPrefix(policy, facts) }
}
