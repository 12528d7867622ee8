import { DirectoryAttributes, type DirectoryUser } from "../domain/Directory.js"
import { isMappableAttribute, mapRecord, type SourceRecord } from "../sync/AttributeMapping.js"

/**
 * Rows of a bulk import (CSV or JSON) or one PUT body → DirectoryUsers, with
 * one reason per rejected row. Values go through the directory sync's
 * mapRecord, so an import and a sync agree on what a value may be: trimmed,
 * no control characters, no markup (a phone with tags is refused), bounded
 * lengths, mail validated. Duplicates (mail, any case) keep the first row.
 */

export interface RejectedRow {
  /** 1-based: the line of a CSV file where the record starts, the position in a JSON array */
  readonly row: number
  readonly mail?: string
  readonly reason: string
}

export interface ParsedRows {
  readonly users: Array<DirectoryUser>
  readonly rejected: Array<RejectedRow>
  /**
   * the `photo` column of accepted users, by lowercased mail, as written
   * (base64 or a `data:image/…;base64,` URL); decoded and normalised by
   * ImportPhotos before anything is written
   */
  readonly photos?: ReadonlyMap<string, { readonly row: number; readonly text: string }>
}

/** The column (CSV) or key (JSON) of a user's photo: base64 of a PNG, JPEG or GIF, or a data: URL of one. */
export const PHOTO_COLUMN = "photo"

/** Columns / keys an import may name: the attributes, proxyAddresses, memberOf and custom.<name>. */
export const IMPORT_COLUMNS: ReadonlyArray<string> = [...DirectoryAttributes, "proxyAddresses", "memberOf", "photo"]
export const LIST_SEPARATOR = ";"

export const isImportColumn = (name: string): boolean => isMappableAttribute(name)

/** identity mapping over the names this record has (custom.x → custom.x) */
const identity = (names: Iterable<string>): Record<string, string> => {
  const mapping: Record<string, string> = { mail: "mail" }
  for (const name of names) mapping[name] = name
  return mapping
}

/** One record → a user or the reason it was refused. */
export const checkRecord = (record: SourceRecord, row: number): { user: DirectoryUser } | { rejected: RejectedRow } => {
  const change = mapRecord(record, identity(Object.keys(record)), `row ${row}`)
  switch (change._tag) {
    case "Upsert":
      return { user: change.user }
    case "Rejected":
      return { rejected: { row, ...(change.mail !== undefined ? { mail: change.mail } : {}), reason: change.reason } }
    default:
      return { rejected: { row, reason: "not a user" } }
  }
}

/** Checks rows in order; the second row with a mail already seen is refused, naming the first. */
export const collectRows = (rows: Iterable<{ readonly row: number; readonly record: SourceRecord; readonly photo?: string }>): ParsedRows => {
  const users: Array<DirectoryUser> = []
  const rejected: Array<RejectedRow> = []
  const photos = new Map<string, { row: number; text: string }>()
  const firstRow = new Map<string, number>()
  for (const { row, record, photo } of rows) {
    const checked = checkRecord(record, row)
    if ("rejected" in checked) {
      rejected.push(checked.rejected)
      continue
    }
    const key = checked.user.mail.toLowerCase()
    const first = firstRow.get(key)
    if (first !== undefined) {
      rejected.push({ row, mail: checked.user.mail, reason: `duplicate mail: ${checked.user.mail} is already on row ${first}` })
      continue
    }
    firstRow.set(key, row)
    users.push(checked.user)
    if (photo !== undefined && photo.trim() !== "") photos.set(key, { row, text: photo })
  }
  return { users, rejected, photos }
}

/**
 * A JSON user object → a record: string attributes, string arrays for
 * proxyAddresses/memberOf, and `custom` as an object of strings. Anything
 * else is a reason.
 */
export const jsonRecord = (value: unknown): SourceRecord | string => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not an object"
  const record: Record<string, string | ReadonlyArray<string>> = {}
  for (const [key, v] of Object.entries(value)) {
    // the photo is read apart (parseJsonUsers); a stored photo reference in a PUT body is not an attribute
    if (v === undefined || v === null || key === PHOTO_COLUMN) continue
    if (key === "custom") {
      if (typeof v !== "object" || Array.isArray(v)) return "custom must be an object of strings"
      for (const [name, cv] of Object.entries(v as Record<string, unknown>)) {
        if (!isImportColumn(`custom.${name}`)) return `custom.${name} is not a valid custom attribute name (letters, digits, _; 1-64)`
        if (typeof cv !== "string") return `custom.${name} must be a string`
        record[`custom.${name}`] = cv
      }
      continue
    }
    if (key === "proxyAddresses" || key === "memberOf") {
      if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) return `${key} must be an array of strings`
      record[key] = v as Array<string>
      continue
    }
    if (!isImportColumn(key) || key.startsWith("custom.")) return `unknown attribute "${key}"; known: ${IMPORT_COLUMNS.join(", ")}, custom`
    if (typeof v !== "string") return `${key} must be a string`
    record[key] = v
  }
  return record
}

/** A JSON array of user objects → users and rejected rows (row = 1-based position). */
export const parseJsonUsers = (items: ReadonlyArray<unknown>): ParsedRows => {
  const rejected: Array<RejectedRow> = []
  const rows: Array<{ row: number; record: SourceRecord; photo?: string }> = []
  items.forEach((item, i) => {
    const photo = typeof item === "object" && item !== null ? (item as { photo?: unknown }).photo : undefined
    const record =
      photo !== undefined && photo !== null && typeof photo !== "string"
        ? "photo must be a string: base64 of a PNG, JPEG or GIF, or a data:image/…;base64, URL"
        : jsonRecord(item)
    if (typeof record === "string") {
      const mail =
        typeof item === "object" && item !== null && typeof (item as { mail?: unknown }).mail === "string" ? (item as { mail: string }).mail : undefined
      rejected.push({ row: i + 1, ...(mail !== undefined ? { mail } : {}), reason: record })
    } else rows.push({ row: i + 1, record, ...(typeof photo === "string" ? { photo } : {}) })
  })
  const checked = collectRows(rows)
  return { ...checked, rejected: [...rejected, ...checked.rejected].sort((a, b) => a.row - b.row) }
}
