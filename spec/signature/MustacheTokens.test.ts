import fc from "fast-check"
import Mustache from "mustache"
import { describe, expect, it } from "vitest"
import { type MustacheToken, parseMustacheTokens } from "../../src/signature/MustacheTokens.js"

/**
 * The linear Mustache parser returns exactly what mustache.js's own parser
 * returns (tokens, positions, standalone lines stripped, error messages), on
 * random templates built from Mustache's syntax pieces.
 */

const mustacheParse = (template: string): unknown => {
  const writer = new Mustache.Writer() as Mustache.Writer & { templateCache: unknown }
  writer.templateCache = undefined
  return writer.parse(template)
}

// partial tokens carry three more fields in mustache.js (indentation, for rendering partials, which Imprint refuses)
const normalise = (tokens: ReadonlyArray<unknown>): unknown =>
  (tokens as ReadonlyArray<MustacheToken>).map((t) => (t[0] === ">" ? t.slice(0, 4) : t[4] !== undefined ? [t[0], t[1], t[2], t[3], normalise(t[4]), t[5]] : t))

const outcome = (parse: (t: string) => unknown, template: string) => {
  try {
    return { tokens: normalise(parse(template) as ReadonlyArray<unknown>) }
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) }
  }
}

const PIECES = [
  "{{",
  "}}",
  "{{{",
  "}}}",
  "{",
  "}",
  "#",
  "^",
  "/",
  "!",
  "&",
  ">",
  "=",
  "a",
  "b",
  "x.y",
  " ",
  "  ",
  "\n",
  "\t",
  "\r\n",
  "\u00a0",
  "\u2028",
  "{{a}}",
  "{{ b }}",
  "{{#a}}",
  "{{/a}}",
  "{{^b}}",
  "{{/b}}",
  "{{! note }}",
  "{{{a}}}",
  "{{& b}}",
  "{{> p}}",
  "{{=<% %>=}}",
  "<%",
  "%>",
  "<%#a%>",
  "<%/a%>",
  "<p>",
  "</p>",
  "é"
]
const template = fc.array(fc.constantFrom(...PIECES), { maxLength: 40 }).map((parts) => parts.join(""))

describe("parseMustacheTokens", () => {
  it("matches mustache.js on random templates", () => {
    fc.assert(
      fc.property(template, (t) => {
        expect(outcome(parseMustacheTokens, t)).toEqual(outcome(mustacheParse, t))
      }),
      { numRuns: 5_000 }
    )
  })

  it("matches mustache.js on standalone lines, delimiters and errors", () => {
    for (const t of [
      "{{displayName}}\n  {{#mobile}}  \nM: {{mobile}}\n{{/mobile}}\nend",
      "a\r\n{{! c }}\r\nb",
      "{{=<% %>=}}<% a %>{{b}}<%={{ }}=%>{{c}}",
      "{{= =}}",
      "{{=a=}}",
      "{{a",
      "{{#a}}",
      "{{/a}}",
      "{{#a}}{{/b}}",
      "{{{a}}",
      "{{{a}}}}",
      "{{}}",
      "{{ }}",
      "{{#}}{{/}}"
    ]) {
      expect(outcome(parseMustacheTokens, t), t).toEqual(outcome(mustacheParse, t))
    }
  })
})
