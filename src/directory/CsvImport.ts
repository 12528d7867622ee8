import { type Options, parse } from "csv-parse/sync"
import type { SourceRecord } from "../sync/AttributeMapping.js"
import { collectRows, IMPORT_COLUMNS, isImportColumn, LIST_SEPARATOR, type ParsedRows, PHOTO_COLUMN, type RejectedRow } from "./UserRows.js"

/**
 * A directory as a CSV file (RFC 4180, parsed by csv-parse): a header row
 * naming DirectoryUser attributes (mail, displayName, …, proxyAddresses,
 * memberOf, custom.<name>, photo), then one user per record. Quoted fields may hold
 * commas, quotes ("") and line breaks; a line break inside a value becomes
 * one space (directory values are single lines: a spreadsheet's two-line
 * address cell is one street address); a UTF-8 BOM is dropped; CRLF, LF and
 * CR line ends are all accepted. proxyAddresses and memberOf hold several
 * values separated by ';'. Values are trimmed and checked as a sync's are
 * (src/directory/UserRows.ts).
 *
 * A header problem (no mail column, an unknown or repeated column) or a CSV
 * syntax error (an unclosed quote) refuses the whole file: one rejected row,
 * no users. Otherwise each bad row is refused on its own, with its line.
 */

export type CsvRejected = RejectedRow
export type CsvImportResult = ParsedRows

const PARSE_OPTIONS: Options = {
  bom: true,
  relax_column_count: true, // a wrong field count is one bad row, not a failed file
  skip_empty_lines: true,
  record_delimiter: ["\r\n", "\n", "\r"],
  info: true
}

const LINE_BREAKS = /[ \t]*(?:\r\n|\n|\r)[ \t]*/g

interface ParsedRecord {
  readonly record: ReadonlyArray<string>
  readonly info: { readonly lines: number; readonly empty_lines: number }
}

const whole = (row: number, reason: string): ParsedRows => ({ users: [], rejected: [{ row, reason }] })

export const parseDirectoryCsv = (text: string): ParsedRows => {
  let records: Array<ParsedRecord>
  try {
    records = parse(text, PARSE_OPTIONS) as unknown as Array<ParsedRecord>
  } catch (e) {
    const err = e as { message?: string; lines?: number }
    return whole(typeof err.lines === "number" ? err.lines : 1, `CSV syntax: ${err.message ?? String(e)}`)
  }
  const [header, ...body] = records
  if (header === undefined) return whole(1, "the file is empty: a header row naming the columns is needed, at least mail")
  const columns = header.record.map((c) => c.trim())
  const headerLine = header.info.lines
  const unknown = columns.filter((c) => !isImportColumn(c) && c !== PHOTO_COLUMN)
  if (unknown.length > 0) {
    return whole(
      headerLine,
      `unknown column${unknown.length > 1 ? "s" : ""} ${unknown.map((c) => `"${c}"`).join(", ")}; columns are ${IMPORT_COLUMNS.join(", ")} and custom.<name>`
    )
  }
  const repeated = columns.filter((c, i) => columns.indexOf(c) !== i)
  if (repeated.length > 0) return whole(headerLine, `column "${repeated[0]}" appears twice`)
  if (!columns.includes("mail")) return whole(headerLine, "no mail column: the header must name mail")

  const wrongWidth: Array<RejectedRow> = []
  const rows: Array<{ row: number; record: SourceRecord; photo?: string }> = []
  let previousEnd = headerLine
  let previousEmpty = header.info.empty_lines
  for (const { record, info } of body) {
    // where the record starts: after the previous one and any blank lines between (a quoted field may span lines)
    const row = previousEnd + 1 + (info.empty_lines - previousEmpty)
    previousEnd = info.lines
    previousEmpty = info.empty_lines
    if (record.length !== columns.length) {
      const mailAt = columns.indexOf("mail")
      const mail = record[mailAt]?.trim()
      wrongWidth.push({
        row,
        ...(mail ? { mail } : {}),
        reason: `${record.length} fields, but the header has ${columns.length} (a value with a comma must be quoted)`
      })
      continue
    }
    const fields: Record<string, string | ReadonlyArray<string>> = {}
    let photo: string | undefined
    columns.forEach((column, i) => {
      if (column === PHOTO_COLUMN) {
        photo = record[i]!
        return
      }
      const value = record[i]!.replace(LINE_BREAKS, " ")
      fields[column] =
        column === "proxyAddresses" || column === "memberOf"
          ? value
              .split(LIST_SEPARATOR)
              .map((v) => v.trim())
              .filter((v) => v !== "")
          : value
    })
    rows.push({ row, record: fields, ...(photo !== undefined ? { photo } : {}) })
  }
  const checked = collectRows(rows)
  return { ...checked, rejected: [...wrongWidth, ...checked.rejected].sort((a, b) => a.row - b.row) }
}
