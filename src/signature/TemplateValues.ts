import { DirectoryAttributes, type DirectoryUser } from "../domain/Directory.js"

/**
 * The values a template is rendered with: the sender's directory attributes
 * under their LDAP names and the custom attributes as `custom.<name>`. Values
 * are plain strings; nothing in them is ever read as template syntax.
 */
export type TemplateValues = ReadonlyMap<string, string>

const CUSTOM_PREFIX = "custom."
/**
 * `photo`: the SHA-256 of the sender's directory photo, so `{{#photo}}` shows
 * when there is one and a changed photo changes the render cache key. The
 * compiler lets `{{photo}}` stand only as an `<img>` source.
 */
const PHOTO_VALUE = "photo"

/** True when `name` can be used as a placeholder or attribute condition. */
export const isKnownPlaceholder = (name: string): boolean =>
  name === PHOTO_VALUE ||
  (DirectoryAttributes as ReadonlyArray<string>).includes(name) ||
  (name.startsWith(CUSTOM_PREFIX) && name.length > CUSTOM_PREFIX.length)

/** The placeholder names of a user's values (for listing in the admin UI). */
export const placeholderNames = (user?: DirectoryUser): ReadonlyArray<string> => [
  ...DirectoryAttributes,
  PHOTO_VALUE,
  ...Object.keys(user?.custom ?? {}).map((k) => CUSTOM_PREFIX + k)
]

const cache = new WeakMap<DirectoryUser, TemplateValues>()

/** The user's values; memoised per (immutable) DirectoryUser object. */
export const userValues = (user: DirectoryUser): TemplateValues => {
  const known = cache.get(user)
  if (known !== undefined) return known
  const values = new Map<string, string>()
  for (const name of DirectoryAttributes) {
    const value = user[name]
    if (value !== undefined) values.set(name, value)
  }
  for (const [name, value] of Object.entries(user.custom)) values.set(CUSTOM_PREFIX + name, value)
  if (user.photo !== undefined) values.set(PHOTO_VALUE, user.photo.sha256)
  cache.set(user, values)
  return values
}

/** Reads an attribute by its rule/template name ("title", "custom.costCentre"); absent → "". */
export const attributeValue = (user: DirectoryUser, name: string): string => userValues(user).get(name) ?? ""

/** Values from a plain record (tests, previews with made-up data). */
export const valuesFromRecord = (record: Readonly<Record<string, string>>): TemplateValues => new Map(Object.entries(record))

// 53-bit string hash (cyrb53): cheap, and a collision needs two value sets of the
// same user with equal hashes, which would only serve one stale render.
const hash53 = (text: string): string => {
  let h1 = 0xdeadbeef
  let h2 = 0x41c6ce57
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i)
    h1 = Math.imul(h1 ^ ch, 2654435761)
    h2 = Math.imul(h2 ^ ch, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36)
}

const identityCache = new WeakMap<TemplateValues, string>()

/**
 * A key that changes whenever any value changes: the directory entry's
 * identity and version for the render cache, without the store having to keep
 * a version number per entry.
 */
export const valuesIdentity = (values: TemplateValues): string => {
  const known = identityCache.get(values)
  if (known !== undefined) return known
  let text = ""
  for (const [k, v] of [...values].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) text += `${k}\u0000${v}\u0001`
  const id = `${values.get("mail") ?? ""}#${text.length}:${hash53(text)}`
  identityCache.set(values, id)
  return id
}
