import type { TraceRecord, TraceReply } from "../domain/Trace.js"

/**
 * Trace records as CSV (RFC 4180, CRLF): one row per downstream copy, the
 * transaction's columns repeated on each (a transaction that failed before it
 * had copies is one row with the copy columns empty). Lists inside a cell are
 * separated by spaces. A cell that a spreadsheet would read as a formula
 * (starting with = + - @, tab or CR) gets a leading apostrophe.
 */

export const TRACE_CSV_COLUMNS = [
  "id",
  "node",
  "time",
  "tenant",
  "connector",
  "client",
  "sender",
  "recipients",
  "messageId",
  "size",
  "decision",
  "reason",
  "outcome",
  "error",
  "reply",
  "durationMs",
  "phase",
  "copy",
  "copyRecipients",
  "rules",
  "templates",
  "stamped",
  "skipped",
  "copyReply",
  "copyDurationMs"
] as const

const FORMULA_START = /^[=+\-@\t\r]/

export const csvCell = (value: string | number | undefined): string => {
  if (value === undefined) return ""
  const text = typeof value === "number" ? String(value) : FORMULA_START.test(value) ? `'${value}` : value
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

const reply = (r: TraceReply | undefined) => (r === undefined ? undefined : [r.code, r.enhanced, r.text].filter((x) => x !== undefined).join(" "))

export const traceCsvRows = (r: TraceRecord): Array<string> => {
  const head = [
    r.id,
    r.node,
    new Date(r.at).toISOString(),
    r.tenant,
    r.connector,
    r.client,
    r.sender,
    r.recipients.join(" "),
    r.messageId,
    r.size,
    r.decision,
    r.reason,
    r.outcome,
    r.error,
    reply(r.reply),
    r.durationMs,
    r.phase
  ]
  const copies =
    r.copies.length === 0
      ? [[undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined]]
      : r.copies.map((c, i) => [
          i + 1,
          c.recipients.join(" "),
          c.rules.join(" "),
          c.templates.join(" "),
          c.stamped.join(" "),
          c.skipped,
          reply(c.reply),
          c.durationMs
        ])
  return copies.map((copy) => [...head, ...copy].map(csvCell).join(","))
}

export const traceCsv = (records: ReadonlyArray<TraceRecord>): string => [TRACE_CSV_COLUMNS.join(","), ...records.flatMap(traceCsvRows)].join("\r\n") + "\r\n"
