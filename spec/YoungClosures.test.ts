import { readdirSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"
import { describe, expect, it } from "vitest"

/**
 * V8's parser allocates a function literal assigned straight to a property (`this.x = () => …`,
 * `o[k] = function () {}`, `o.x ??= () => …`) in the old generation. A dead old closure stays live
 * for the young generation's collector until the next full collection, and keeps whatever its
 * context reaches: per message, that is the message (perf/issue-16.md, "the ninth session";
 * patches "effect-young-closures" for effect's own). In src/ such a closure is bound to a local
 * first: `const waiter = (…) => …; this.waiter = waiter`.
 */
const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "src")

const ASSIGNMENTS = new Set([
  ts.SyntaxKind.EqualsToken,
  ts.SyntaxKind.QuestionQuestionEqualsToken,
  ts.SyntaxKind.BarBarEqualsToken,
  ts.SyntaxKind.AmpersandAmpersandEqualsToken
])

/** `file:line` of every function literal assigned straight to a property in `text` */
const oldClosures = (file: string, text: string): Array<string> => {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true)
  const found: Array<string> = []
  const visit = (node: ts.Node): void => {
    if (ts.isBinaryExpression(node) && ASSIGNMENTS.has(node.operatorToken.kind)) {
      const target = node.left
      let value: ts.Expression = node.right
      // parentheses and type assertions leave a function literal a function literal
      while (ts.isParenthesizedExpression(value) || ts.isAsExpression(value) || ts.isSatisfiesExpression(value) || ts.isNonNullExpression(value))
        value = value.expression
      if ((ts.isPropertyAccessExpression(target) || ts.isElementAccessExpression(target)) && (ts.isArrowFunction(value) || ts.isFunctionExpression(value)))
        found.push(`${file}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`)
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

const sources = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : []
  )

describe("young closures", () => {
  it("src/ assigns no function literal straight to a property", () => {
    const files = sources(SRC)
    expect(files.length).toBeGreaterThan(100)
    expect(files.flatMap((f) => oldClosures(path.relative(SRC, f), readFileSync(f, "utf8")))).toEqual([])
  })

  it("the scan finds the forms V8 pretenures and passes the ones it does not", () => {
    const text = [
      "this.a = () => 1",
      "o.b = function () {}",
      "o[k] = (x: number) => x",
      "o.c ??= () => 2",
      "o.d = ((y) => y) as F",
      "const e = () => 3; o.e = e",
      "o.f = (0, () => 4)",
      "o.g = { h: () => 5 }",
      "let i = () => 6"
    ].join("\n")
    expect(oldClosures("t.ts", text)).toEqual(["t.ts:1", "t.ts:2", "t.ts:3", "t.ts:4", "t.ts:5"])
  })
})
