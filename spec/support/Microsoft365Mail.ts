/**
 * Messages as Exchange Online sends them to a smart host, made in the test:
 * an `X-MS-Exchange-CrossTenant-Id` header and a DKIM signature by the
 * tenant's onmicrosoft.com domain, signed with a test key whose public half a
 * loopback DNS stub (DnsStub.ts) publishes. No Microsoft involved.
 */
import { generateKeyPairSync, randomUUID } from "node:crypto"
import dkim from "mailauth/lib/dkim/sign.js"

export interface TestOrganisation {
  /** the Microsoft 365 tenant id */
  readonly guid: string
  /** `<name>.onmicrosoft.com` */
  readonly domain: string
  readonly selector: string
  readonly privateKey: string
  /** the DNS name and TXT value of its public key */
  readonly keyRecord: { readonly name: string; readonly value: string }
}

export const testOrganisation = (name: string): TestOrganisation => {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 })
  const domain = `${name}.onmicrosoft.com`
  const selector = `selector1-${name}-com`
  return {
    guid: randomUUID(),
    domain,
    selector,
    privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    keyRecord: { name: `${selector}._domainkey.${domain}`, value: `v=DKIM1; k=rsa; p=${publicKey.export({ type: "spki", format: "der" }).toString("base64")}` }
  }
}

/** The DnsStub entry publishing the organisation's key (a TXT record split into 255-byte strings by the stub). */
export const keyEntry = (org: TestOrganisation): Record<string, ReadonlyArray<string>> => ({ [org.keyRecord.name]: [org.keyRecord.value] })

export interface MailOptions {
  readonly from: string
  readonly to?: string
  /** CrossTenant-Id headers to put in (none, one, two) */
  readonly crossTenantIds: ReadonlyArray<string>
  readonly body?: string
  /** sign as this organisation (its domain and key); absent: unsigned */
  readonly signer?: TestOrganisation
  /** sign with this key but claim `signer`'s domain and selector (a forged signature) */
  readonly signingKey?: string
  /** change the body after signing */
  readonly tamper?: (message: string) => string
}

/** CRLF message text with the headers Exchange Online adds, signed relaxed/relaxed over From, To, Subject, Date, Message-ID. */
export const exchangeMessage = async (o: MailOptions): Promise<string> => {
  const body = o.body ?? "Hello,\r\n\r\nthe report is attached.\r\n\r\nBest\r\n"
  const headers = [
    `From: ${o.from}`,
    `To: ${o.to ?? "bob@customer.example"}`,
    "Subject: quarterly report",
    "Date: Tue, 01 Dec 2026 10:00:00 +0000",
    `Message-ID: <${randomUUID()}@eurprd01.prod.outlook.com>`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    ...o.crossTenantIds.map((id) => `X-MS-Exchange-CrossTenant-Id: ${id}`)
  ]
  const message = `${headers.join("\r\n")}\r\n\r\n${body}`
  let signed = message
  if (o.signer !== undefined) {
    const { signatures, errors } = await dkim.dkimSign(message, {
      signatureData: [
        {
          signingDomain: o.signer.domain,
          selector: o.signer.selector,
          privateKey: o.signingKey ?? o.signer.privateKey,
          canonicalization: "relaxed/relaxed"
        }
      ]
    })
    if (errors.length > 0) throw new Error(`signing failed: ${String(errors[0])}`)
    signed = signatures + message
  }
  return o.tamper === undefined ? signed : o.tamper(signed)
}
