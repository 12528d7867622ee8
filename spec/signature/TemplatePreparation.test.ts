import { Either, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { Rule } from "../../src/domain/Rule.js"
import { Template } from "../../src/domain/Template.js"
import { ruleProblems } from "../../src/signature/RuleValidation.js"
import { prepareTemplate } from "../../src/signature/TemplatePreparation.js"

describe("prepareTemplate", () => {
  it("sanitizes, compiles and reports what was removed", () => {
    const prepared = Either.getOrThrow(
      prepareTemplate(new Template({ id: "t", name: "t", html: '<p onclick="x()">{{displayName}}</p><script>x</script>', version: 3 }))
    )
    expect(prepared.template.html).toBe("<p>{{displayName}}</p>")
    expect(prepared.template.version).toBe(3)
    expect(prepared.removed.map((r) => r.name)).toEqual(["onclick", "script"])
    expect(prepared.compiled.placeholders).toEqual(["displayName"])
  })

  it("refuses a template that does not compile", () => {
    const r = prepareTemplate(new Template({ id: "t", name: "t", html: "<p>{{nme}}</p>" }))
    expect(Either.isLeft(r) && r.left.message).toContain("unknown placeholder {{nme}}")
  })
})

describe("ruleProblems", () => {
  const rule = (o: object) => Schema.decodeUnknownSync(Rule)({ id: "r", name: "r", templateId: "t", ...o })
  const ids = new Set(["t"])

  it("finds nothing wrong with a sound rule", () => {
    expect(ruleProblems(rule({ conditions: { dateWindow: { start: "2026-12-01", end: "2026-12-31", timeZone: "Europe/Paris" } } }), ids)).toEqual([])
  })

  it("names each problem with its path", () => {
    const problems = ruleProblems(
      rule({
        templateId: "gone",
        conditions: {
          dateWindow: { start: "2026-12-31", end: "2026-12-01" },
          attributes: [{ name: "costCentre", op: "equals", value: "1" }],
          senders: ["not-an-address"]
        },
        exceptions: { dateWindow: { start: "2026-01-01", timeZone: "Nowhere/City" } }
      }),
      ids
    )
    expect(problems).toEqual([
      'templateId: no template "gone"',
      "conditions.dateWindow: the end (2026-12-01) is not after the start (2026-12-31)",
      'conditions.attributes[0].name: "costCentre" is not a directory attribute (displayName, title, …) or custom.<name>',
      'conditions.senders[0]: "not-an-address" is not an address',
      'exceptions.dateWindow: "Nowhere/City" is not an IANA time zone'
    ])
  })
})
