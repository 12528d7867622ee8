import { Context, Effect, Layer } from "effect"
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"

/**
 * Every secret Imprint must be able to read back and keeps in LMDB — directory
 * sync credentials (Graph client secrets, LDAP bind passwords) and a tenant's
 * downstream SMTP password — is sealed here and nowhere else: AES-256-GCM, the
 * owner and field as additional data (a ciphertext copied to another tenant or
 * field does not open), stored as "aesgcm:v1:" + base64(nonce ‖ tag ‖ body).
 *
 * The 96-bit nonce is synthetic: HMAC-SHA256(key, aad ‖ 0 ‖ plaintext), cut
 * to 12 bytes. A nonce repeats only for the same key, field and plaintext,
 * which then seal to the same bytes (so re-importing an unchanged tenant file
 * writes nothing new); two different values never share a nonce in practice.
 * What it reveals: that a stored value did not change. Values sealed by earlier
 * versions with a random nonce open the same way.
 *
 * Keys: one current key seals; the current key and any previous keys open
 * (rotation: make the new key current, list the old one as previous, start;
 * the start-up pass re-seals every value with the current key; then drop the
 * old key). Secrets that people choose to sign in with (connector and admin
 * passwords) are not here: those are hashed (PasswordHash), never opened.
 */

export const KEY_BYTES = 32
const NONCE_BYTES = 12
const TAG_BYTES = 16
const PREFIX = "aesgcm:v1:"
export const DEFAULT_KEY_FILE = "sync-credential.key"

export interface SecretKeyRing {
  /** seals every new value */
  readonly current: Buffer
  /** open values sealed before a rotation; newest first */
  readonly previous: ReadonlyArray<Buffer>
}

/**
 * The keys that seal and open secrets at rest. Server.liveLayer (every command
 * that opens the store) provides the configured keys; the default, a random
 * key per process, only serves test layers that never reopen a data folder.
 */
export class SecretKeys extends Context.Reference<SecretKeys>()("imprint/SecretKeys", {
  defaultValue: (): SecretKeyRing => ({ current: randomBytes(KEY_BYTES), previous: [] })
}) {
  static readonly layer = (current: Buffer, previous: ReadonlyArray<Buffer> = []) => Layer.succeed(SecretKeys, { current, previous })
  /** tests and one-shots: a random key */
  static readonly random = Layer.sync(SecretKeys, () => ({ current: randomBytes(KEY_BYTES), previous: [] }))
}

export const decodeKey = (text: string): Buffer => {
  const trimmed = text.trim()
  const key = /^[0-9a-f]+$/i.test(trimmed) && trimmed.length === KEY_BYTES * 2 ? Buffer.from(trimmed, "hex") : Buffer.from(trimmed, "base64")
  if (key.length !== KEY_BYTES) throw new Error(`a secret key must be ${KEY_BYTES} bytes (64 hex digits or base64), got ${key.length}`)
  return key
}

/**
 * Current key: `configured` (hex/base64), else `keyFile`, else
 * dataDir/sync-credential.key (generated with mode 0600 when missing).
 * `previous`: old keys (hex/base64) that still open values, never seal.
 */
export const loadSecretKeys = Effect.fn("SecretCipher.loadKeys")(function* (opts: {
  readonly configured?: string | undefined
  readonly keyFile?: string | undefined
  readonly previous?: ReadonlyArray<string> | undefined
  readonly dataDir: string
}) {
  return yield* Effect.try({
    try: (): SecretKeyRing => {
      const previous = (opts.previous ?? []).map((text, i) => {
        try {
          return decodeKey(text)
        } catch (e) {
          throw new Error(`sync.previousCredentialKeys[${i}]: ${(e as Error).message}`)
        }
      })
      if (opts.configured !== undefined) return { current: decodeKey(opts.configured), previous }
      if (opts.keyFile !== undefined) return { current: decodeKey(fs.readFileSync(opts.keyFile, "utf8")), previous }
      const file = path.join(opts.dataDir, DEFAULT_KEY_FILE)
      if (fs.existsSync(file)) return { current: decodeKey(fs.readFileSync(file, "utf8")), previous }
      const key = randomBytes(KEY_BYTES)
      fs.mkdirSync(opts.dataDir, { recursive: true })
      fs.writeFileSync(file, key.toString("hex") + "\n", { mode: 0o600, flag: "wx" })
      return { current: key, previous }
    },
    catch: (e) => new Error(`cannot load the secret key: ${(e as Error).message}`)
  }).pipe(Effect.orDie)
})

export const isSealed = (value: string): boolean => value.startsWith(PREFIX)

const syntheticNonce = (key: Buffer, aad: string, plaintext: string): Buffer =>
  createHmac("sha256", key).update(aad, "utf8").update(Buffer.of(0)).update(plaintext, "utf8").digest().subarray(0, NONCE_BYTES)

/** Plain function: a handful of values per tenant. Seals with the current key. */
export const seal = (keys: SecretKeyRing, aad: string, plaintext: string): string => {
  const nonce = syntheticNonce(keys.current, aad, plaintext)
  const cipher = createCipheriv("aes-256-gcm", keys.current, nonce)
  cipher.setAAD(Buffer.from(aad, "utf8"))
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()])
  return PREFIX + Buffer.concat([nonce, cipher.getAuthTag(), body]).toString("base64")
}

const openWith = (key: Buffer, aad: string, raw: Buffer): string => {
  const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, NONCE_BYTES))
  decipher.setAAD(Buffer.from(aad, "utf8"))
  decipher.setAuthTag(raw.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES))
  return Buffer.concat([decipher.update(raw.subarray(NONCE_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8")
}

/** The plaintext and whether the current key sealed it (false: re-seal it). */
export const openSealed = (keys: SecretKeyRing, aad: string, stored: string): { readonly plaintext: string; readonly current: boolean } => {
  if (!isSealed(stored)) throw new Error("the stored secret is not sealed")
  const raw = Buffer.from(stored.slice(PREFIX.length), "base64")
  for (const [i, key] of [keys.current, ...keys.previous].entries()) {
    try {
      return { plaintext: openWith(key, aad, raw), current: i === 0 }
    } catch {
      // the next key, or the error below
    }
  }
  throw new Error(`no configured key opens it (${1 + keys.previous.length} tried)`)
}

/** Throws when no key opens it, or the value was tampered with or moved to another field. */
export const open = (keys: SecretKeyRing, aad: string, stored: string): string => openSealed(keys, aad, stored).plaintext
