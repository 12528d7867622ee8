import { Effect, Either, Schema } from "effect"
import { describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { decodeConfig, ImprintConfig } from "../../src/config.js"
import { decodeTenantFile } from "../../src/domain/TenantFile.js"
import { CONFIG_FILE, initFolder, starterConfig, TENANT_FILE } from "../../src/StarterFiles.js"

const ROOT = path.resolve(import.meta.dirname, "..", "..")
const example = (): Record<string, unknown> => JSON.parse(fs.readFileSync(path.join(ROOT, "imprint.example.json"), "utf8"))

const leafKeys = (value: unknown, prefix: string[] = []): string[][] =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? Object.entries(value).flatMap(([k, v]) => leafKeys(v, [...prefix, k])) : [prefix]

const tempFolder = () => fs.mkdtempSync(path.join(os.tmpdir(), "imprint-init-"))

describe("starter files", () => {
  it("ships imprint.example.json: every key with a default, with that default (regenerate: imprint init into an empty folder)", () => {
    expect(example()).toEqual(starterConfig())
    const decoded = Either.getOrThrow(decodeConfig(example()))
    const defaults = Schema.encodeSync(ImprintConfig)(Either.getOrThrow(decodeConfig({})))
    const { downstream, ...rest } = Schema.encodeSync(ImprintConfig)(decoded)
    expect(rest).toEqual(defaults)
    expect(downstream).toMatchObject({ host: "127.0.0.1" })
  })

  it("documents every key of the example in the README", () => {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8")
    const undocumented = leafKeys(example()).filter((key) => !readme.includes(`\`${key.join(".")}\``) && !readme.includes(`\`${key[key.length - 1]}\``))
    expect(undocumented.map((k) => k.join("."))).toEqual([])
  })

  it("imprint init writes a starter config and a tenant file that decode, with a fresh password each time", async () => {
    const a = tempFolder()
    const lines = await Effect.runPromise(initFolder(path.join(a, "new")))
    const config = JSON.parse(fs.readFileSync(path.join(a, "new", CONFIG_FILE), "utf8"))
    expect(config).toEqual(example())
    const tenant = JSON.parse(fs.readFileSync(path.join(a, "new", TENANT_FILE), "utf8"))
    await Effect.runPromise(decodeTenantFile(tenant))
    expect(fs.statSync(path.join(a, "new", TENANT_FILE)).mode & 0o077).toBe(0)
    const password = tenant.connectors.find((c: { type: string }) => c.type === "auth").password as string
    expect(lines.join("\n")).toContain(password)
    expect(lines.join("\n")).toContain(`tenant import ${path.relative(process.cwd(), path.join(a, "new", TENANT_FILE))}`)
    const b = tempFolder()
    await Effect.runPromise(initFolder(b))
    const other = JSON.parse(fs.readFileSync(path.join(b, TENANT_FILE), "utf8"))
    expect(other.connectors.find((c: { type: string }) => c.type === "auth").password).not.toBe(password)
    fs.rmSync(a, { recursive: true })
    fs.rmSync(b, { recursive: true })
  })

  it("imprint init refuses to overwrite and then writes nothing", async () => {
    const folder = tempFolder()
    fs.writeFileSync(path.join(folder, TENANT_FILE), "mine")
    const error = await Effect.runPromise(Effect.flip(initFolder(folder)))
    expect(error.message).toContain(`${path.join(folder, TENANT_FILE)} already exists; nothing was written`)
    expect(fs.readFileSync(path.join(folder, TENANT_FILE), "utf8")).toBe("mine")
    expect(fs.existsSync(path.join(folder, CONFIG_FILE))).toBe(false)
    fs.rmSync(folder, { recursive: true })
  })
})
