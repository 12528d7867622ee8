import { Either, Option, Schema } from "effect"
import { describe, expect, it } from "vitest"
import type { SignatureDecision, Stamp } from "../../src/domain/Signature.js"
import { TenantFile } from "../../src/domain/TenantFile.js"
import { demoSignatureContent } from "../../src/signature/DemoContent.js"
import { resolveSignature } from "../../src/signature/SignatureResolver.js"
import { compileTemplate, type CompiledTemplate } from "../../src/signature/TemplateEngine.js"
import { sanitizeTemplate } from "../../src/signature/TemplateSanitizer.js"

const file = Schema.decodeUnknownSync(TenantFile)(
  {
    id: "demo",
    name: "Demo Company",
    domains: ["demo.example"],
    connectors: [],
    ...demoSignatureContent()
  },
  { onExcessProperty: "error" }
)

const templates = new Map<string, CompiledTemplate>(
  (file.templates ?? []).map((t) => {
    const c = compileTemplate(t)
    if (Either.isLeft(c)) throw new Error(c.left.message)
    return [t.id, c.right]
  })
)

const resolve = (sender: string, rcptTo: string[], iso: string, subject = "Hello"): SignatureDecision => {
  const user = Option.fromNullable(
    (file.directory ?? []).find((u) => u.mail === sender || u.proxyAddresses.some((a) => a.toLowerCase().endsWith(`:${sender}`)))
  )
  return resolveSignature({
    rules: file.rules ?? [],
    templates,
    user,
    envelope: { mailFrom: sender, rcptTo },
    header: { subject },
    tenantDomains: file.domains,
    settings: file.settings!,
    now: Date.parse(iso)
  })
}
const groups = (d: SignatureDecision) => (d as Stamp).groups.map((g) => [g.recipients, g.elements.map((e) => e.ruleId)])

describe("demo content", () => {
  it("decodes as a tenant file and its templates pass the sanitizer unchanged in substance", () => {
    expect(file.directory).toHaveLength(5)
    for (const t of file.templates ?? []) expect(sanitizeTemplate(t.html).removed).toEqual([])
  })

  it("gives internal recipients the signature, external ones signature and disclaimer, plus the banner in winter", () => {
    const rcpt = ["bob@demo.example", "client@customer.example"]
    expect(groups(resolve("alice@demo.example", rcpt, "2026-06-01T12:00:00Z"))).toEqual([
      [["bob@demo.example"], ["everyone"]],
      [["client@customer.example"], ["everyone", "external-disclaimer"]]
    ])
    expect(groups(resolve("alice@demo.example", rcpt, "2026-12-24T12:00:00Z"))).toEqual([
      [["bob@demo.example"], ["everyone"]],
      [["client@customer.example"], ["everyone", "winter-banner", "external-disclaimer"]]
    ])
    // No banner on forwards.
    expect(groups(resolve("alice@demo.example", rcpt, "2026-12-24T12:00:00Z", "Fwd: Hello"))[1]![1]).toEqual(["everyone", "external-disclaimer"])
  })

  it("renders a full signature, and drops the mobile line for a user without one", () => {
    const alice = (resolve("a.martin@demo.example", ["x@customer.example"], "2026-06-01T12:00:00Z") as Stamp).groups[0]!.elements[0]!
    expect(alice.html).toContain("Alice Martin")
    expect(alice.html).toContain('href="tel:+447700900101"')
    expect(alice.html).toContain(">+44 7700 900101</a>")
    // the logo is the library's (issue 17); without a library here it renders with its size and no src
    expect(alice.html).toContain('<img width="88" height="88" alt="Demo Company"')
    // the title line does not repeat the department ("Head of Customer Success, Customer Success")
    expect(alice.text).toContain("Alice Martin\nHead of Customer Success\nDemo Company")
    expect(alice.html).toContain('href="https://www.linkedin.com/in/alice-martin-example"')
    expect(alice.text).toContain("T: +44 20 7946 0101 | M: +44 7700 900101")
    expect(alice.text).toContain("LinkedIn <https://www.linkedin.com/company/example>")
    const bob = (resolve("bob@demo.example", ["x@customer.example"], "2026-06-01T12:00:00Z") as Stamp).groups[0]!.elements[0]!
    expect(bob.html).not.toContain("M: ")
    expect(bob.text).not.toContain("M:")
    expect(bob.text).toContain("T: +44 20 7946 0102")
    expect(bob.text).not.toMatch(/\n\n\n/)
  })

  it('leaves a space between each signature above the reply and what follows (the banner, or "On … wrote:")', () => {
    for (const rule of file.rules ?? []) {
      if (rule.position !== "above-reply") continue
      const html = (file.templates ?? []).find((t) => t.id === rule.templateId)!.html
      expect(html).toMatch(/^<table [^>]*style="[^"]*margin: 0 0 16px 0"/)
    }
  })
})
