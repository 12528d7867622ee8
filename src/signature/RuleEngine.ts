import { Option } from "effect"
import type { DirectoryUser } from "../domain/Directory.js"
import type { Conditions, MessageKind, Rule } from "../domain/Rule.js"
import { outsideWindow } from "./DateWindowCheck.js"
import { attributeValue } from "./TemplateValues.js"

/**
 * Which rules apply to a message, per recipient. Rules are read in order; the
 * first enabled rule whose conditions match and whose exceptions do not
 * decides, unless it says `continue`, in which case later rules may add more
 * elements (a disclaimer at the bottom, a seasonal banner).
 *
 * Conditions: every present field must match (AND), inside a list one entry is
 * enough (OR), and an empty list counts as absent. Exceptions, as in Exchange
 * transport rules: any one present field matching excludes the rule (OR).
 * Addresses and domains compare case-insensitively. A sender condition
 * matches the envelope sender and, when the sender is in the directory, any of
 * the user's addresses (mail, proxyAddresses), so mail sent from an alias is
 * the user's mail. Sender domains are read from the envelope sender. A
 * recipient is internal when its domain is exactly one of the tenant's domains;
 * subdomains are not implied (a subdomain is often hosted elsewhere, e.g. a
 * mailing platform): list them as tenant domains to make them internal.
 */

export interface MessageFacts {
  /** the envelope sender (MAIL FROM) */
  readonly sender: string
  readonly user: Option.Option<DirectoryUser>
  readonly kind: MessageKind
  readonly subject: string
  readonly tenantDomains: ReadonlyArray<string>
  /** epoch milliseconds (the actor passes Clock time) */
  readonly now: number
}

export type ConditionName = keyof Conditions

export type RuleVerdict =
  | { readonly _tag: "Matched" }
  | { readonly _tag: "Disabled" }
  | { readonly _tag: "TemplateMissing"; readonly templateId: string }
  | { readonly _tag: "ConditionFailed"; readonly condition: ConditionName; readonly detail: string }
  | { readonly _tag: "ExceptionHit"; readonly exception: ConditionName; readonly detail: string }
  /** an earlier matching rule without `continue` decided */
  | { readonly _tag: "NotReached"; readonly decidedBy: string }

export const normalizeAddress = (address: string): string =>
  address
    .trim()
    .replace(/^<|>$/g, "")
    .replace(/^smtp:/i, "")
    .toLowerCase()

export const domainOf = (address: string): string => {
  const a = normalizeAddress(address)
  return a.slice(a.lastIndexOf("@") + 1)
}

const normalizeDomain = (domain: string): string => domain.trim().replace(/^@/, "").replace(/\.$/, "").toLowerCase()

const senderAddresses = (facts: MessageFacts): ReadonlyArray<string> =>
  Option.match(facts.user, {
    onNone: () => [normalizeAddress(facts.sender)],
    onSome: (u) => [normalizeAddress(facts.sender), normalizeAddress(u.mail), ...u.proxyAddresses.map(normalizeAddress)]
  })

const lower = (list: ReadonlyArray<string>): ReadonlyArray<string> => list.map((s) => s.trim().toLowerCase())
const listed = (list: ReadonlyArray<string>): string => list.map((s) => JSON.stringify(s)).join(", ")

/** One condition field: undefined when it is absent (or an empty list), else whether it matches and why. */
type Check = { readonly matches: boolean; readonly detail: string } | undefined

const check = (conditions: Conditions, field: ConditionName, facts: MessageFacts, recipient: string): Check => {
  const none = <A>(list: ReadonlyArray<A> | undefined): list is undefined => list === undefined || list.length === 0
  switch (field) {
    case "senders": {
      if (none(conditions.senders)) return undefined
      const mine = senderAddresses(facts)
      const wanted = conditions.senders.map(normalizeAddress)
      const hit = mine.find((a) => wanted.includes(a))
      return { matches: hit !== undefined, detail: `sender ${hit ?? mine[0]} ${hit ? "is" : "is not"} one of ${listed(wanted)}` }
    }
    case "senderDomains": {
      if (none(conditions.senderDomains)) return undefined
      const domain = domainOf(facts.sender)
      const wanted = conditions.senderDomains.map(normalizeDomain)
      return { matches: wanted.includes(domain), detail: `sender domain ${domain} ${wanted.includes(domain) ? "is" : "is not"} one of ${listed(wanted)}` }
    }
    case "groups": {
      if (none(conditions.groups)) return undefined
      if (Option.isNone(facts.user)) return { matches: false, detail: "sender is not in the directory (no groups)" }
      const groups = lower(facts.user.value.memberOf)
      const hit = lower(conditions.groups).find((g) => groups.includes(g))
      return { matches: hit !== undefined, detail: hit ? `sender is in group ${JSON.stringify(hit)}` : `sender is in none of ${listed(conditions.groups)}` }
    }
    case "attributes": {
      if (none(conditions.attributes)) return undefined
      if (Option.isNone(facts.user)) return { matches: false, detail: "sender is not in the directory (no attributes)" }
      const user = facts.user.value
      const hit = conditions.attributes.find((c) => {
        const value = attributeValue(user, c.name).trim().toLowerCase()
        const wanted = c.value.trim().toLowerCase()
        return c.op === "equals" ? value === wanted : value.includes(wanted)
      })
      const describe = (c: (typeof conditions.attributes)[number]) => `${c.name} ${c.op} ${JSON.stringify(c.value)}`
      return hit
        ? { matches: true, detail: `${describe(hit)} (it is ${JSON.stringify(attributeValue(user, hit.name))})` }
        : {
            matches: false,
            detail: `none of: ${conditions.attributes.map((c) => `${describe(c)} (it is ${JSON.stringify(attributeValue(user, c.name))})`).join("; ")}`
          }
    }
    case "recipientScope": {
      if (conditions.recipientScope === undefined) return undefined
      const internal = facts.tenantDomains.map(normalizeDomain).includes(domainOf(recipient))
      const scope = internal ? "internal" : "external"
      return { matches: scope === conditions.recipientScope, detail: `recipient ${normalizeAddress(recipient)} is ${scope}` }
    }
    case "recipientAddresses": {
      if (none(conditions.recipientAddresses)) return undefined
      const r = normalizeAddress(recipient)
      const wanted = conditions.recipientAddresses.map(normalizeAddress)
      return { matches: wanted.includes(r), detail: `recipient ${r} ${wanted.includes(r) ? "is" : "is not"} one of ${listed(wanted)}` }
    }
    case "recipientDomains": {
      if (none(conditions.recipientDomains)) return undefined
      const d = domainOf(recipient)
      const wanted = conditions.recipientDomains.map(normalizeDomain)
      return { matches: wanted.includes(d), detail: `recipient domain ${d} ${wanted.includes(d) ? "is" : "is not"} one of ${listed(wanted)}` }
    }
    case "kinds": {
      if (none(conditions.kinds)) return undefined
      return { matches: conditions.kinds.includes(facts.kind), detail: `message is ${facts.kind}, rule wants ${conditions.kinds.join(" or ")}` }
    }
    case "dateWindow": {
      if (conditions.dateWindow === undefined) return undefined
      const outside = outsideWindow(conditions.dateWindow, facts.now)
      const w = conditions.dateWindow
      return { matches: outside === undefined, detail: outside ?? `within ${w.start ?? "…"} – ${w.end ?? "…"} (${w.timeZone})` }
    }
    case "subjectContains": {
      if (none(conditions.subjectContains)) return undefined
      const subject = facts.subject.toLowerCase()
      const hit = conditions.subjectContains.find((s) => subject.includes(s.toLowerCase()))
      return {
        matches: hit !== undefined,
        detail: hit !== undefined ? `subject contains ${JSON.stringify(hit)}` : `subject contains none of ${listed(conditions.subjectContains)}`
      }
    }
  }
}

/** Evaluation order: cheap message-level fields first, then the per-recipient ones. */
export const CONDITION_ORDER: ReadonlyArray<ConditionName> = [
  "kinds",
  "subjectContains",
  "senders",
  "senderDomains",
  "groups",
  "attributes",
  "dateWindow",
  "recipientScope",
  "recipientAddresses",
  "recipientDomains"
]

/** The verdict of one rule for one recipient, ignoring the rules before it. */
export const judgeRule = (rule: Rule, facts: MessageFacts, recipient: string, hasTemplate: (id: string) => boolean = () => true): RuleVerdict => {
  if (!rule.enabled) return { _tag: "Disabled" }
  if (!hasTemplate(rule.templateId)) return { _tag: "TemplateMissing", templateId: rule.templateId }
  for (const field of CONDITION_ORDER) {
    const c = check(rule.conditions, field, facts, recipient)
    if (c !== undefined && !c.matches) return { _tag: "ConditionFailed", condition: field, detail: c.detail }
  }
  for (const field of CONDITION_ORDER) {
    const c = check(rule.exceptions, field, facts, recipient)
    if (c !== undefined && c.matches) return { _tag: "ExceptionHit", exception: field, detail: c.detail }
  }
  return { _tag: "Matched" }
}

export interface RuleExplanation {
  readonly rule: Rule
  readonly verdict: RuleVerdict
}

/** Every rule's verdict for one recipient, in order (for the rules tester). */
export const explainRules = (
  rules: ReadonlyArray<Rule>,
  facts: MessageFacts,
  recipient: string,
  hasTemplate?: (id: string) => boolean
): ReadonlyArray<RuleExplanation> => {
  const out: RuleExplanation[] = []
  let decidedBy: string | undefined
  for (const rule of rules) {
    if (decidedBy !== undefined) {
      out.push({ rule, verdict: { _tag: "NotReached", decidedBy } })
      continue
    }
    const verdict = judgeRule(rule, facts, recipient, hasTemplate)
    out.push({ rule, verdict })
    if (verdict._tag === "Matched" && !rule.continue) decidedBy = rule.id
  }
  return out
}

/** The rules applied to one recipient, in order (empty: no signature for that recipient). */
export const rulesForRecipient = (
  rules: ReadonlyArray<Rule>,
  facts: MessageFacts,
  recipient: string,
  hasTemplate?: (id: string) => boolean
): ReadonlyArray<Rule> => {
  const applied: Rule[] = []
  for (const rule of rules) {
    if (judgeRule(rule, facts, recipient, hasTemplate)._tag !== "Matched") continue
    applied.push(rule)
    if (!rule.continue) break
  }
  return applied
}

export interface RuleGroup {
  readonly recipients: ReadonlyArray<string>
  readonly rules: ReadonlyArray<Rule>
}

/** Recipients with the same applied rules form one group; groups keep the recipients' first-seen order. */
export const groupRecipients = (
  rules: ReadonlyArray<Rule>,
  facts: MessageFacts,
  recipients: ReadonlyArray<string>,
  hasTemplate?: (id: string) => boolean
): ReadonlyArray<RuleGroup> => {
  const groups = new Map<string, { recipients: string[]; rules: ReadonlyArray<Rule> }>()
  for (const recipient of recipients) {
    const applied = rulesForRecipient(rules, facts, recipient, hasTemplate)
    const key = applied.map((r) => r.id).join("\u0000")
    const group = groups.get(key)
    if (group === undefined) groups.set(key, { recipients: [recipient], rules: applied })
    else group.recipients.push(recipient)
  }
  return [...groups.values()]
}
