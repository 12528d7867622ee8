import { Effect, Layer, Option, Redacted } from "effect"
import { AdminRepo } from "../store/AdminRepo.js"
import { Operator, OperatorAuth, UNAUTHORIZED_MESSAGE, Unauthorized } from "./Api.js"

/**
 * The operator token check behind OperatorAuth: the bearer token's SHA-256
 * is looked up in the AdminRepo. A missing, malformed, unknown or revoked
 * token gets the same 401 and message, so a caller learns nothing about which
 * tokens exist. A store failure is a 500 (a defect), not a 401: the caller's
 * token may be fine.
 */
export const OperatorAuthLive = Layer.effect(
  OperatorAuth,
  Effect.gen(function* () {
    const admin = yield* AdminRepo
    return OperatorAuth.of({
      operatorToken: (token) =>
        Effect.gen(function* () {
          const found = yield* admin.resolveOperatorToken(Redacted.value(token)).pipe(Effect.orDie)
          if (Option.isNone(found)) return yield* new Unauthorized({ message: UNAUTHORIZED_MESSAGE })
          return new Operator({ tokenId: found.value.id, name: found.value.name })
        })
    })
  })
)
