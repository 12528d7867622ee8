import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { loadConfig } from "../src/config.js"

/**
 * Item 15 of issue 13: every key that names a file or folder is resolved
 * against the config file's folder (as documented), also when it comes from
 * an IMPRINT_* variable; absolute paths stay; without a file, the working
 * directory is the base.
 */

const root = fs.mkdtempSync(path.join(os.tmpdir(), "imprint-config-paths-"))
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))
const confDir = path.join(root, "etc", "imprint")
fs.mkdirSync(confDir, { recursive: true })

const PATH_KEYS: ReadonlyArray<{ readonly key: ReadonlyArray<string>; readonly env: string | undefined }> = [
  { key: ["dataDir"], env: "IMPRINT_DATA_DIR" },
  { key: ["captureDir"], env: undefined },
  { key: ["smtp", "tlsKeyFile"], env: "IMPRINT_SMTP_TLS_KEY_FILE" },
  { key: ["smtp", "tlsCertFile"], env: "IMPRINT_SMTP_TLS_CERT_FILE" },
  { key: ["admin", "tlsKeyFile"], env: "IMPRINT_ADMIN_TLS_KEY_FILE" },
  { key: ["admin", "tlsCertFile"], env: "IMPRINT_ADMIN_TLS_CERT_FILE" },
  { key: ["sync", "credentialKeyFile"], env: "IMPRINT_SYNC_CREDENTIAL_KEY_FILE" },
  { key: ["images", "tlsKeyFile"], env: undefined },
  { key: ["images", "tlsCertFile"], env: undefined }
]

const nest = (key: ReadonlyArray<string>, value: string): Record<string, unknown> =>
  key.length === 1 ? { [key[0]!]: value } : { [key[0]!]: nest(key.slice(1), value) }
const read = (config: unknown, key: ReadonlyArray<string>): unknown => key.reduce<unknown>((node, k) => (node as Record<string, unknown>)[k], config)

const load = (file: string | undefined, content: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) => {
  if (file !== undefined) fs.writeFileSync(file, JSON.stringify(content))
  return Effect.runSync(loadConfig(file, env))
}

describe("config paths", () => {
  for (const { key, env } of PATH_KEYS) {
    const name = key.join(".")
    it(`${name}: relative to the config file, absolute kept`, () => {
      const file = path.join(confDir, `${name}.json`)
      expect(read(load(file, nest(key, "files/x.pem")), key)).toBe(path.join(confDir, "files", "x.pem"))
      expect(read(load(file, nest(key, "/srv/x.pem")), key)).toBe("/srv/x.pem")
      if (env !== undefined) {
        expect(read(load(file, {}, { [env]: "from-env/x.pem" }), key)).toBe(path.join(confDir, "from-env", "x.pem"))
      }
    })
  }

  it("without a config file, relative paths are relative to the working directory", () => {
    const config = load(undefined, {}, { IMPRINT_SMTP_TLS_KEY_FILE: "k.pem" })
    expect(config.smtp.tlsKeyFile).toBe(path.resolve("k.pem"))
  })
})
