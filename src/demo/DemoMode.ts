import { Effect, Option } from "effect"
import * as path from "node:path"
import { TenantId } from "../domain/Tenant.js"
import { importTenant } from "../actors/TenantImport.js"
import { TenantRepo } from "../store/TenantRepo.js"
import { DEMO_SENDER, DEMO_TENANT_ID, demoTenantFile } from "./DemoTenant.js"

/**
 * Demo mode (`npm start`): the demo tenant is imported on the first start only,
 * so what a user changes through the admin API survives a restart;
 * `imprint demo --reset` imports it again. Sign-in codes go to the capture
 * server like relayed mail, so the two-step login can be tried in var/outbox/.
 */

export type DemoTenantState = "imported" | "kept" | "reset"

export const ensureDemoTenant = Effect.fn("Demo.ensureTenant")(function* (reset: boolean) {
  const repo = yield* TenantRepo
  const present = Option.isSome(yield* repo.getTenant(TenantId.make(DEMO_TENANT_ID)))
  if (present && !reset) return "kept" as DemoTenantState
  yield* importTenant(demoTenantFile())
  return (present ? "reset" : "imported") as DemoTenantState
})

/** The From of sign-in mail in demo mode (the capture server takes any). */
export const DEMO_LOGIN_FROM = "Imprint demo <imprint@demo.example>"

/** A path as the user would type it from here: relative when under the current folder. */
const shown = (p: string) => {
  const rel = path.relative(process.cwd(), p)
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : p
}

const TENANT_LINE: Record<DemoTenantState, string> = {
  imported: `The demo tenant was imported (first start).`,
  kept: `The demo tenant is kept as you left it; imprint demo --reset restores it.`,
  reset: `The demo tenant was restored (--reset).`
}

export const demoBanner = (opts: {
  readonly host: string
  readonly port: number
  readonly outbox: string
  /** the certificate a client of the admin API trusts */
  readonly certFile: string
  readonly tenant: DemoTenantState
  readonly admin: { readonly host: string; readonly port: number } | undefined
}): string =>
  [
    ``,
    `Imprint demo: relaying for tenant "${DEMO_TENANT_ID}" (domain demo.example) on ${opts.host}:${opts.port}`,
    TENANT_LINE[opts.tenant],
    `Relayed messages and sign-in codes are written to ${shown(opts.outbox)}/ as .eml files.`,
    `Send a test message:`,
    `  node dist/src/main.js send-sample --port ${opts.port}`,
    `  swaks --server ${opts.host}:${opts.port} --from ${DEMO_SENDER} --to someone@example.org`,
    ...(opts.admin === undefined
      ? []
      : [
          `Admin API: https://${opts.admin.host}:${opts.admin.port}/openapi.json (trust ${shown(opts.certFile)});`,
          `  a token for it: node dist/src/main.js admin token create --name me`
        ]),
    `Stop with Ctrl-C.`,
    ``
  ].join("\n")
