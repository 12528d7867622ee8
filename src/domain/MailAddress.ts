/**
 * What a directory address may be, for every path that writes a directory
 * entry (admin API, CSV/JSON import, tenant file, directory sync): a
 * dot-atom local part (RFC 5322 atext, or non-ASCII letters as SMTPUTF8
 * allows: no quoted forms, no leading, trailing or doubled dot, so no
 * `../../x`), `@`, a domain of LDH labels with at least one dot, at most 254
 * characters (RFC 5321's path limit less its brackets), and nowhere a
 * control, format (bidi, zero-width), space, private-use or unassigned
 * character.
 */

export const MAX_MAIL_LENGTH = 254

const ATOM = "(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]|[^\\u0000-\\u007f])+"
const LOCAL_PART = new RegExp(`^${ATOM}(?:\\.${ATOM})*$`, "u")
const DOMAIN = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/i
/** controls, format characters (bidi controls, zero-width), separators, private use, unassigned, lone surrogates */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Z}\p{Co}\p{Cn}\p{Cs}]/u

export const isDirectoryAddress = (mail: string): boolean => {
  if (mail.length > MAX_MAIL_LENGTH || INVISIBLE.test(mail)) return false
  const at = mail.lastIndexOf("@")
  return at > 0 && LOCAL_PART.test(mail.slice(0, at)) && DOMAIN.test(mail.slice(at + 1))
}

/** A proxyAddresses entry's address: `smtp:`/`SMTP:` or bare; undefined for other kinds (X500:, SIP:, …). */
export const proxyAddressOf = (entry: string): string | undefined => {
  const value = entry.trim()
  if (/^smtp:/i.test(value)) return value.slice(5).trim()
  return /^[a-z0-9]+:/i.test(value) ? undefined : value
}
