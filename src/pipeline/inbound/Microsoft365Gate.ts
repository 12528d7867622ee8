import type { PeerCertificate } from "node:tls"
import type { Microsoft365Settings } from "../../config.js"
import { type Cidr, contains, parseAddress, parseCidr } from "../../domain/Cidr.js"

/**
 * The session half of a Microsoft 365 binding: is this connection Exchange
 * Online? By its source address (Microsoft's published ranges) and/or its
 * client certificate (chain verified against the system's trusted roots, name
 * `mail.protection.outlook.com`), as `microsoft365` configures. Passing the
 * gate names no tenant (every Microsoft 365 customer passes it): the sender's
 * domain selects the candidate at MAIL and Microsoft365Proof checks each message.
 */

export interface PresentedCertificate {
  /** the chain verified against the trusted roots (TLSSocket.authorized) */
  readonly authorized: boolean
  readonly certificate: Pick<PeerCertificate, "subject" | "subjectaltname"> | undefined
}

/** The names a certificate is issued to: its subject CN and its DNS subjectAltNames, in lower case. */
export const certificateNames = (cert: Pick<PeerCertificate, "subject" | "subjectaltname">): ReadonlyArray<string> => {
  const cn = cert.subject?.CN
  const cns = (Array.isArray(cn) ? cn : cn === undefined ? [] : [cn]) as ReadonlyArray<string>
  const sans = (cert.subjectaltname ?? "").split(/,\s*/).flatMap((s) => (s.startsWith("DNS:") ? [s.slice(4)] : []))
  return [...cns, ...sans].map((n) => n.toLowerCase())
}

export class Microsoft365Gate {
  private readonly ranges: ReadonlyArray<Cidr>
  private readonly names: ReadonlySet<string>

  constructor(private readonly settings: Microsoft365Settings) {
    this.ranges = settings.ranges.flatMap((text) => parseCidr(text) ?? [])
    this.names = new Set(settings.certificateNames.map((n) => n.toLowerCase()))
  }

  /** plain function: runs per connection */
  addressPasses(ip: string): boolean {
    const address = parseAddress(ip)
    return address !== undefined && this.ranges.some((r) => contains(r, address))
  }

  /** a verified chain issued to one of the configured names (never a self-signed look-alike) */
  certificatePasses(presented: PresentedCertificate): boolean {
    if (!presented.authorized || presented.certificate === undefined) return false
    return certificateNames(presented.certificate).some((n) => this.names.has(n))
  }

  /** whether a session with these facts is an Exchange Online session */
  passes(addressPassed: boolean, certificatePassed: boolean): boolean {
    return this.settings.requireCertificate ? addressPassed && certificatePassed : addressPassed || certificatePassed
  }
}
