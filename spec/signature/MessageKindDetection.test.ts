import { describe, expect, it } from "vitest"
import { messageKind, subjectPrefix } from "../../src/signature/MessageKindDetection.js"

describe("subject prefixes", () => {
  const replies = [
    "Re: x",
    "RE: x",
    "re:x",
    "Re[2]: x",
    "Re(3): x",
    "Re^2: x",
    "RE : x",
    "AW: x",
    "Aw: x",
    "SV: x",
    "Antw: x",
    "Odp: x",
    "Vá: x",
    "R: x",
    "Réf. : x",
    "RES: x",
    "ΑΠ: x",
    "回复: x",
    "回复：x",
    "返信: x",
    "회신: x",
    "YNT: x",
    "[team] Re: x",
    "[Bug 381598] Re: x",
    "Re: Fwd: x",
    "Re: AW: WG: x"
  ]
  const forwards = [
    "Fw: x",
    "FW: x",
    "Fwd: x",
    "FWD[2]: x",
    "WG: x",
    "TR: x",
    "RV: x",
    "Doorst: x",
    "VL: x",
    "VB: x",
    "ENC: x",
    "I: x",
    "PD: x",
    "Tov: x",
    "ΠΡΘ: x",
    "转发: x",
    "転送: x",
    "전달: x",
    "[ext] Fwd: Re: x",
    "Fwd: Re: x",
    "[Fwd: Re: 34Mbit/s Netz]",
    "[Fwd: [Fwd: FW: x]]"
  ]
  const none = [
    "[team] Notes: x",
    "Read: invitation",
    "Warning: could not send",
    "Report: Q3",
    "Reminder",
    "Regarding: x",
    "Fwdx: y",
    "RSVP: party",
    "Agenda",
    "",
    "Ref erence",
    "Information: x"
  ]

  it.each(replies)("%s is a reply", (s) => expect(subjectPrefix(s)).toBe("reply"))
  it.each(forwards)("%s is a forward", (s) => expect(subjectPrefix(s)).toBe("forward"))
  it.each(none)("%j has no prefix", (s) => expect(subjectPrefix(s)).toBe("none"))
  it("VS is ambiguous (Finnish reply, Danish/Norwegian forward)", () => expect(subjectPrefix("VS: x")).toBe("ambiguous"))
})

describe("messageKind", () => {
  it("reads the outermost subject prefix first", () => {
    expect(messageKind({ subject: "Re: Fwd: x" })).toBe("reply")
    expect(messageKind({ subject: "Fwd: Re: x", inReplyTo: "<a@b>" })).toBe("forward")
  })
  it("falls back to In-Reply-To / References for a reply without a prefix", () => {
    expect(messageKind({ subject: "Quarterly numbers", inReplyTo: "<a@b>" })).toBe("reply")
    expect(messageKind({ subject: "Quarterly numbers", references: "<a@b> <c@d>" })).toBe("reply")
    expect(messageKind({ subject: "Quarterly numbers", inReplyTo: "  " })).toBe("new")
    expect(messageKind({ subject: "Quarterly numbers" })).toBe("new")
  })
  it("decides an ambiguous prefix by In-Reply-To", () => {
    expect(messageKind({ subject: "VS: x", inReplyTo: "<a@b>" })).toBe("reply")
    expect(messageKind({ subject: "VS: x" })).toBe("forward")
  })
})
