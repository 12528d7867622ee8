/**
 * A JSON request body checked before anything parses it for real: its
 * nesting depth first (a linear scan, so `[[[[…` ten thousand levels deep
 * never reaches a recursive decoder or formatter), then its syntax. Both
 * failures are the caller's, answered 400 with the reason.
 */

/** deeper than any payload of the API (a tenant file nests about six levels) */
export const MAX_JSON_DEPTH = 32

export type JsonCheck = { readonly _tag: "Valid"; readonly value: unknown } | { readonly _tag: "Invalid"; readonly message: string }

/** The deepest nesting of arrays and objects in `text`, stopping once past `limit`. */
export const jsonDepth = (text: string, limit = MAX_JSON_DEPTH): number => {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c)
        i++ // a backslash escapes the next character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x5b || c === 0x7b) {
      depth++
      if (depth > deepest) deepest = depth
      if (deepest > limit) return deepest
    } else if (c === 0x5d || c === 0x7d) {
      depth--
    }
  }
  return deepest
}

export const checkJsonText = (text: string): JsonCheck => {
  if (jsonDepth(text) > MAX_JSON_DEPTH) {
    return { _tag: "Invalid", message: `the JSON body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels` }
  }
  try {
    return { _tag: "Valid", value: JSON.parse(text) as unknown }
  } catch (e) {
    return { _tag: "Invalid", message: `the request body is not valid JSON: ${e instanceof Error ? e.message : String(e)}` }
  }
}
