import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import selfsigned from "selfsigned"

/** Secrets Imprint keeps in its data folder: the STARTTLS key pair and the loop stamp key. */

/** Key and certificate (PEM) for STARTTLS. */
export interface TlsMaterial {
  readonly key: string
  readonly cert: string
}

const CERT_DAYS = 825

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
    return { key: fs.readFileSync(keyPath, "utf8"), cert: fs.readFileSync(certPath, "utf8") }
  }
  const pems = yield* Effect.promise(() =>
    selfsigned.generate([{ name: "commonName", value: opts.commonName }], { keySize: 2048, algorithm: "sha256", notAfterDate: new Date(Date.now() + CERT_DAYS * 86_400_000) })
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
    return /^[0-9a-f]+$/i.test(configured) && configured.length % 2 === 0
      ? Buffer.from(configured, "hex")
      : Buffer.from(configured, "base64")
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
