import { Effect } from "effect"
import { randomBytes, X509Certificate } from "node:crypto"
import * as fs from "node:fs"
import { isIP } from "node:net"
import * as path from "node:path"

/** Secrets Imprint keeps in its data folder: the STARTTLS key pair and the loop stamp key. */

/** Key and certificate (PEM) for STARTTLS. */
export interface TlsMaterial {
  readonly key: string
  readonly cert: string
}

const CERT_DAYS = 825

/**
 * The names a generated certificate carries: the loopback address as an IP
 * address (a DNS name "127.0.0.1" matches nothing, so `curl --cacert … https://127.0.0.1:8443`
 * failed), localhost, ::1, and the listen host when it is a name or a specific address.
 */
const subjectAltNames = (host: string): Array<{ type: 2; value: string } | { type: 7; ip: string }> => {
  const names: Array<{ type: 2; value: string } | { type: 7; ip: string }> = [
    { type: 2, value: "localhost" },
    { type: 7, ip: "127.0.0.1" },
    { type: 7, ip: "::1" }
  ]
  const unspecified = host === "0.0.0.0" || host === "::" || host === ""
  if (isIP(host) !== 0) {
    if (!unspecified && host !== "127.0.0.1" && host !== "::1") names.push({ type: 7, ip: host })
  } else if (!unspecified && host !== "localhost") names.push({ type: 2, value: host })
  return names
}

/** Certificates generated before the names above lack the IP address; they are replaced. */
const coversLoopback = (pem: string): boolean => {
  try {
    const cert = new X509Certificate(pem)
    return cert.checkIP("127.0.0.1") !== undefined && cert.checkHost("localhost") !== undefined
  } catch {
    return false
  }
}

/**
 * The configured key/cert files, or a self-signed pair generated into the data
 * folder on first run (demo mode and fresh installs) and reused afterwards.
 */
export const loadTlsMaterial = Effect.fn("Secrets.loadTlsMaterial")(function* (opts: {
  keyFile?: string
  certFile?: string
  dataDir: string
  commonName: string
}) {
  if (opts.keyFile !== undefined || opts.certFile !== undefined) {
    if (opts.keyFile === undefined || opts.certFile === undefined) {
      return yield* Effect.dieMessage("smtp.tlsKeyFile and smtp.tlsCertFile must be given together")
    }
    const { keyFile, certFile } = opts
    return yield* Effect.sync(() => ({ key: fs.readFileSync(keyFile, "utf8"), cert: fs.readFileSync(certFile, "utf8") }))
  }
  const dir = path.join(opts.dataDir, "tls")
  const keyPath = path.join(dir, "self-signed.key.pem")
  const certPath = path.join(dir, "self-signed.cert.pem")
  if (fs.existsSync(keyPath) && fs.existsSync(certPath)) {
    const stored = { key: fs.readFileSync(keyPath, "utf8"), cert: fs.readFileSync(certPath, "utf8") }
    if (coversLoopback(stored.cert)) return stored
    yield* Effect.logInfo(`replacing the generated certificate in ${dir}: it does not name IP 127.0.0.1 and localhost`)
  }
  // selfsigned (with @peculiar/x509 and its kin, 2.6 MB of live heap) is loaded only when a certificate is made, not on every start
  const { default: selfsigned } = yield* Effect.promise(() => import("selfsigned"))
  const pems = yield* Effect.promise(() =>
    selfsigned.generate([{ name: "commonName", value: opts.commonName }], {
      keySize: 2048,
      algorithm: "sha256",
      notAfterDate: new Date(Date.now() + CERT_DAYS * 86_400_000),
      extensions: [
        { name: "basicConstraints", cA: false, critical: true },
        { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
        { name: "extKeyUsage", serverAuth: true },
        { name: "subjectAltName", altNames: subjectAltNames(opts.commonName) }
      ]
    })
  )
  yield* Effect.sync(() => {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    fs.writeFileSync(keyPath, pems.private, { mode: 0o600 })
    fs.writeFileSync(certPath, pems.cert)
  })
  yield* Effect.logInfo(`generated a self-signed certificate for ${opts.commonName} in ${dir}`)
  return { key: pems.private, cert: pems.cert }
})

/** The loop stamp key: configured, or 32 random bytes generated into the data folder once. */
export const loadStampKey = Effect.fn("Secrets.loadStampKey")(function* (configured: string | undefined, dataDir: string) {
  if (configured !== undefined) {
    return /^[0-9a-f]+$/i.test(configured) && configured.length % 2 === 0 ? Buffer.from(configured, "hex") : Buffer.from(configured, "base64")
  }
  const file = path.join(dataDir, "loop-stamp.key")
  return yield* Effect.sync(() => {
    if (fs.existsSync(file)) return Buffer.from(fs.readFileSync(file, "utf8").trim(), "hex")
    const key = randomBytes(32)
    fs.mkdirSync(dataDir, { recursive: true })
    fs.writeFileSync(file, key.toString("hex") + "\n", { mode: 0o600 })
    return key
  })
})
