import { Clock, Data, Effect, Option, Schema } from "effect"
import { randomBytes } from "node:crypto"
import { Role } from "../domain/Role.js"
import { digestToken } from "./AdminRepo.js"
import {
  ACCOUNT_SESSIONS_DB,
  ACCOUNT_TOKENS_DB,
  ACCOUNTS_DB,
  credentialKey,
  credentialPrefix,
  digestOfKey,
  LoginRef,
  loginKey,
  refKey,
  TenantRef,
  userKey,
  userPrefix
} from "./AccountKeys.js"
import * as PasswordHash from "./PasswordHash.js"
import { SessionRepo } from "./SessionRepo.js"
import { Store, Write, type WriteOp } from "./Store.js"

/**
 * Tenant members (people who sign in to the admin API) and tenant API tokens
 * (automation). Login names are emails, unique across all tenants
 * (case-insensitively), so a sign-in needs no tenant. Passwords are scrypt
 * hashes (PasswordHash: per-user salt, whole password); the caller checks the
 * password policy first. Writes that check an invariant (a unique email, at
 * least one owner) run one at a time.
 */

export const API_TOKEN_PREFIX = "imp_tok_"
export const API_TOKEN_BYTES = 32
export const MAX_PRESENTED_API_TOKEN = 200
/** a token's last use is written at most this often */
export const API_TOKEN_TOUCH_MS = 60_000

export class AccountUser extends Schema.Class<AccountUser>("AccountUser")({
  id: Schema.String,
  tenantId: Schema.String,
  /** the login name, as given (the index compares it lower-cased) */
  email: Schema.String,
  name: Schema.String,
  role: Role,
  passwordHash: Schema.String,
  createdAt: Schema.Number,
  passwordChangedAt: Schema.optional(Schema.Number),
  disabled: Schema.optional(Schema.Boolean)
}) {}

export class ApiTokenRecord extends Schema.Class<ApiTokenRecord>("ApiTokenRecord")({
  id: Schema.String,
  tenantId: Schema.String,
  name: Schema.String,
  role: Role,
  createdAt: Schema.Number,
  /** who minted it (principal label) */
  createdBy: Schema.String,
  lastUsedAt: Schema.optional(Schema.Number)
}) {}

export class EmailTaken extends Data.TaggedError("EmailTaken")<{ readonly email: string }> {}
/** The change would leave the tenant without an enabled owner. */
export class LastOwner extends Data.TaggedError("LastOwner")<{ readonly userId: string }> {}
export class NoSuchUser extends Data.TaggedError("NoSuchUser")<{ readonly userId: string }> {}

export interface UserChanges {
  readonly name?: string | undefined
  readonly role?: Role | undefined
  readonly disabled?: boolean | undefined
}

const newId = () => randomBytes(9).toString("base64url")

const isActiveOwner = (u: AccountUser) => u.role === "owner" && u.disabled !== true

const make = Effect.gen(function* () {
  const store = yield* Store
  const sessions = yield* SessionRepo
  const writeLock = yield* Effect.makeSemaphore(1)
  const serialized = <A, E, R>(effect: Effect.Effect<A, E, R>) => writeLock.withPermits(1)(effect)

  const getUser = Effect.fn("AccountRepo.getUser")(function* (tenantId: string, userId: string) {
    return yield* store.get(ACCOUNTS_DB, AccountUser, userKey(tenantId, userId))
  })

  const listUsers = Effect.fn("AccountRepo.listUsers")(function* (tenantId: string) {
    return (yield* store.list(ACCOUNTS_DB, AccountUser, userPrefix(tenantId))).map((e) => e.value)
  })

  /** The user an email signs in as, in whichever tenant. */
  const findByEmail = Effect.fn("AccountRepo.findByEmail")(function* (email: string) {
    const ref = yield* store.get(ACCOUNTS_DB, LoginRef, loginKey(email.trim()))
    if (Option.isNone(ref)) return Option.none<AccountUser>()
    return yield* getUser(ref.value.tenantId, ref.value.userId)
  })

  const createUser = Effect.fn("AccountRepo.createUser")(function* (
    tenantId: string,
    input: { readonly email: string; readonly name: string; readonly role: Role; readonly password: string }
  ) {
    const passwordHash = yield* PasswordHash.hash(input.password)
    const email = input.email.trim()
    return yield* serialized(
      Effect.gen(function* () {
        if (Option.isSome(yield* store.get(ACCOUNTS_DB, LoginRef, loginKey(email)))) return yield* new EmailTaken({ email })
        const now = yield* Clock.currentTimeMillis
        const user = new AccountUser({ id: newId(), tenantId, email, name: input.name.trim(), role: input.role, passwordHash, createdAt: now })
        yield* store.batch([
          Write.put(ACCOUNTS_DB, AccountUser, userKey(tenantId, user.id), user),
          Write.put(ACCOUNTS_DB, LoginRef, loginKey(email), new LoginRef({ tenantId, userId: user.id }))
        ])
        return user
      })
    )
  })

  /** Applies `changes`; refuses to leave the tenant without an enabled owner. Disabling ends the user's sessions. */
  const updateUser = Effect.fn("AccountRepo.updateUser")(function* (tenantId: string, userId: string, changes: UserChanges) {
    const updated = yield* serialized(
      Effect.gen(function* () {
        const current = yield* Effect.flatten(getUser(tenantId, userId)).pipe(Effect.catchTag("NoSuchElementException", () => new NoSuchUser({ userId })))
        const next = new AccountUser({
          ...current,
          name: changes.name?.trim() ?? current.name,
          role: changes.role ?? current.role,
          disabled: changes.disabled ?? current.disabled
        })
        if (isActiveOwner(current) && !isActiveOwner(next)) {
          const owners = (yield* listUsers(tenantId)).filter(isActiveOwner)
          if (owners.length <= 1) return yield* new LastOwner({ userId })
        }
        yield* store.put(ACCOUNTS_DB, AccountUser, userKey(tenantId, userId), next)
        return next
      })
    )
    if (updated.disabled === true) yield* sessions.endUserCredentials(tenantId, userId)
    return updated
  })

  /** Removes a user, their login name and every credential; refuses the last enabled owner. */
  const removeUser = Effect.fn("AccountRepo.removeUser")(function* (tenantId: string, userId: string) {
    const removed = yield* serialized(
      Effect.gen(function* () {
        const current = yield* Effect.flatten(getUser(tenantId, userId)).pipe(Effect.catchTag("NoSuchElementException", () => new NoSuchUser({ userId })))
        if (isActiveOwner(current) && (yield* listUsers(tenantId)).filter(isActiveOwner).length <= 1) return yield* new LastOwner({ userId })
        yield* store.batch([Write.remove(ACCOUNTS_DB, userKey(tenantId, userId)), Write.remove(ACCOUNTS_DB, loginKey(current.email))])
        return current
      })
    )
    yield* sessions.endUserCredentials(tenantId, userId)
    return removed
  })

  /** Sets a new (policy-checked) password and ends the user's other sessions and trusted devices. */
  const setPassword = Effect.fn("AccountRepo.setPassword")(function* (tenantId: string, userId: string, password: string, keepSession?: string) {
    const passwordHash = yield* PasswordHash.hash(password)
    yield* serialized(
      Effect.gen(function* () {
        const current = yield* Effect.flatten(getUser(tenantId, userId)).pipe(Effect.catchTag("NoSuchElementException", () => new NoSuchUser({ userId })))
        const now = yield* Clock.currentTimeMillis
        yield* store.put(ACCOUNTS_DB, AccountUser, userKey(tenantId, userId), new AccountUser({ ...current, passwordHash, passwordChangedAt: now }))
      })
    )
    return yield* sessions.endUserCredentials(tenantId, userId, keepSession)
  })

  // ---- API tokens ----

  const createApiToken = Effect.fn("AccountRepo.createApiToken")(function* (tenantId: string, name: string, role: Role, createdBy: string) {
    const token = API_TOKEN_PREFIX + randomBytes(API_TOKEN_BYTES).toString("base64url")
    const digest = digestToken(token)
    const record = new ApiTokenRecord({ id: newId(), tenantId, name: name.trim(), role, createdAt: yield* Clock.currentTimeMillis, createdBy })
    yield* store.batch([
      Write.put(ACCOUNT_TOKENS_DB, ApiTokenRecord, credentialKey(tenantId, "token", digest), record),
      Write.put(ACCOUNT_TOKENS_DB, TenantRef, refKey("token", digest), new TenantRef({ tenantId }))
    ])
    return { token, record }
  })

  const listApiTokens = Effect.fn("AccountRepo.listApiTokens")(function* (tenantId: string) {
    return (yield* store.list(ACCOUNT_TOKENS_DB, ApiTokenRecord, credentialPrefix(tenantId, "token"))).map((e) => e.value)
  })

  /** Deletes the token (it stops working at once); false when this tenant has no token with this id. */
  const revokeApiToken = Effect.fn("AccountRepo.revokeApiToken")(function* (tenantId: string, id: string) {
    const entry = (yield* store.list(ACCOUNT_TOKENS_DB, ApiTokenRecord, credentialPrefix(tenantId, "token"))).find((e) => e.value.id === id)
    if (entry === undefined) return Option.none<ApiTokenRecord>()
    const digest = digestOfKey(entry.key)
    yield* store.batch([Write.remove(ACCOUNT_TOKENS_DB, entry.key), Write.remove(ACCOUNT_TOKENS_DB, refKey("token", digest))])
    return Option.some(entry.value)
  })

  /** The token's record when it exists; its last use is noted. */
  const resolveApiToken = Effect.fn("AccountRepo.resolveApiToken")(function* (token: string) {
    if (!token.startsWith(API_TOKEN_PREFIX) || token.length > MAX_PRESENTED_API_TOKEN) return Option.none<ApiTokenRecord>()
    const digest = digestToken(token)
    const ref = yield* store.get(ACCOUNT_TOKENS_DB, TenantRef, refKey("token", digest))
    if (Option.isNone(ref)) return Option.none<ApiTokenRecord>()
    const key = credentialKey(ref.value.tenantId, "token", digest)
    const found = yield* store.get(ACCOUNT_TOKENS_DB, ApiTokenRecord, key)
    if (Option.isNone(found)) return found
    const now = yield* Clock.currentTimeMillis
    if (found.value.lastUsedAt !== undefined && now - found.value.lastUsedAt < API_TOKEN_TOUCH_MS) return found
    const touched = new ApiTokenRecord({ ...found.value, lastUsedAt: now })
    yield* store.put(ACCOUNT_TOKENS_DB, ApiTokenRecord, key, touched)
    return Option.some(touched)
  })

  /** Every account, session, device, attempt and API token of a tenant, in one commit. */
  const removeTenant = Effect.fn("AccountRepo.removeTenant")(function* (tenantId: string) {
    return yield* serialized(
      Effect.gen(function* () {
        const users = yield* listUsers(tenantId)
        const tokenKeys = yield* store.keys(ACCOUNT_TOKENS_DB, credentialPrefix(tenantId, "token"))
        const ops: Array<WriteOp> = [
          ...users.map((u) => Write.remove(ACCOUNTS_DB, loginKey(u.email))),
          Write.removePrefix(ACCOUNTS_DB, userPrefix(tenantId)),
          ...tokenKeys.map((k) => Write.remove(ACCOUNT_TOKENS_DB, refKey("token", digestOfKey(k)))),
          Write.removePrefix(ACCOUNT_TOKENS_DB, credentialPrefix(tenantId, "token")),
          ...(yield* sessions.removeTenantOps(tenantId))
        ]
        yield* store.batch(ops)
        return { users: users.length, tokens: tokenKeys.length }
      })
    )
  })

  return {
    getUser,
    listUsers,
    findByEmail,
    createUser,
    updateUser,
    removeUser,
    setPassword,
    createApiToken,
    listApiTokens,
    revokeApiToken,
    resolveApiToken,
    removeTenant
  } as const
})

export class AccountRepo extends Effect.Service<AccountRepo>()("imprint/AccountRepo", {
  effect: make,
  dependencies: [Store.Default, SessionRepo.Default]
}) {}

/** for specs: the databases this module writes */
export const ACCOUNT_DATABASES = [ACCOUNTS_DB, ACCOUNT_SESSIONS_DB, ACCOUNT_TOKENS_DB] as const
