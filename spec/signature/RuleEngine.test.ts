import { it as effectIt } from "@effect/vitest"
import { Clock, Effect, Option, Schema, TestClock } from "effect"
import { describe, expect, it } from "vitest"
import { DirectoryUser } from "../../src/domain/Directory.js"
import { Rule } from "../../src/domain/Rule.js"
import { explainRules, groupRecipients, judgeRule, rulesForRecipient, type MessageFacts } from "../../src/signature/RuleEngine.js"

const alice = new DirectoryUser({
  mail: "alice@demo.example",
  title: "Head of Sales",
  department: "Sales EMEA",
  proxyAddresses: ["SMTP:alice@demo.example", "smtp:A.Martin@Demo.Example", "smtp:alice@legacy.example"],
  memberOf: ["Sales", "All Staff"],
  custom: { costCentre: "CC-42" }
})

const facts = (over: Partial<MessageFacts> = {}): MessageFacts => ({
  sender: "alice@demo.example",
  user: Option.some(alice),
  kind: "new",
  subject: "Quarterly numbers",
  tenantDomains: ["demo.example", "Demo.Example.org"],
  now: Date.parse("2026-06-01T12:00:00Z"),
  ...over
})

const rule = (id: string, conditions: object = {}, extra: object = {}): Rule =>
  Schema.decodeUnknownSync(Rule)({ id, name: id, templateId: "t", conditions, ...extra })

const matches = (conditions: object, f: MessageFacts = facts(), recipient = "bob@customer.example") =>
  judgeRule(rule("r", conditions), f, recipient)._tag === "Matched"

describe("conditions", () => {
  it("no conditions match everything; an empty list counts as absent", () => {
    expect(matches({})).toBe(true)
    expect(matches({ senders: [], groups: [] })).toBe(true)
  })

  it("sender address: case-insensitive, through the user's aliases too", () => {
    expect(matches({ senders: ["ALICE@demo.example"] })).toBe(true)
    expect(matches({ senders: ["a.martin@demo.example"] })).toBe(true)
    expect(matches({ senders: ["alice@demo.example"] }, facts({ sender: "A.Martin@demo.example" }))).toBe(true)
    expect(matches({ senders: ["bob@demo.example", "carol@demo.example"] })).toBe(false)
    expect(matches({ senders: ["a.martin@demo.example"] }, facts({ user: Option.none() }))).toBe(false)
  })

  it("sender domain: the envelope sender's, case-insensitive, exact", () => {
    expect(matches({ senderDomains: ["DEMO.example"] })).toBe(true)
    expect(matches({ senderDomains: ["@demo.example"] })).toBe(true)
    expect(matches({ senderDomains: ["example"] })).toBe(false)
    expect(matches({ senderDomains: ["legacy.example"] }, facts({ sender: "alice@legacy.example" }))).toBe(true)
  })

  it("group membership: any listed group, case-insensitive; no directory entry never matches", () => {
    expect(matches({ groups: ["Finance", "sales"] })).toBe(true)
    expect(matches({ groups: ["Finance"] })).toBe(false)
    expect(matches({ groups: ["Sales"] }, facts({ user: Option.none() }))).toBe(false)
  })

  it("attributes: equals and contains, any entry, custom attributes too", () => {
    expect(matches({ attributes: [{ name: "title", op: "equals", value: "head of sales" }] })).toBe(true)
    expect(matches({ attributes: [{ name: "title", op: "equals", value: "Head" }] })).toBe(false)
    expect(matches({ attributes: [{ name: "department", op: "contains", value: "emea" }] })).toBe(true)
    expect(matches({ attributes: [{ name: "custom.costCentre", op: "equals", value: "CC-42" }] })).toBe(true)
    expect(
      matches({
        attributes: [
          { name: "mobile", op: "contains", value: "+44" },
          { name: "custom.costCentre", op: "contains", value: "42" }
        ]
      })
    ).toBe(true)
    expect(matches({ attributes: [{ name: "mobile", op: "contains", value: "+44" }] })).toBe(false)
  })

  it("recipient scope: internal is exactly a tenant domain (case-insensitive), subdomains are external", () => {
    expect(matches({ recipientScope: "internal" }, facts(), "bob@DEMO.example")).toBe(true)
    expect(matches({ recipientScope: "internal" }, facts(), "bob@demo.example.org")).toBe(true)
    expect(matches({ recipientScope: "internal" }, facts(), "bob@eu.demo.example")).toBe(false)
    expect(matches({ recipientScope: "external" }, facts(), "bob@customer.example")).toBe(true)
    expect(matches({ recipientScope: "external" }, facts(), "bob@demo.example")).toBe(false)
  })

  it("recipient addresses and domains", () => {
    expect(matches({ recipientAddresses: ["Bob@Customer.example"] })).toBe(true)
    expect(matches({ recipientAddresses: ["eve@customer.example"] })).toBe(false)
    expect(matches({ recipientDomains: ["partner.example", "customer.EXAMPLE"] })).toBe(true)
    expect(matches({ recipientDomains: ["partner.example"] })).toBe(false)
  })

  it("message kind", () => {
    expect(matches({ kinds: ["reply", "forward"] }, facts({ kind: "reply" }))).toBe(true)
    expect(matches({ kinds: ["reply", "forward"] }, facts({ kind: "new" }))).toBe(false)
  })

  it("subject contains, case-insensitive", () => {
    expect(matches({ subjectContains: ["invoice", "QUARTERLY"] })).toBe(true)
    expect(matches({ subjectContains: ["invoice"] })).toBe(false)
  })

  it("date window in a time zone", () => {
    const window = { start: "2026-06-01T14:00", end: "2026-06-02", timeZone: "Europe/Berlin" } // 12:00 UTC
    expect(matches({ dateWindow: window }, facts({ now: Date.parse("2026-06-01T11:59:59Z") }))).toBe(false)
    expect(matches({ dateWindow: window }, facts({ now: Date.parse("2026-06-01T12:00:00Z") }))).toBe(true)
    expect(matches({ dateWindow: window }, facts({ now: Date.parse("2026-06-02T21:59:59Z") }))).toBe(true)
    expect(matches({ dateWindow: window }, facts({ now: Date.parse("2026-06-02T22:00:00Z") }))).toBe(false)
  })

  it("present fields must all match (AND)", () => {
    expect(matches({ groups: ["Sales"], recipientScope: "external", kinds: ["new"] })).toBe(true)
    expect(matches({ groups: ["Sales"], recipientScope: "internal", kinds: ["new"] })).toBe(false)
  })
})

describe("exceptions", () => {
  it("any present exception field that matches excludes the rule (OR)", () => {
    const r = rule("r", { recipientScope: "external" }, { exceptions: { recipientDomains: ["partner.example"], subjectContains: ["[no-sig]"] } })
    expect(judgeRule(r, facts(), "bob@customer.example")._tag).toBe("Matched")
    expect(judgeRule(r, facts(), "pat@partner.example")).toMatchObject({ _tag: "ExceptionHit", exception: "recipientDomains" })
    expect(judgeRule(r, facts({ subject: "Hi [NO-SIG]" }), "bob@customer.example")).toMatchObject({ _tag: "ExceptionHit", exception: "subjectContains" })
  })
})

describe("order, continue and grouping", () => {
  const rules = [
    rule("disabled", {}, { enabled: false }),
    rule("sales-reply", { groups: ["Sales"], kinds: ["reply"] }),
    rule("standard", {}, { continue: true }),
    rule("banner", { recipientScope: "external" }, { continue: true }),
    rule("disclaimer", { recipientScope: "external" }, { position: "bottom" }),
    rule("never", {})
  ]

  it("the first matching rule decides; disabled rules are skipped", () => {
    expect(rulesForRecipient(rules, facts({ kind: "reply" }), "bob@customer.example").map((r) => r.id)).toEqual(["sales-reply"])
  })

  it("continue lets later rules add elements, until a rule without continue", () => {
    expect(rulesForRecipient(rules, facts(), "bob@customer.example").map((r) => r.id)).toEqual(["standard", "banner", "disclaimer"])
    expect(rulesForRecipient(rules, facts(), "carol@demo.example").map((r) => r.id)).toEqual(["standard", "never"])
  })

  it("groups recipients with the same rules, keeping their order", () => {
    const groups = groupRecipients(rules, facts(), ["carol@demo.example", "bob@customer.example", "dave@demo.example", "eve@other.example"])
    expect(groups.map((g) => [g.recipients, g.rules.map((r) => r.id)])).toEqual([
      [
        ["carol@demo.example", "dave@demo.example"],
        ["standard", "never"]
      ],
      [
        ["bob@customer.example", "eve@other.example"],
        ["standard", "banner", "disclaimer"]
      ]
    ])
  })

  it("recipients without any rule form their own group with no rules", () => {
    const only = [rule("ext", { recipientScope: "external" })]
    const groups = groupRecipients(only, facts(), ["carol@demo.example", "bob@customer.example"])
    expect(groups.map((g) => [g.recipients, g.rules.map((r) => r.id)])).toEqual([
      [["carol@demo.example"], []],
      [["bob@customer.example"], ["ext"]]
    ])
  })

  it("skips rules whose template is missing", () => {
    const r = [rule("broken", {}, { templateId: "gone" }), rule("ok", {})]
    expect(rulesForRecipient(r, facts(), "x@y.example", (id) => id !== "gone").map((x) => x.id)).toEqual(["ok"])
  })

  it("explains every rule: why it was skipped, which applied, which were not reached", () => {
    const explained = explainRules(rules, facts(), "carol@demo.example")
    expect(explained.map((e) => [e.rule.id, e.verdict._tag])).toEqual([
      ["disabled", "Disabled"],
      ["sales-reply", "ConditionFailed"],
      ["standard", "Matched"],
      ["banner", "ConditionFailed"],
      ["disclaimer", "ConditionFailed"],
      ["never", "Matched"]
    ])
    expect(explained[1]!.verdict).toMatchObject({ condition: "kinds", detail: "message is new, rule wants reply" })
    expect(explained[3]!.verdict).toMatchObject({ condition: "recipientScope", detail: "recipient carol@demo.example is internal" })
    const decided = explainRules([rule("first", {}), rule("second", {})], facts(), "x@y.example")
    expect(decided[1]!.verdict).toEqual({ _tag: "NotReached", decidedBy: "first" })
  })
})

describe("with the actor's clock", () => {
  effectIt.effect("a date-windowed rule follows TestClock time", () =>
    Effect.gen(function* () {
      const banner = rule("banner", { dateWindow: { start: "2026-12-01", end: "2026-12-31", timeZone: "America/New_York" } })
      const judge = Effect.map(Clock.currentTimeMillis, (now) => judgeRule(banner, facts({ now }), "x@y.example")._tag)
      yield* TestClock.setTime(Date.parse("2026-12-01T04:59:59Z"))
      expect(yield* judge).toBe("ConditionFailed")
      yield* TestClock.adjust("1 second")
      expect(yield* judge).toBe("Matched")
      yield* TestClock.setTime(Date.parse("2027-01-01T05:00:00Z"))
      expect(yield* judge).toBe("ConditionFailed")
    })
  )
})
