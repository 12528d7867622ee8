import { Effect, Schema } from "effect"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { ImprintConfig } from "./config.js"

/**
 * `imprint init [FOLDER]`: a starter configuration (every key that has a
 * default, with that default, plus a downstream to edit) and a starter tenant
 * file. `imprint.example.json` in the repository is the same configuration
 * (a spec keeps them equal). Existing files are never overwritten.
 */

export const CONFIG_FILE = "imprint.json"
export const TENANT_FILE = "acme.json"

/** The configuration with every default spelled out; `downstream` (no default) points at a local MTA's second listener. */
export const starterConfig = (): Record<string, unknown> => {
  const defaults = Schema.encodeSync(ImprintConfig)(Schema.decodeUnknownSync(ImprintConfig)({}))
  const { dataDir, smtp, ...rest } = defaults
  return { dataDir, smtp, downstream: { host: "127.0.0.1", port: 10026, tls: "opportunistic", rejectUnauthorized: true }, ...rest }
}

/** A tenant bound by loopback or by AUTH with a fresh random password, one template, one rule, one directory user. */
export const starterTenant = (password: string): Record<string, unknown> => ({
  id: "acme",
  name: "Acme Ltd",
  domains: ["acme.example"],
  connectors: [
    { type: "cidr", cidrs: ["127.0.0.1/32"] },
    { type: "auth", username: "relay@acme", password }
  ],
  templates: [
    {
      id: "main",
      name: "Main",
      html: '<p style="font-family: Arial, sans-serif"><b>{{displayName}}</b>{{#title}}<br>{{title}}{{/title}}<br><a href="mailto:{{mail}}">{{mail}}</a></p>'
    }
  ],
  rules: [{ id: "everyone", name: "Everyone", templateId: "main" }],
  directory: [{ mail: "alice@acme.example", displayName: "Alice Example", title: "Operations" }],
  settings: { skipIfPresent: [] }
})

/** 18 random bytes, base64url: as the admin API generates connector passwords. */
const newPassword = () => randomBytes(18).toString("base64url")

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`

export class InitRefused extends Schema.TaggedError<InitRefused>()("InitRefused", { message: Schema.String }) {}

/** Writes both files or neither; answers the lines to print. */
export const initFolder = Effect.fn("StarterFiles.init")(function* (folder: string) {
  const configPath = path.join(folder, CONFIG_FILE)
  const tenantPath = path.join(folder, TENANT_FILE)
  const existing = [configPath, tenantPath].filter((p) => fs.existsSync(p))
  if (existing.length > 0) {
    return yield* new InitRefused({
      message: `${existing.join(" and ")} already exist${existing.length === 1 ? "s" : ""}; nothing was written (remove or move ${existing.length === 1 ? "it" : "them"} first)`
    })
  }
  const password = newPassword()
  yield* Effect.try({
    try: () => {
      fs.mkdirSync(folder, { recursive: true })
      // "wx": fail rather than overwrite a file created since the check
      fs.writeFileSync(configPath, json(starterConfig()), { flag: "wx" })
      try {
        fs.writeFileSync(tenantPath, json(starterTenant(password)), { flag: "wx", mode: 0o600 })
      } catch (e) {
        fs.rmSync(configPath)
        throw e
      }
    },
    catch: (e) => new InitRefused({ message: `cannot write the starter files: ${(e as Error).message}` })
  })
  const rel = (p: string) => path.relative(process.cwd(), p) || p
  return [
    `wrote ${rel(configPath)}: the server's configuration, every key with its default (README: Configuration); edit "downstream"`,
    `wrote ${rel(tenantPath)}: tenant "acme" (domain acme.example), bound from 127.0.0.1 or by SMTP AUTH relay@acme / ${password} after STARTTLS`,
    `next:`,
    `  node dist/src/main.js tenant import ${rel(tenantPath)} --config ${rel(configPath)}`,
    `  node dist/src/main.js serve --config ${rel(configPath)}`
  ]
})
