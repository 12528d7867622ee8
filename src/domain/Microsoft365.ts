import { Schema } from "effect"
import { type Cidr, overlaps, parseCidr } from "./Cidr.js"

/**
 * What Imprint knows about Exchange Online as a sender. Every Microsoft 365
 * customer sends from the same ranges and presents the same client
 * certificate, so neither says which customer is speaking: they only make a
 * session a Microsoft 365 session. The customer is proven per message, by the
 * `X-MS-Exchange-CrossTenant-Id` header and the DKIM signature of the
 * customer's `<name>.onmicrosoft.com` domain (src/pipeline/inbound/Microsoft365Proof.ts).
 */

/**
 * Exchange Online's outbound ranges as Microsoft publishes them ("Microsoft
 * 365 URLs and IP address ranges", Exchange Online, ID 9: SMTP to
 * *.mail.protection.outlook.com). Shipped as the default of
 * `microsoft365.ranges`; Microsoft announces changes, so the config replaces it.
 */
export const EXCHANGE_ONLINE_RANGES: ReadonlyArray<string> = [
  "40.92.0.0/15",
  "40.107.0.0/16",
  "52.100.0.0/15",
  "52.102.0.0/16",
  "52.103.0.0/16",
  "104.47.0.0/17",
  "2a01:111:f400::/48",
  "2a01:111:f403::/48"
]

/** The name on the client certificate Exchange Online presents over TLS (default of `microsoft365.certificateNames`). */
export const EXCHANGE_ONLINE_CERTIFICATE_NAME = "mail.protection.outlook.com"

/** A Microsoft 365 (Entra ID) tenant id: a GUID, compared in lower case. */
export const Microsoft365TenantGuid = Schema.String.pipe(
  Schema.pattern(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, {
    message: () => "a Microsoft 365 tenant id: a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47"
  })
)

/** The tenant's initial domain, `<name>.onmicrosoft.com`: the domain Exchange Online DKIM-signs with when no custom domain signs. */
export const OnMicrosoftDomain = Schema.String.pipe(
  Schema.pattern(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.onmicrosoft\.com$/i, {
    message: () => "the tenant's initial domain, <name>.onmicrosoft.com"
  })
)

const published = EXCHANGE_ONLINE_RANGES.map((text) => parseCidr(text)!)

/** The published Exchange Online range `cidr` overlaps, if any (checked at import: such a cidr connector would bind every Microsoft 365 customer). */
export const exchangeOnlineOverlap = (cidr: Cidr): string | undefined => published.find((p) => overlaps(p, cidr))?.text
