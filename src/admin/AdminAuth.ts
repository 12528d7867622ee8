import { Effect, Layer, Option, Redacted } from "effect"
import { AdminRepo } from "../store/AdminRepo.js"
import { UNAUTHORIZED_MESSAGE, Unauthorized } from "./ApiErrors.js"
import { AdminAuth, Operator } from "./Principal.js"

/**
 * The bearer token check behind AdminAuth. Operator tokens: the token's
 * SHA-256 is looked up in the AdminRepo. A missing, malformed, unknown or
 * revoked token gets the same 401 and message, so a caller learns nothing
 * about which tokens exist. A store failure is a 500 (a defect), not a 401:
 * the caller's token may be fine.
 */
export const AdminAuthLive = Layer.effect(
  AdminAuth,
  Effect.gen(function* () {
    const admin = yield* AdminRepo
    return AdminAuth.of({
      bearer: (token) =>
        Effect.gen(function* () {
          const found = yield* admin.resolveOperatorToken(Redacted.value(token)).pipe(Effect.orDie)
          if (Option.isNone(found)) return yield* new Unauthorized({ message: UNAUTHORIZED_MESSAGE })
          return new Operator({ tokenId: found.value.id, name: found.value.name })
        })
    })
  })
)
