import type { MimeNode } from "mailsplit"
import type { SignatureDecision } from "../domain/Signature.js"
import { classifyRoot } from "./mime/PartChooser.js"
import type { RootFacts } from "./headers/RootHeaders.js"
import type { Copy, Decision } from "./Transaction.js"

/**
 * Why a message passes unstamped whatever the tenant's rules say, in the
 * relay's order: Imprint's own valid loop stamp, a kind that is never stamped
 * (signed, encrypted, reports, calendar, …), the null sender. Undefined: ask
 * the tenant. The relay (DataPhase) and the test stamp (DryRun) both decide
 * through it.
 */
export const passesUnstamped = (root: MimeNode, loop: RootFacts["loop"], sender: string): string | undefined => {
  if (loop === "valid") return "loop"
  const kind = classifyRoot(root)
  if (kind !== undefined) return kind
  if (sender === "") return "null-sender"
  return undefined
}

/** One unstamped copy for everyone, with the reason. */
export const unstamped = (recipients: ReadonlyArray<string>, reason: string): Decision => ({
  copies: [{ recipients, plan: undefined, ruleIds: [] }],
  unstamped: reason
})

/**
 * Turns the tenant's decision into downstream copies: one per recipient group,
 * each with its stamp plan. Every accepted recipient ends up in exactly one
 * copy: a recipient the decision did not place goes into an unstamped copy
 * rather than being dropped (nothing is lost).
 */
export const planCopies = (decision: SignatureDecision, recipients: ReadonlyArray<string>): Decision => {
  if (decision._tag === "NoSignature") return unstamped(recipients, decision.reason)
  const wanted = new Set(recipients.map((r) => r.toLowerCase()))
  const copies: Array<Copy> = []
  for (const group of decision.groups) {
    const members = group.recipients.filter((r) => wanted.delete(r.toLowerCase()))
    if (members.length === 0) continue
    copies.push({
      recipients: members,
      plan: group.elements.length === 0 ? undefined : { elements: group.elements, skipIfPresent: decision.skipIfPresent, placeholder: decision.placeholder },
      ruleIds: [...new Set(group.elements.map((e) => e.ruleId))]
    })
  }
  const rest = recipients.filter((r) => wanted.has(r.toLowerCase()))
  if (rest.length > 0) copies.push({ recipients: rest, plan: undefined, ruleIds: [] })
  // copies with the same plan need not travel apart: merge the unstamped ones
  const plain = copies.filter((c) => c.plan === undefined)
  const merged =
    plain.length > 1
      ? [...copies.filter((c) => c.plan !== undefined), { recipients: plain.flatMap((c) => c.recipients), plan: undefined, ruleIds: [] }]
      : copies
  return merged.every((c) => c.plan === undefined) ? unstamped(recipients, "no-elements") : { copies: merged }
}
