import type { MessageKind } from "../domain/Rule.js"

/**
 * New, reply or forward, from the subject's outermost prefix and the threading
 * headers. Clients localise the prefixes they write, so the lists cover the
 * languages Outlook, Gmail, Apple Mail and Thunderbird ship with; "Re[2]:",
 * "RE :" (French spacing), "Re^2:", full-width colons and leading list tags
 * ("[team] Re:") are read too. The outermost prefix decides: "Re: Fwd:" is a reply.
 */

/** Written by clients when replying (lower case). */
const REPLY_PREFIXES = [
  "re",
  "aw",
  "antw",
  "antwort",
  "sv",
  "svar",
  "odp",
  "odg",
  "odgovor",
  "vá",
  "vs",
  "ynt",
  "yanıt",
  "res",
  "resp",
  "rif",
  "r",
  "réf",
  "ref",
  "atb",
  "ats",
  "bls",
  "balas",
  "απ",
  "σχετ",
  "השב",
  "回复",
  "回覆",
  "答复",
  "返信",
  "회신",
  "답장",
  "ответ",
  "отв"
]
/** Written by clients when forwarding (lower case). */
const FORWARD_PREFIXES = [
  "fw",
  "fwd",
  "wg",
  "tr",
  "rv",
  "doorst",
  "vl",
  "vb",
  "vs",
  "enc",
  "encaminhado",
  "i",
  "pd",
  "př",
  "tov",
  "továbbítás",
  "ilt",
  "i̇lt",
  "fs",
  "prd",
  "prs",
  "posr",
  "trs",
  "yml",
  "πρθ",
  "הועבר",
  "转发",
  "轉寄",
  "轉發",
  "転送",
  "전달",
  "пересл"
]
/**
 * Prefixes meaning opposite things in different languages: "VS" is a Finnish
 * reply (vastaus) but a Danish/Norwegian forward (videresendt). They count as
 * a reply when the message has In-Reply-To, else as a forward. ("RV" is the
 * Spanish forward, reenviado; Spanish replies use "RE", so it is not ambiguous.)
 */
const AMBIGUOUS = new Set(["vs"])

const REPLY = new Set(REPLY_PREFIXES)
const FORWARD = new Set(FORWARD_PREFIXES)
/**
 * Leading list tags, then one word (the candidate prefix) with an optional
 * counter, optional dot and spaces, and a colon. The word is then looked up,
 * which is much cheaper than one case-insensitive alternation of every prefix.
 */
const PREFIX = /^\s*(?:\[[^\]]{0,64}\]\s*)*([^\s:：[\]()^.]{1,16})(?:\s*\[\d+\]|\s*\(\d+\)|\^\d+)?\s*\.?\s*[:：]/u

/** Netscape and old Thunderbird forward as "[Fwd: subject]": a bracket opening with a prefix. */
const BRACKETED = /^\s*\[\s*([^\s:：[\]()^.]{1,16})\s*[:：]/u

export type SubjectPrefix = "reply" | "forward" | "ambiguous" | "none"

/** What the subject's outermost prefix says. */
export const subjectPrefix = (subject: string): SubjectPrefix => {
  const normalized = subject.normalize("NFC")
  const bracketed = BRACKETED.exec(normalized)?.[1]?.toLowerCase()
  const prefix = bracketed !== undefined && (FORWARD.has(bracketed) || REPLY.has(bracketed)) ? bracketed : PREFIX.exec(normalized)?.[1]?.toLowerCase()
  if (prefix === undefined) return "none"
  if (AMBIGUOUS.has(prefix)) return "ambiguous"
  return FORWARD.has(prefix) ? "forward" : REPLY.has(prefix) ? "reply" : "none"
}

export interface ThreadingFacts {
  readonly subject: string
  readonly inReplyTo?: string | undefined
  readonly references?: string | undefined
}

const present = (header: string | undefined): boolean => header !== undefined && header.trim() !== ""

/** The message kind: the subject prefix first, then In-Reply-To/References (a reply without a prefix). */
export const messageKind = (facts: ThreadingFacts): MessageKind => {
  const threaded = present(facts.inReplyTo) || present(facts.references)
  switch (subjectPrefix(facts.subject)) {
    case "reply":
      return "reply"
    case "forward":
      return "forward"
    case "ambiguous":
      return present(facts.inReplyTo) ? "reply" : "forward"
    case "none":
      return threaded ? "reply" : "new"
  }
}
