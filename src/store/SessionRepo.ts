import { Clock, Effect, Option, Schema } from "effect"
import { createHash, randomBytes, randomInt, timingSafeEqual } from "node:crypto"
import { digestToken } from "./AdminRepo.js"
import { ACCOUNT_SESSIONS_DB as DB, credentialKey, credentialPrefix, digestOfKey, refKey, TenantRef } from "./AccountKeys.js"
import { Store, Write } from "./Store.js"

/**
 * Sessions, trusted devices and pending login attempts of tenant members.
 * Every secret handed out is CSPRNG output stored only as its SHA-256 (see
 * AdminRepo for why an unsalted digest is enough for random tokens). Times
 * come from Effect's Clock, so TestClock drives every expiry in specs.
 */

export const SESSION_PREFIX = "imp_ses_"
export const DEVICE_PREFIX = "imp_dev_"
/** 256 bits each */
export const SECRET_BYTES = 32
/** attempt ids are not sessions but still unguessable: 128 bits */
export const ATTEMPT_ID_BYTES = 16
export const CODE_DIGITS = 6
/** a session's last use is written at most this often (one write per request would be a write per request) */
export const TOUCH_GRANULARITY_MS = 15_000
/** older sessions of one user beyond this are ended at the next sign-in */
export const MAX_SESSIONS_PER_USER = 20
/** pending attempts per user: whoever knows a password cannot fill the store with them */
export const MAX_ATTEMPTS_PER_USER = 5
export const MAX_PRESENTED_SECRET = 200

export class SessionRecord extends Schema.Class<SessionRecord>("SessionRecord")({
  tenantId: Schema.String,
  userId: Schema.String,
  createdAt: Schema.Number,
  lastUsedAt: Schema.Number,
  /** absolute end, whatever the use */
  expiresAt: Schema.Number
}) {}

export class DeviceRecord extends Schema.Class<DeviceRecord>("DeviceRecord")({
  tenantId: Schema.String,
  userId: Schema.String,
  createdAt: Schema.Number,
  expiresAt: Schema.Number
}) {}

export class AttemptRecord extends Schema.Class<AttemptRecord>("AttemptRecord")({
  tenantId: Schema.String,
  userId: Schema.String,
  /** SHA-256 of attempt id and code: the code is bound to this attempt */
  codeDigest: Schema.String,
  createdAt: Schema.Number,
  expiresAt: Schema.Number,
  failures: Schema.Int
}) {}

export type CodeCheck =
  | { readonly _tag: "Accepted"; readonly tenantId: string; readonly userId: string }
  | { readonly _tag: "WrongCode"; readonly tenantId: string; readonly userId: string; readonly triesLeft: number }
  /** unknown, expired, used, or out of tries: the caller signs in again */
  | { readonly _tag: "Invalid" }

const codeDigest = (attemptId: string, code: string) => createHash("sha256").update(`${attemptId}\u0000${code}`, "utf8").digest()

const secret = (prefix: string) => prefix + randomBytes(SECRET_BYTES).toString("base64url")

const make = Effect.gen(function* () {
  const store = yield* Store
  // one verifier at a time: two requests racing with the right code must not both get a session
  const attemptLock = yield* Effect.makeSemaphore(1)

  /** the record behind a presented secret, looked up through its tenant ref */
  const lookup = <A, I>(kind: "session" | "device" | "attempt", schema: Schema.Schema<A, I>, presented: string) =>
    Effect.gen(function* () {
      const digest = digestToken(presented)
      const ref = yield* store.get(DB, TenantRef, refKey(kind, digest))
      if (Option.isNone(ref)) return Option.none<{ key: string; digest: string; tenantId: string; value: A }>()
      const key = credentialKey(ref.value.tenantId, kind, digest)
      const found = yield* store.get(DB, schema, key)
      return Option.map(found, (value) => ({ key, digest, tenantId: ref.value.tenantId, value }))
    })

  const removeOps = (kind: "session" | "device" | "attempt", tenantId: string, digest: string) => [
    Write.remove(DB, credentialKey(tenantId, kind, digest)),
    Write.remove(DB, refKey(kind, digest))
  ]

  /** this user's entries of one kind, oldest first, each with its digest */
  const ofUser = <A extends { readonly userId: string; readonly createdAt: number }, I>(
    kind: "session" | "device" | "attempt",
    schema: Schema.Schema<A, I>,
    tenantId: string,
    userId: string
  ) =>
    Effect.map(store.list(DB, schema, credentialPrefix(tenantId, kind)), (entries) =>
      entries
        .filter((e) => e.value.userId === userId)
        .map((e) => ({ digest: digestOfKey(e.key), value: e.value }))
        .sort((a, b) => a.value.createdAt - b.value.createdAt)
    )

  const createSession = Effect.fn("SessionRepo.createSession")(function* (tenantId: string, userId: string, maxAgeMs: number) {
    const now = yield* Clock.currentTimeMillis
    const token = secret(SESSION_PREFIX)
    const digest = digestToken(token)
    const record = new SessionRecord({ tenantId, userId, createdAt: now, lastUsedAt: now, expiresAt: now + maxAgeMs })
    const existing = yield* ofUser("session", SessionRecord, tenantId, userId)
    const stale = existing.filter((s, i) => s.value.expiresAt <= now || existing.length - i >= MAX_SESSIONS_PER_USER)
    yield* store.batch([
      ...stale.flatMap((s) => removeOps("session", tenantId, s.digest)),
      Write.put(DB, SessionRecord, credentialKey(tenantId, "session", digest), record),
      Write.put(DB, TenantRef, refKey("session", digest), new TenantRef({ tenantId }))
    ])
    return { token, record }
  })

  /** The live session behind a token, touched; an idle or expired one is removed and none. */
  const resolveSession = Effect.fn("SessionRepo.resolveSession")(function* (token: string, idleMs: number) {
    if (!token.startsWith(SESSION_PREFIX) || token.length > MAX_PRESENTED_SECRET) return Option.none<SessionRecord>()
    const found = yield* lookup("session", SessionRecord, token)
    if (Option.isNone(found)) return Option.none<SessionRecord>()
    const { key, digest, tenantId, value } = found.value
    const now = yield* Clock.currentTimeMillis
    if (now >= value.expiresAt || now - value.lastUsedAt >= idleMs) {
      yield* store.batch(removeOps("session", tenantId, digest))
      return Option.none<SessionRecord>()
    }
    if (now - value.lastUsedAt < TOUCH_GRANULARITY_MS) return Option.some(value)
    const touched = new SessionRecord({ ...value, lastUsedAt: now })
    yield* store.put(DB, SessionRecord, key, touched)
    return Option.some(touched)
  })

  /** Ends the session behind a token; false when there was none. */
  const revokeSession = Effect.fn("SessionRepo.revokeSession")(function* (token: string) {
    if (!token.startsWith(SESSION_PREFIX) || token.length > MAX_PRESENTED_SECRET) return false
    const found = yield* lookup("session", SessionRecord, token)
    if (Option.isNone(found)) return false
    yield* store.batch(removeOps("session", found.value.tenantId, found.value.digest))
    return true
  })

  const createDevice = Effect.fn("SessionRepo.createDevice")(function* (tenantId: string, userId: string, ttlMs: number) {
    const now = yield* Clock.currentTimeMillis
    const token = secret(DEVICE_PREFIX)
    const digest = digestToken(token)
    const record = new DeviceRecord({ tenantId, userId, createdAt: now, expiresAt: now + ttlMs })
    yield* store.batch([
      Write.put(DB, DeviceRecord, credentialKey(tenantId, "device", digest), record),
      Write.put(DB, TenantRef, refKey("device", digest), new TenantRef({ tenantId }))
    ])
    return { token, record }
  })

  /** True when the device token is this user's and not expired (an expired one is removed). */
  const isTrustedDevice = Effect.fn("SessionRepo.isTrustedDevice")(function* (token: string, tenantId: string, userId: string) {
    if (!token.startsWith(DEVICE_PREFIX) || token.length > MAX_PRESENTED_SECRET) return false
    const found = yield* lookup("device", DeviceRecord, token)
    if (Option.isNone(found)) return false
    if ((yield* Clock.currentTimeMillis) >= found.value.value.expiresAt) {
      yield* store.batch(removeOps("device", found.value.tenantId, found.value.digest))
      return false
    }
    return found.value.tenantId === tenantId && found.value.value.userId === userId
  })

  /** A pending login: a fresh code from the CSPRNG, bound to a fresh attempt id. */
  const createAttempt = Effect.fn("SessionRepo.createAttempt")(function* (tenantId: string, userId: string, ttlMs: number) {
    const now = yield* Clock.currentTimeMillis
    const attemptId = randomBytes(ATTEMPT_ID_BYTES).toString("base64url")
    const code = String(randomInt(0, 10 ** CODE_DIGITS)).padStart(CODE_DIGITS, "0")
    const digest = digestToken(attemptId)
    const record = new AttemptRecord({
      tenantId,
      userId,
      codeDigest: codeDigest(attemptId, code).toString("hex"),
      createdAt: now,
      expiresAt: now + ttlMs,
      failures: 0
    })
    const existing = yield* ofUser("attempt", AttemptRecord, tenantId, userId)
    const stale = existing.filter((a, i) => a.value.expiresAt <= now || existing.length - i >= MAX_ATTEMPTS_PER_USER)
    yield* store.batch([
      ...stale.flatMap((a) => removeOps("attempt", tenantId, a.digest)),
      Write.put(DB, AttemptRecord, credentialKey(tenantId, "attempt", digest), record),
      Write.put(DB, TenantRef, refKey("attempt", digest), new TenantRef({ tenantId }))
    ])
    return { attemptId, code, record }
  })

  /**
   * Checks a code against its attempt. The right code consumes the attempt
   * (single use); a wrong one counts, and the `maxTries`-th wrong one kills it.
   */
  const checkCode = Effect.fn("SessionRepo.checkCode")(function* (attemptId: string, code: string, maxTries: number) {
    if (attemptId.length === 0 || attemptId.length > MAX_PRESENTED_SECRET) return { _tag: "Invalid" } as CodeCheck
    return yield* attemptLock.withPermits(1)(
      Effect.gen(function* () {
        const found = yield* lookup("attempt", AttemptRecord, attemptId)
        if (Option.isNone(found)) return { _tag: "Invalid" } as CodeCheck
        const { key, digest, tenantId, value } = found.value
        const remove = store.batch(removeOps("attempt", tenantId, digest))
        if ((yield* Clock.currentTimeMillis) >= value.expiresAt || value.failures >= maxTries) {
          yield* remove
          return { _tag: "Invalid" } as CodeCheck
        }
        const expected = Buffer.from(value.codeDigest, "hex")
        const given = codeDigest(attemptId, code)
        if (expected.length === given.length && timingSafeEqual(expected, given)) {
          yield* remove
          return { _tag: "Accepted", tenantId, userId: value.userId } as CodeCheck
        }
        const failures = value.failures + 1
        if (failures >= maxTries) yield* remove
        else yield* store.put(DB, AttemptRecord, key, new AttemptRecord({ ...value, failures }))
        return { _tag: "WrongCode", tenantId, userId: value.userId, triesLeft: maxTries - failures } as CodeCheck
      })
    )
  })

  /**
   * Ends a user's sessions (all but `keepToken`'s), forgets their trusted
   * devices and pending attempts: after a password change, a disable or a removal.
   */
  const endUserCredentials = Effect.fn("SessionRepo.endUserCredentials")(function* (tenantId: string, userId: string, keepToken?: string) {
    const keep = keepToken === undefined ? undefined : digestToken(keepToken)
    const sessions = (yield* ofUser("session", SessionRecord, tenantId, userId)).filter((s) => s.digest !== keep)
    const devices = yield* ofUser("device", DeviceRecord, tenantId, userId)
    const attempts = yield* ofUser("attempt", AttemptRecord, tenantId, userId)
    yield* store.batch([
      ...sessions.flatMap((s) => removeOps("session", tenantId, s.digest)),
      ...devices.flatMap((d) => removeOps("device", tenantId, d.digest)),
      ...attempts.flatMap((a) => removeOps("attempt", tenantId, a.digest))
    ])
    return { sessions: sessions.length, devices: devices.length }
  })

  /** Every session, device and attempt of a tenant, with their refs (tenant removal). */
  const removeTenantOps = Effect.fn("SessionRepo.removeTenantOps")(function* (tenantId: string) {
    const ops = []
    for (const kind of ["session", "device", "attempt"] as const) {
      for (const key of yield* store.keys(DB, credentialPrefix(tenantId, kind))) ops.push(Write.remove(DB, refKey(kind, digestOfKey(key))))
      ops.push(Write.removePrefix(DB, credentialPrefix(tenantId, kind)))
    }
    return ops
  })

  return { createSession, resolveSession, revokeSession, createDevice, isTrustedDevice, createAttempt, checkCode, endUserCredentials, removeTenantOps } as const
})

export class SessionRepo extends Effect.Service<SessionRepo>()("imprint/SessionRepo", { effect: make, dependencies: [Store.Default] }) {}
