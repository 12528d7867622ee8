import { Context, Effect, Layer } from "effect"
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"

/**
 * Directory credentials (Graph client secrets, LDAP bind passwords) at rest:
 * AES-256-GCM with a fresh 96-bit nonce per value, the tenant id and field as
 * additional data (a ciphertext copied to another tenant or field does not
 * decrypt). The key comes from the configuration or a file generated into the
 * data folder once, like the loop stamp key (src/Secrets.ts).
 */

export const KEY_BYTES = 32
const NONCE_BYTES = 12
const TAG_BYTES = 16
const PREFIX = "aesgcm:v1:"
export const DEFAULT_KEY_FILE = "sync-credential.key"

/** The 32-byte key. */
export class SyncCredentialKey extends Context.Tag("imprint/SyncCredentialKey")<SyncCredentialKey, Buffer>() {
  static readonly layer = (key: Buffer) => Layer.succeed(SyncCredentialKey, key)
  /** tests and one-shots: a random key */
  static readonly random = Layer.sync(SyncCredentialKey, () => randomBytes(KEY_BYTES))
}

const decodeKey = (text: string): Buffer => {
  const trimmed = text.trim()
  const key = /^[0-9a-f]+$/i.test(trimmed) && trimmed.length === KEY_BYTES * 2 ? Buffer.from(trimmed, "hex") : Buffer.from(trimmed, "base64")
  if (key.length !== KEY_BYTES) throw new Error(`the sync credential key must be ${KEY_BYTES} bytes (64 hex digits or base64), got ${key.length}`)
  return key
}

/** `configured` (hex/base64), else `keyFile`, else dataDir/sync-credential.key (generated with mode 0600 when missing). */
export const loadCredentialKey = Effect.fn("CredentialCipher.loadKey")(function* (opts: {
  readonly configured?: string | undefined
  readonly keyFile?: string | undefined
  readonly dataDir: string
}) {
  return yield* Effect.try({
    try: () => {
      if (opts.configured !== undefined) return decodeKey(opts.configured)
      if (opts.keyFile !== undefined) return decodeKey(fs.readFileSync(opts.keyFile, "utf8"))
      const file = path.join(opts.dataDir, DEFAULT_KEY_FILE)
      if (fs.existsSync(file)) return decodeKey(fs.readFileSync(file, "utf8"))
      const key = randomBytes(KEY_BYTES)
      fs.mkdirSync(opts.dataDir, { recursive: true })
      fs.writeFileSync(file, key.toString("hex") + "\n", { mode: 0o600, flag: "wx" })
      return key
    },
    catch: (e) => new Error(`cannot load the sync credential key: ${(e as Error).message}`)
  }).pipe(Effect.orDie)
})

export const isEncrypted = (value: string): boolean => value.startsWith(PREFIX)

/** Plain function: a handful of values per tenant. */
export const encrypt = (key: Buffer, aad: string, plaintext: string): string => {
  const nonce = randomBytes(NONCE_BYTES)
  const cipher = createCipheriv("aes-256-gcm", key, nonce)
  cipher.setAAD(Buffer.from(aad, "utf8"))
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()])
  return PREFIX + Buffer.concat([nonce, cipher.getAuthTag(), body]).toString("base64")
}

/** Throws when the key is wrong or the value was tampered with or moved. */
export const decrypt = (key: Buffer, aad: string, stored: string): string => {
  if (!isEncrypted(stored)) throw new Error("the stored credential is not encrypted")
  const raw = Buffer.from(stored.slice(PREFIX.length), "base64")
  const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, NONCE_BYTES))
  decipher.setAAD(Buffer.from(aad, "utf8"))
  decipher.setAuthTag(raw.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES))
  return Buffer.concat([decipher.update(raw.subarray(NONCE_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8")
}
