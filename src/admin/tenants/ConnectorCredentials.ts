import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import type { FileConnector } from "../../domain/TenantFile.js"

/**
 * Auth connectors sent to the admin API without a password: a username the
 * tenant already has keeps its stored hash (so a PATCH of the connector list
 * need not repeat every password), a new one gets a generated password. The
 * generated passwords go back to the caller once, in the create/update
 * answer; only their scrypt hashes are stored (TenantRepo hashes `password`).
 */

/** 18 CSPRNG bytes: 24 base64url characters, 144 bits */
export const GENERATED_PASSWORD_BYTES = 18

export interface GeneratedCredential {
  readonly username: string
  readonly password: string
}

export const generatePassword = (): string => randomBytes(GENERATED_PASSWORD_BYTES).toString("base64url")

export const fillConnectorPasswords = (
  connectors: ReadonlyArray<FileConnector>,
  stored: ReadonlyArray<FileConnector>
): Effect.Effect<{ readonly connectors: ReadonlyArray<FileConnector>; readonly credentials: ReadonlyArray<GeneratedCredential> }> =>
  Effect.sync(() => {
    const credentials: Array<GeneratedCredential> = []
    const filled = connectors.map((c): FileConnector => {
      if (c.type !== "auth" || c.password !== undefined || c.passwordHash !== undefined) return c
      const previous = stored.find((s) => s.type === "auth" && s.username === c.username)
      if (previous !== undefined && previous.type === "auth" && previous.passwordHash !== undefined) {
        return { type: "auth", username: c.username, passwordHash: previous.passwordHash }
      }
      const password = generatePassword()
      credentials.push({ username: c.username, password })
      return { type: "auth", username: c.username, password }
    })
    return { connectors: filled, credentials }
  })
