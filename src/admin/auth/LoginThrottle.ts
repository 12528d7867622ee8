import { Clock, Effect, HashMap, Option, Ref } from "effect"
import { TooManyAttempts } from "./Errors.js"
import { AccountConfig } from "../../domain/AccountSettings.js"

/**
 * Growing waits after failed sign-ins, per account (the email as typed,
 * lower-cased, whether or not it exists, so the answer tells nothing about
 * existence) and per source address. The first `free` failures cost nothing;
 * from then on each try must wait base·2^(failures−free), capped. A try is
 * counted as failed when it starts and forgiven when it succeeds, so a burst
 * of parallel guesses cannot all slip in before the first one fails.
 * In memory and per process: a restart forgets, which only helps the
 * people who were locked out. Time is Effect's Clock (TestClock in specs).
 */

/** entries remembered at most; the oldest are forgotten first */
export const MAX_TRACKED = 10_000
/** a key with no failure for this long starts over */
export const FORGET_AFTER_MS = 24 * 60 * 60 * 1000

interface Entry {
  readonly failures: number
  readonly lastAt: number
}

export interface ThrottleLimits {
  readonly free: number
  readonly baseMs: number
  readonly maxMs: number
}

/** How long after its last failure a key must wait; 0 while under its free failures. */
export const waitFor = (failures: number, limits: ThrottleLimits): number =>
  failures < limits.free ? 0 : Math.min(limits.baseMs * 2 ** Math.min(failures - limits.free, 40), limits.maxMs)

export type ThrottleKey = { readonly kind: "account" | "address"; readonly value: string }

const id = (k: ThrottleKey) => `${k.kind}:${k.value.toLowerCase()}`

export class LoginThrottle extends Effect.Service<LoginThrottle>()("imprint/admin/LoginThrottle", {
  effect: Effect.gen(function* () {
    const { login } = yield* AccountConfig
    const limits = (kind: ThrottleKey["kind"]): ThrottleLimits => ({
      free: kind === "account" ? login.throttleAccountFailures : login.throttleAddressFailures,
      baseMs: login.throttleBaseSeconds * 1000,
      maxMs: login.throttleMaxSeconds * 1000
    })
    const state = yield* Ref.make(HashMap.empty<string, Entry>())

    const live = (e: Entry | undefined, now: number) => (e === undefined || now - e.lastAt > FORGET_AFTER_MS ? undefined : e)

    /**
     * Refuses with 429 while any key must still wait; otherwise counts this
     * try as a failure until `succeeded` forgives it.
     */
    const begin = Effect.fn("LoginThrottle.begin")(function* (keys: ReadonlyArray<ThrottleKey>) {
      const now = yield* Clock.currentTimeMillis
      const waitMs = yield* Ref.modify(state, (map) => {
        let wait = 0
        for (const k of keys) {
          const e = live(Option.getOrUndefined(HashMap.get(map, id(k))), now)
          if (e !== undefined) wait = Math.max(wait, e.lastAt + waitFor(e.failures, limits(k.kind)) - now)
        }
        if (wait > 0) return [wait, map] as const
        let next = map
        for (const k of keys) {
          const e = live(Option.getOrUndefined(HashMap.get(next, id(k))), now)
          next = HashMap.set(HashMap.remove(next, id(k)), id(k), { failures: (e?.failures ?? 0) + 1, lastAt: now })
        }
        while (HashMap.size(next) > MAX_TRACKED) {
          let oldest: [string, Entry] | undefined
          for (const entry of next) if (oldest === undefined || entry[1].lastAt < oldest[1].lastAt) oldest = entry
          next = HashMap.remove(next, oldest![0])
        }
        return [0, next] as const
      })
      if (waitMs > 0) {
        const seconds = Math.ceil(waitMs / 1000)
        return yield* new TooManyAttempts({
          retryAfterSeconds: seconds,
          message: `too many failed sign-ins; retry after ${seconds} s (at ${new Date(now + seconds * 1000).toISOString()})`
        })
      }
    })

    const update = (f: (map: HashMap.HashMap<string, Entry>, now: number) => HashMap.HashMap<string, Entry>) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => Ref.update(state, (map) => f(map, now)))

    /** The try was not a failure after all (the password was right): it is taken back. */
    const forgive = Effect.fn("LoginThrottle.forgive")(function* (keys: ReadonlyArray<ThrottleKey>) {
      yield* update((map) => keys.reduce((m, k) => HashMap.modify(m, id(k), (e) => ({ ...e, failures: Math.max(0, e.failures - 1) })), map))
    })

    /** A failure noticed later (a wrong code): counted now. */
    const fail = Effect.fn("LoginThrottle.fail")(function* (keys: ReadonlyArray<ThrottleKey>) {
      yield* update((map, now) =>
        keys.reduce((m, k) => {
          const e = live(Option.getOrUndefined(HashMap.get(m, id(k))), now)
          return HashMap.set(m, id(k), { failures: (e?.failures ?? 0) + 1, lastAt: now })
        }, map)
      )
    })

    /** A sign-in completed: these keys start over. */
    const reset = Effect.fn("LoginThrottle.reset")(function* (keys: ReadonlyArray<ThrottleKey>) {
      yield* update((map) => keys.reduce((m, k) => HashMap.remove(m, id(k)), map))
    })

    return { begin, forgive, fail, reset } as const
  })
}) {}
