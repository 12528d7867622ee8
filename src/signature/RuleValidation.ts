import type { Conditions, Rule } from "../domain/Rule.js"
import { InvalidDateWindow, windowBounds } from "./DateWindowCheck.js"
import { isKnownPlaceholder } from "./TemplateValues.js"

/**
 * Problems that make a rule useless rather than invalid JSON: a template that
 * does not exist, a date window that cannot be read or is empty, an attribute
 * condition on a name the directory does not have. The engine copes with all
 * of them (the rule never matches, the tester says why); saving should refuse them.
 */

const conditionProblems = (conditions: Conditions, where: "conditions" | "exceptions"): string[] => {
  const problems: string[] = []
  const window = conditions.dateWindow
  if (window !== undefined) {
    try {
      const { start, end } = windowBounds(window)
      if (start !== undefined && end !== undefined && start >= end)
        problems.push(`${where}.dateWindow: the end (${window.end}) is not after the start (${window.start})`)
    } catch (e) {
      if (!(e instanceof InvalidDateWindow)) throw e
      problems.push(`${where}.dateWindow: ${e.message}`)
    }
  }
  for (const [i, a] of (conditions.attributes ?? []).entries()) {
    if (!isKnownPlaceholder(a.name))
      problems.push(`${where}.attributes[${i}].name: "${a.name}" is not a directory attribute (displayName, title, …) or custom.<name>`)
  }
  for (const [field, list] of [
    ["senders", conditions.senders],
    ["recipientAddresses", conditions.recipientAddresses]
  ] as const) {
    for (const [i, address] of (list ?? []).entries()) {
      if (!/^[^\s@]+@[^\s@]+$/.test(address.trim())) problems.push(`${where}.${field}[${i}]: "${address}" is not an address`)
    }
  }
  return problems
}

/** Human-readable problems with a rule, each starting with its field path; empty when fine. */
export const ruleProblems = (rule: Rule, templateIds: ReadonlySet<string>): ReadonlyArray<string> => [
  ...(templateIds.has(rule.templateId) ? [] : [`templateId: no template "${rule.templateId}"`]),
  ...conditionProblems(rule.conditions, "conditions"),
  ...conditionProblems(rule.exceptions, "exceptions")
]
