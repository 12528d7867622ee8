/**
 * Sign-in for specs: the admin test server with `admin.mail` pointing at a
 * real SMTP sink on 127.0.0.1 (port 0), and helpers that walk the real flow
 * (login → code caught by the sink → verify) through the typed client.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { Context, Effect, Layer } from "effect"
import { LoginSettings, MailSettings } from "../../src/domain/AccountSettings.js"
import type { Role } from "../../src/domain/Role.js"
import { startSink, type Sink } from "../support/Sink.js"
import { AdminEnv, AdminTestAccounts, adminTestLayer, apiClient, createPayload, operatorClient, tenantBody } from "./AdminHarness.js"

export class MailSink extends Context.Tag("spec/admin/MailSink")<MailSink, Sink>() {}

export const MAIL_FROM = "Imprint <no-reply@imprint.test>"
export const PASSWORD = "Granite7Lantern"

const SinkLayer = Layer.scoped(
  MailSink,
  Effect.acquireRelease(
    Effect.promise(() => startSink({ starttls: false })),
    (sink) => Effect.promise(() => sink.close())
  )
)

/**
 * The admin server with sign-in codes going to the sink. `login` overrides
 * sign-in settings; the address limit is high by default because every spec
 * request comes from 127.0.0.1. `mail: false` leaves admin.mail unset.
 */
export const authTestLayer = (options: { readonly login?: Partial<typeof LoginSettings.Encoded>; readonly mail?: boolean } = {}) => {
  const accounts = Layer.effect(
    AdminTestAccounts,
    Effect.map(MailSink, (sink) => ({
      login: LoginSettings.make({ throttleAddressFailures: 10_000, ...options.login }),
      mail: options.mail === false ? undefined : MailSettings.make({ host: "127.0.0.1", port: sink.port, requireTLS: false, from: MAIL_FROM })
    }))
  )
  return adminTestLayer().pipe(Layer.provide(accounts), Layer.provideMerge(SinkLayer))
}

/** A tenant bound by a documentation-range CIDR (specs must not share addresses). */
export const seedTenant = (id: string, cidr: string) =>
  Effect.flatMap(operatorClient, (client) => client.tenants.create({ payload: createPayload(tenantBody(id, cidr)) }))

/** A member created by the operator (any role, the first owner included). */
export const seedUser = (tenantId: string, email: string, role: Role, password = PASSWORD) =>
  Effect.flatMap(operatorClient, (client) => client.users.create({ path: { tenantId }, payload: { email, name: email.split("@")[0], role, password } }))

/** The code in the newest message to `to` that arrived after `seen` messages. */
export const codeSentTo = (to: string, seen: number) =>
  Effect.gen(function* () {
    const sink = yield* MailSink
    const lower = to.toLowerCase()
    const match = (s: Sink) => s.messages.slice(seen).some((m) => m.rcptTo.map((r) => r.toLowerCase()).includes(lower))
    yield* Effect.promise(() => sink.waitUntil(match))
    const message = sink.messages
      .slice(seen)
      .filter((m) => m.rcptTo.map((r) => r.toLowerCase()).includes(lower))
      .at(-1)!
    const code = /sign-in code is: (\d+)/.exec(message.raw.toString("utf8"))?.[1]
    if (code === undefined) return yield* Effect.dieMessage(`no code in the mail to ${to}`)
    return { code, message }
  })

/** Login with email and password as an anonymous client, and read the emailed code: the first step of every sign-in. */
export const codeSent = (email: string, password = PASSWORD) =>
  Effect.gen(function* () {
    const sink = yield* MailSink
    const anonymous = yield* apiClient(undefined)
    const seen = sink.messages.length
    const started = yield* anonymous.auth.login({ payload: { email, password } })
    if (started.status !== "code-sent") return yield* Effect.dieMessage("expected a code to be sent")
    const { code } = yield* codeSentTo(email, seen)
    return { anonymous, attemptId: started.attemptId, code }
  })

/** Login with email and password, read the emailed code, verify: the session token (and device token when asked). */
export const signIn = (email: string, password = PASSWORD, trustDevice = false) =>
  Effect.flatMap(codeSent(email, password), ({ anonymous, attemptId, code }) => anonymous.auth.verify({ payload: { attemptId, code, trustDevice } }))

/** The typed client with a member's session. */
export const sessionClient = (email: string, password = PASSWORD) => Effect.flatMap(signIn(email, password), (s) => apiClient(s.sessionToken))

/** Any method, any path, a JSON body: for what the typed client will not send. */
export const rawCall = (method: string, path: string, options: { token?: string; json?: unknown } = {}) =>
  Effect.gen(function* () {
    const env = yield* AdminEnv
    const client = yield* HttpClient.HttpClient
    let request = HttpClientRequest.make(method as "GET")(`${env.baseUrl}${path}`)
    if (options.token !== undefined) request = HttpClientRequest.bearerToken(request, options.token)
    if (options.json !== undefined) request = yield* HttpClientRequest.bodyJson(request, options.json)
    const response = yield* client.execute(request)
    return { status: response.status, text: yield* response.text }
  })
