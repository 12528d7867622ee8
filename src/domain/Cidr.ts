import { isIPv4, isIPv6 } from "node:net"

/**
 * Source-address ranges for CIDR connectors. Every address is held as 16
 * bytes: IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d, prefix + 96), so
 * "1.2.3.4", "::ffff:1.2.3.4" and a 1.2.3.0/24 range compare as one family.
 */

export interface Cidr {
  /** the range as written */
  readonly text: string
  /** network address, host bits cleared */
  readonly bytes: Uint8Array
  /** prefix length in the 128-bit space (an IPv4 /24 is 120) */
  readonly prefix: number
}

const IPV4_MAPPED_PREFIX = 96

const parseIPv4 = (s: string): Uint8Array | undefined => {
  if (!isIPv4(s)) return undefined
  const out = new Uint8Array(16)
  out[10] = 0xff
  out[11] = 0xff
  s.split(".").forEach((octet, i) => (out[12 + i] = Number(octet)))
  return out
}

const parseIPv6 = (input: string): Uint8Array | undefined => {
  const s = input.replace(/%.*$/, "") // zone id (fe80::1%eth0) does not take part in matching
  if (!isIPv6(s)) return undefined
  const out = new Uint8Array(16)
  let head = s
  let tail4: Uint8Array | undefined
  const lastColon = s.lastIndexOf(":")
  if (s.slice(lastColon + 1).includes(".")) {
    tail4 = parseIPv4(s.slice(lastColon + 1))
    if (tail4 === undefined) return undefined
    head = s.slice(0, lastColon + 1) + "0:0" // stand-in groups for the dotted quad
  }
  const [left, right] = head.includes("::") ? head.split("::") : [head, undefined]
  const groups = (part: string | undefined) => (part === undefined || part === "" ? [] : part.split(":"))
  const l = groups(left)
  const r = groups(right)
  const all = right === undefined ? l : [...l, ...Array<string>(8 - l.length - r.length).fill("0"), ...r]
  if (all.length !== 8) return undefined
  all.forEach((g, i) => {
    const v = parseInt(g, 16)
    out[i * 2] = v >> 8
    out[i * 2 + 1] = v & 0xff
  })
  if (tail4 !== undefined) out.set(tail4.subarray(12), 12)
  return out
}

/** Any IPv4 or IPv6 literal (incl. IPv4-mapped IPv6) as 16 bytes; undefined if not an address. */
export const parseAddress = (s: string): Uint8Array | undefined => parseIPv4(s.trim()) ?? parseIPv6(s.trim())

/** "10.0.0.0/8", "2001:db8::/32", or a bare address (a /32 or /128). Host bits are cleared. */
export const parseCidr = (text: string): Cidr | undefined => {
  const [addr, len, extra] = text.trim().split("/")
  if (extra !== undefined) return undefined
  const v4 = parseIPv4(addr)
  const bytes = v4 ?? parseIPv6(addr)
  if (bytes === undefined) return undefined
  const max = v4 ? 32 : 128
  if (len !== undefined && !/^\d{1,3}$/.test(len)) return undefined
  const written = len === undefined ? max : Number(len)
  if (written > max) return undefined
  const prefix = v4 ? written + IPV4_MAPPED_PREFIX : written
  for (let bit = prefix; bit < 128; bit++) bytes[bit >> 3] &= ~(0x80 >> (bit & 7))
  return { text, bytes, prefix }
}

/** Whether `address` (16 bytes from parseAddress) lies in `cidr`. Plain function: runs per connection. */
export const contains = (cidr: Cidr, address: Uint8Array): boolean => {
  const full = cidr.prefix >> 3
  for (let i = 0; i < full; i++) if (cidr.bytes[i] !== address[i]) return false
  const rest = cidr.prefix & 7
  if (rest === 0) return true
  const mask = (0xff << (8 - rest)) & 0xff
  return (cidr.bytes[full] & mask) === (address[full] & mask)
}

/** Whether two ranges share at least one address (one of them holds the other's network address). */
export const overlaps = (a: Cidr, b: Cidr): boolean => (a.prefix <= b.prefix ? contains(a, b.bytes) : contains(b, a.bytes))
