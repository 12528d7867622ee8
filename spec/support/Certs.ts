/**
 * Self-signed certificates for tests and demo-like setups, generated in-process
 * (no openssl at run time). Generating an RSA key costs a noticeable fraction of a
 * second, so each common name is generated once per process and shared.
 */
import { X509Certificate } from "node:crypto"
import { isIP as isIpAddress } from "node:net"
import selfsigned from "selfsigned"

export interface SelfSigned {
  /** PEM private key */
  readonly key: string
  /** PEM certificate; also usable as the `ca` a client trusts */
  readonly cert: string
  /** colon-separated upper-case SHA-256 fingerprint, as node's X509Certificate reports it */
  readonly fingerprint256: string
}

const cache = new Map<string, Promise<SelfSigned>>()

const generate = async (commonName: string): Promise<SelfSigned> => {
  // The subject alternative names decide what a verifying client accepts: an IP
  // literal must appear as an IP SAN (a DNS SAN "127.0.0.1" does not match), so the
  // loopback address and "localhost" are always included besides the common name.
  const altNames: Array<{ type: 2; value: string } | { type: 7; ip: string }> = [
    { type: 2, value: "localhost" },
    { type: 7, ip: "127.0.0.1" }
  ]
  if (isIpAddress(commonName)) {
    if (commonName !== "127.0.0.1") altNames.push({ type: 7, ip: commonName })
  } else if (commonName !== "localhost") {
    altNames.push({ type: 2, value: commonName })
  }
  const pems = await selfsigned.generate([{ name: "commonName", value: commonName }], {
    keySize: 2048,
    algorithm: "sha256",
    notAfterDate: new Date(Date.now() + 3650 * 24 * 3600 * 1000),
    extensions: [
      // cA so that the certificate can be its own trust anchor when given as `ca`
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true, keyCertSign: true, critical: true },
      { name: "extKeyUsage", serverAuth: true, clientAuth: true },
      { name: "subjectAltName", altNames }
    ]
  })
  return { key: pems.private, cert: pems.cert, fingerprint256: new X509Certificate(pems.cert).fingerprint256 }
}

/** A self-signed certificate for `commonName`, cached per process. */
export const makeSelfSigned = (commonName = "127.0.0.1"): Promise<SelfSigned> => {
  let pending = cache.get(commonName)
  if (pending === undefined) {
    pending = generate(commonName)
    // A failed generation must not poison the cache for later callers
    pending.catch(() => cache.delete(commonName))
    cache.set(commonName, pending)
  }
  return pending
}
