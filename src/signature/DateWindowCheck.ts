import type { DateWindow } from "../domain/Rule.js"

/**
 * Date windows are written as local wall-clock times ("2026-12-01T00:00" or a
 * bare date) in an IANA time zone, and compared as instants, so a window is
 * exact across daylight-saving changes. A local time that does not exist
 * (skipped by a spring-forward) means the instant right after the gap; one
 * that exists twice (fall-back) means its first occurrence, as Temporal's
 * "compatible" disambiguation does. `start` is inclusive, `end` exclusive; a
 * bare date as `end` includes that whole day.
 */

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?$/
const DAY_MS = 86_400_000
/** Formatters are costly to build and few zones are in use: kept per zone, up to this many. */
const MAX_CACHED_ZONES = 64

const formatters = new Map<string, Intl.DateTimeFormat>()

const formatter = (timeZone: string): Intl.DateTimeFormat => {
  let f = formatters.get(timeZone)
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit"
    })
    if (formatters.size >= MAX_CACHED_ZONES) formatters.clear()
    formatters.set(timeZone, f)
  }
  return f
}

/** The wall-clock time at `instant` in `timeZone`, as if it were UTC (ms). */
const wallClock = (instant: number, timeZone: string): number => {
  const parts: Record<string, number> = {}
  for (const p of formatter(timeZone).formatToParts(instant)) if (p.type !== "literal") parts[p.type] = Number(p.value)
  return Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!)
}

const offsetAt = (instant: number, timeZone: string): number => wallClock(instant, timeZone) - instant

/** The instant of a local wall-clock time (given as if UTC) in `timeZone`. */
export const localToInstant = (local: number, timeZone: string): number => {
  // Offsets a day before and after cover any single transition near `local`.
  const before = offsetAt(local - DAY_MS, timeZone)
  const after = offsetAt(local + DAY_MS, timeZone)
  const candidates = [local - before, local - after].filter((t) => wallClock(t, timeZone) === local).sort((a, b) => a - b)
  // No candidate: the local time fell into a gap; the pre-transition offset lands after it.
  return candidates[0] ?? local - before
}

export class InvalidDateWindow extends Error {}

/** Parses "YYYY-MM-DD" or "YYYY-MM-DDTHH:mm[:ss]"; a bare date as an end moves to the next midnight. */
const parseLocal = (text: string, isEnd: boolean): number => {
  const m = LOCAL.exec(text.trim())
  if (m === null) throw new InvalidDateWindow(`"${text}" is not a local date-time like 2026-12-01T09:00`)
  const [, y, mo, d, h, mi, s] = m
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0))
  return h === undefined && isEnd ? ms + DAY_MS : ms
}

export interface WindowBounds {
  readonly start?: number
  readonly end?: number
}

const boundsCache = new WeakMap<DateWindow, WindowBounds>()

/** The window as instants; throws InvalidDateWindow for a bad date or time zone. */
export const windowBounds = (window: DateWindow): WindowBounds => {
  const known = boundsCache.get(window)
  if (known !== undefined) return known
  try {
    formatter(window.timeZone)
  } catch {
    throw new InvalidDateWindow(`"${window.timeZone}" is not an IANA time zone`)
  }
  const bounds: WindowBounds = {
    ...(window.start !== undefined ? { start: localToInstant(parseLocal(window.start, false), window.timeZone) } : {}),
    ...(window.end !== undefined ? { end: localToInstant(parseLocal(window.end, true), window.timeZone) } : {})
  }
  boundsCache.set(window, bounds)
  return bounds
}

/** Why `now` (epoch ms) is outside the window, or undefined when inside. */
export const outsideWindow = (window: DateWindow, now: number): string | undefined => {
  let bounds: WindowBounds
  try {
    bounds = windowBounds(window)
  } catch (e) {
    return e instanceof InvalidDateWindow ? e.message : String(e)
  }
  if (bounds.start !== undefined && now < bounds.start) return `before ${window.start} (${window.timeZone})`
  if (bounds.end !== undefined && now >= bounds.end) return `after ${window.end} (${window.timeZone})`
  return undefined
}
