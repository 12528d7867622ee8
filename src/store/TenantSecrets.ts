import { ParseResult, Schema } from "effect"
import { Downstream, Tenant } from "../domain/Tenant.js"
import { isSealed, open, openSealed, seal, type SecretKeyRing } from "./SecretCipher.js"

/**
 * A tenant's secrets at rest: the downstream SMTP password is sealed
 * (SecretCipher) when the tenant record is written and opened when it is read,
 * so the rest of the program only ever sees the plaintext Tenant and LMDB (and
 * the replicated bucket) only ever the ciphertext. Connector passwords are not
 * here: they are scrypt hashes (PasswordHash), never opened.
 *
 * A record written before this (plaintext password) is read as it is and
 * sealed by the start-up pass (TenantRepo.resealSecrets) or the next write.
 */

/** the additional data: a sealed password copied to another tenant does not open */
export const downstreamPassAad = (tenantId: string) => `tenant/${tenantId}/downstream/pass`

const withPass = (tenant: Tenant, pass: string): Tenant => {
  const downstream = tenant.downstream!
  return new Tenant({ ...tenant, downstream: new Downstream({ ...downstream, auth: { user: downstream.auth!.user, pass } }) })
}

/** The tenant with its downstream password sealed with the current key (plaintext or sealed by an older key). */
export const sealTenant = (keys: SecretKeyRing, tenant: Tenant): Tenant => {
  const pass = tenant.downstream?.auth?.pass
  if (pass === undefined) return tenant
  const aad = downstreamPassAad(tenant.id)
  if (!isSealed(pass)) return withPass(tenant, seal(keys, aad, pass))
  const opened = openSealed(keys, aad, pass)
  return opened.current ? tenant : withPass(tenant, seal(keys, aad, opened.plaintext))
}

/** The tenant with its downstream password in plaintext; throws when no configured key opens it. */
export const openTenant = (keys: SecretKeyRing, tenant: Tenant): Tenant => {
  const pass = tenant.downstream?.auth?.pass
  return pass === undefined || !isSealed(pass) ? tenant : withPass(tenant, open(keys, downstreamPassAad(tenant.id), pass))
}

/** true when the stored record holds a password in plaintext or sealed by a previous key */
export const needsResealing = (keys: SecretKeyRing, tenant: Tenant): boolean => {
  const pass = tenant.downstream?.auth?.pass
  if (pass === undefined) return false
  return !isSealed(pass) || !openSealed(keys, downstreamPassAad(tenant.id), pass).current
}

/**
 * The Tenant as stored: decoding opens the password, encoding seals it. Used
 * for every read and write of the tenants database.
 */
export const storedTenant = (keys: SecretKeyRing): Schema.Schema<Tenant, typeof Tenant.Encoded> =>
  Schema.transformOrFail(Tenant, Schema.typeSchema(Tenant), {
    strict: true,
    decode: (tenant, _, ast) =>
      ParseResult.try({
        try: () => openTenant(keys, tenant),
        catch: (e) =>
          new ParseResult.Type(
            ast,
            tenant.id,
            `the downstream password of tenant ${tenant.id} does not open (${(e as Error).message}); was sync.credentialKey changed? ` +
              `List the old key in sync.previousCredentialKeys, or import the tenant again with the password`
          )
      }),
    encode: (tenant, _, ast) =>
      ParseResult.try({
        try: () => sealTenant(keys, tenant),
        catch: (e) => new ParseResult.Type(ast, tenant.id, `cannot seal the downstream password of tenant ${tenant.id}: ${(e as Error).message}`)
      })
  })
