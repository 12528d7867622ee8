import { Either, Option, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { DirectoryUser } from "../../src/domain/Directory.js"
import { Rule, SignatureSettings } from "../../src/domain/Rule.js"
import { NoSignature, Stamp, type SignatureDecision, type SignatureElement } from "../../src/domain/Signature.js"
import { Template } from "../../src/domain/Template.js"
import { RenderCache } from "../../src/signature/RenderCache.js"
import { previewRules } from "../../src/signature/RulesTester.js"
import { MARKER_ATTRIBUTE, resolveSignature, type ResolveInput } from "../../src/signature/SignatureResolver.js"
import { compileTemplate, type CompiledTemplate } from "../../src/signature/TemplateEngine.js"

const compiled = (id: string, html: string, version = 1, text?: string): CompiledTemplate => {
  const r = compileTemplate(new Template({ id, name: id, html, version, ...(text !== undefined ? { text } : {}) }))
  if (Either.isLeft(r)) throw new Error(r.left.message)
  return r.right
}
const rule = (o: object): Rule => Schema.decodeUnknownSync(Rule)({ name: "r", ...o })
const alice = new DirectoryUser({
  mail: "alice@demo.example",
  displayName: "Alice Martin",
  mobile: "+44 7700 900101",
  proxyAddresses: ["smtp:am@demo.example"]
})

const templates = new Map([
  ["sig", compiled("sig", "<p>{{displayName}}{{#mobile}} M: {{mobile}}{{/mobile}}</p>")],
  ["disc", compiled("disc", "<p>Confidential.</p>", 1, "Confidential.")]
])
const rules = [
  rule({ id: "sig", templateId: "sig", continue: true }),
  rule({ id: "disc", templateId: "disc", position: "bottom", conditions: { recipientScope: "external" } })
]
const input = (over: Partial<ResolveInput> = {}): ResolveInput => ({
  rules,
  templates,
  user: Option.some(alice),
  envelope: { mailFrom: "alice@demo.example", rcptTo: ["carol@demo.example", "bob@customer.example"] },
  header: { subject: "Hello" },
  tenantDomains: ["demo.example"],
  settings: new SignatureSettings({ skipIfPresent: ["-- sent with Imprint"] }),
  now: Date.parse("2026-06-01T12:00:00Z"),
  ...over
})
const stamp = (d: SignatureDecision): Stamp => {
  if (d._tag !== "Stamp") throw new Error(`expected a Stamp, got ${d.reason}`)
  return d
}

describe("resolveSignature", () => {
  it("stamps per recipient group, with rendered HTML, text, marker and position", () => {
    const d = stamp(resolveSignature(input()))
    expect(d.skipIfPresent).toEqual(["-- sent with Imprint"])
    expect(d.groups.map((g) => [g.recipients, g.elements.map((e) => [e.ruleId, e.position])])).toEqual([
      [["carol@demo.example"], [["sig", "above-reply"]]],
      [
        ["bob@customer.example"],
        [
          ["sig", "above-reply"],
          ["disc", "bottom"]
        ]
      ]
    ])
    const sig = d.groups[0]!.elements[0]!
    expect(sig.html).toBe(`<div ${MARKER_ATTRIBUTE}="sig"><p>Alice Martin M: +44 7700 900101</p></div>`)
    expect(sig.html).toContain(sig.marker)
    expect(sig.text).toBe("Alice Martin M: +44 7700 900101")
    expect(d.groups[1]!.elements[1]!.text).toBe("Confidential.")
    // The decision is a valid contract value for the stamper.
    expect(() => Schema.validateSync(Stamp)(d)).not.toThrow()
  })

  it("says why there is no signature", () => {
    const reason = (d: SignatureDecision) => (d as NoSignature).reason
    expect(reason(resolveSignature(input({ user: Option.none() })))).toBe("sender-not-in-directory")
    expect(reason(resolveSignature(input({ rules: [rule({ id: "x", templateId: "sig", conditions: { kinds: ["reply"] } })] })))).toBe("no-rule-matched")
    expect(reason(resolveSignature(input({ envelope: { mailFrom: "", rcptTo: ["a@b.example"] } })))).toBe("null-sender")
    expect(reason(resolveSignature(input({ envelope: { mailFrom: "alice@demo.example", rcptTo: [] } })))).toBe("no-recipients")
  })

  it("reads the message kind from the headers", () => {
    const replyOnly = [rule({ id: "r", templateId: "sig", conditions: { kinds: ["reply"] } })]
    expect(resolveSignature(input({ rules: replyOnly, header: { subject: "AW: Hello" } }))._tag).toBe("Stamp")
    expect(resolveSignature(input({ rules: replyOnly, header: { subject: "Hello", inReplyTo: "<m@x>" } }))._tag).toBe("Stamp")
    expect(resolveSignature(input({ rules: replyOnly, header: { subject: "WG: Hello" } }))._tag).toBe("NoSignature")
  })

  it("skips a rule whose template is missing, so the next matching rule decides", () => {
    const r = [rule({ id: "gone", templateId: "nope" }), rule({ id: "sig", templateId: "sig" })]
    expect(stamp(resolveSignature(input({ rules: r }))).groups[0]!.elements.map((e) => e.ruleId)).toEqual(["sig"])
  })
})

describe("render cache", () => {
  const firstElement = (i: ResolveInput): SignatureElement => stamp(resolveSignature(i)).groups[0]!.elements[0]!
  const one = { envelope: { mailFrom: "alice@demo.example", rcptTo: ["carol@demo.example"] } }

  it("hits for the same template version and directory values", () => {
    const cache = new RenderCache<SignatureElement>(8)
    const a = firstElement(input({ ...one, cache }))
    const b = firstElement(input({ ...one, cache }))
    expect(b).toBe(a)
    expect([cache.hits, cache.misses]).toEqual([1, 1])
  })

  it("misses when the template version changes", () => {
    const cache = new RenderCache<SignatureElement>(8)
    firstElement(input({ ...one, cache }))
    const v2 = new Map(templates).set("sig", compiled("sig", "<p>{{displayName}} (v2)</p>", 2))
    expect(firstElement(input({ ...one, cache, templates: v2 })).html).toContain("Alice Martin (v2)")
    expect([cache.hits, cache.misses]).toEqual([0, 2])
  })

  it("misses when the user's directory values change", () => {
    const cache = new RenderCache<SignatureElement>(8)
    firstElement(input({ ...one, cache }))
    const moved = new DirectoryUser({ ...alice, mobile: "+44 7700 900999" })
    expect(firstElement(input({ ...one, cache, user: Option.some(moved) })).html).toContain("900999")
    expect([cache.hits, cache.misses]).toEqual([0, 2])
    // An equal copy of the entry (a reload from the store) hits.
    firstElement(input({ ...one, cache, user: Option.some(new DirectoryUser({ ...moved })) }))
    expect(cache.hits).toBe(1)
  })

  it("is bounded, evicting the least recently used entry", () => {
    const cache = new RenderCache<number>(2)
    cache.getOrCompute("a", () => 1)
    cache.getOrCompute("b", () => 2)
    cache.getOrCompute("a", () => 1)
    cache.getOrCompute("c", () => 3)
    expect(cache.size).toBe(2)
    expect(cache.getOrCompute("b", () => 20)).toBe(20)
    expect(cache.getOrCompute("a", () => 10)).toBe(10)
  })
})

describe("previewRules", () => {
  it("explains each recipient's rules and renders the result", () => {
    const withReply = [rule({ id: "reply", templateId: "sig", conditions: { kinds: ["reply"] } }), ...rules]
    const p = previewRules({
      rules: withReply,
      templates,
      user: Option.some(alice),
      sender: "am@demo.example",
      recipients: ["carol@demo.example", "bob@customer.example"],
      subject: "Offer",
      kind: "new",
      tenantDomains: ["demo.example"],
      now: Date.parse("2026-06-01T12:00:00Z")
    })
    expect(p.kind).toBe("new")
    const carol = p.recipients[0]!
    expect(carol.applied).toEqual(["sig"])
    expect(carol.outcomes.map((o) => o.summary)).toEqual([
      "skipped: condition kinds not met (message is new, rule wants reply)",
      "applied",
      "skipped: condition recipientScope not met (recipient carol@demo.example is internal)"
    ])
    expect(p.recipients[1]!.applied).toEqual(["sig", "disc"])
    expect(stamp(p.decision).groups[1]!.elements[0]!.html).toContain("Alice Martin")
  })

  it("uses the given kind, or reads it from the subject", () => {
    const replyOnly = [rule({ id: "r", templateId: "sig", conditions: { kinds: ["reply"] } })]
    const base = {
      rules: replyOnly,
      templates,
      user: Option.some(alice),
      sender: "alice@demo.example",
      recipients: ["x@y.example"],
      tenantDomains: ["demo.example"],
      now: 0
    }
    expect(previewRules({ ...base, subject: "Offer", kind: "reply" }).decision._tag).toBe("Stamp")
    expect(previewRules({ ...base, subject: "Re: Offer" }).kind).toBe("reply")
    expect(previewRules({ ...base, subject: "Offer" }).decision._tag).toBe("NoSignature")
  })
})
