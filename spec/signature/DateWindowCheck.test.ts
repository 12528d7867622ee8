import { describe, expect, it } from "vitest"
import { DateWindow } from "../../src/domain/Rule.js"
import { localToInstant, outsideWindow, windowBounds } from "../../src/signature/DateWindowCheck.js"

const at = (iso: string) => Date.parse(iso)
const local = (iso: string) => Date.parse(`${iso}Z`)
const inside = (w: DateWindow, iso: string) => outsideWindow(w, at(iso)) === undefined

describe("date windows", () => {
  it("reads start and end in the window's time zone", () => {
    const start = "2026-07-01T09:00"
    expect(windowBounds(new DateWindow({ start, timeZone: "UTC" })).start).toBe(at("2026-07-01T09:00:00Z"))
    expect(windowBounds(new DateWindow({ start, timeZone: "America/New_York" })).start).toBe(at("2026-07-01T13:00:00Z"))
    expect(windowBounds(new DateWindow({ start, timeZone: "Asia/Tokyo" })).start).toBe(at("2026-07-01T00:00:00Z"))
    expect(windowBounds(new DateWindow({ start, timeZone: "Asia/Kolkata" })).start).toBe(at("2026-07-01T03:30:00Z"))
  })

  it("takes start as inclusive, end as exclusive, and a bare end date as the whole day", () => {
    const w = new DateWindow({ start: "2026-12-01", end: "2027-01-31", timeZone: "Europe/London" })
    expect(inside(w, "2026-11-30T23:59:59Z")).toBe(false)
    expect(inside(w, "2026-12-01T00:00:00Z")).toBe(true)
    expect(inside(w, "2027-01-31T23:59:59Z")).toBe(true)
    expect(inside(w, "2027-02-01T00:00:00Z")).toBe(false)
    expect(outsideWindow(w, at("2027-02-01T00:00:00Z"))).toContain("after 2027-01-31")
    expect(outsideWindow(w, at("2026-01-01T00:00:00Z"))).toContain("before 2026-12-01")
  })

  it("is exact across the spring-forward gap (a missing local time means the instant after the gap)", () => {
    // Europe/Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST at 01:00 UTC.
    expect(localToInstant(local("2026-03-29T02:30:00"), "Europe/Berlin")).toBe(at("2026-03-29T01:30:00Z"))
    expect(localToInstant(local("2026-03-29T01:59:00"), "Europe/Berlin")).toBe(at("2026-03-29T00:59:00Z"))
    expect(localToInstant(local("2026-03-29T03:00:00"), "Europe/Berlin")).toBe(at("2026-03-29T01:00:00Z"))
    const w = new DateWindow({ start: "2026-03-29T03:00", timeZone: "Europe/Berlin" })
    expect(inside(w, "2026-03-29T00:59:59Z")).toBe(false)
    expect(inside(w, "2026-03-29T01:00:00Z")).toBe(true)
  })

  it("is exact across the fall-back overlap (a repeated local time means its first occurrence)", () => {
    // Europe/Berlin, 2026-10-25: 03:00 CEST falls back to 02:00 CET at 01:00 UTC; 02:30 happens twice.
    expect(localToInstant(local("2026-10-25T02:30:00"), "Europe/Berlin")).toBe(at("2026-10-25T00:30:00Z"))
    expect(localToInstant(local("2026-10-25T03:30:00"), "Europe/Berlin")).toBe(at("2026-10-25T02:30:00Z"))
    const w = new DateWindow({ end: "2026-10-25T02:30", timeZone: "Europe/Berlin" })
    expect(inside(w, "2026-10-25T00:29:59Z")).toBe(true)
    expect(inside(w, "2026-10-25T00:30:00Z")).toBe(false)
    // The second 02:30 (CET) is after the end too.
    expect(inside(w, "2026-10-25T01:30:00Z")).toBe(false)
  })

  it("handles New York's DST change, a window across it keeping its local edges", () => {
    // America/New_York 2026: EDT ends 1 Nov 02:00 → 01:00 EST.
    const w = new DateWindow({ start: "2026-10-31T09:00", end: "2026-11-02T09:00", timeZone: "America/New_York" })
    expect(windowBounds(w).start).toBe(at("2026-10-31T13:00:00Z"))
    expect(windowBounds(w).end).toBe(at("2026-11-02T14:00:00Z"))
    expect(inside(w, "2026-11-02T13:59:59Z")).toBe(true)
    expect(inside(w, "2026-11-02T14:00:00Z")).toBe(false)
  })

  it("reports a bad time zone or date instead of matching", () => {
    expect(outsideWindow(new DateWindow({ start: "2026-01-01", timeZone: "Mars/Olympus" }), 0)).toContain("not an IANA time zone")
    expect(outsideWindow(new DateWindow({ start: "1st of May", timeZone: "UTC" }), 0)).toContain("not a local date-time")
  })
})
