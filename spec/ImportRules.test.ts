import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"
import { check } from "../tools/check-imports.mjs"

/** DESIGN.md "Who may import whom", enforced over src/ by tools/check-imports.mjs (issue 16 item 5). */
const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "src")

describe("import rules", () => {
  it("src/ imports only along DESIGN's direction (known exceptions allow-listed with their issue) and has no cycle", () => {
    const { files, violations } = check(SRC)
    expect(files).toBeGreaterThan(100)
    expect(violations).toEqual([])
  })

  describe("the checker", () => {
    let dir: string | undefined
    afterEach(() => {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
    })
    const tree = (files: Record<string, string>): string => {
      dir = mkdtempSync(path.join(tmpdir(), "imprint-imports-"))
      for (const [name, text] of Object.entries(files)) {
        mkdirSync(path.join(dir, path.dirname(name)), { recursive: true })
        writeFileSync(path.join(dir, name), text)
      }
      return dir
    }

    it("reports an import against the direction, a type-only one too", () => {
      const src = tree({
        "domain/Tenant.ts": "export type TenantId = string\n",
        "admin/Role.ts": 'export type Role = "owner"\n',
        "store/Accounts.ts": 'import type { Role } from "../admin/Role.js"\nimport { TenantId } from "../domain/Tenant.js"\n',
        "signature/Render.ts": 'export {\n  x\n} from "../store/Accounts.js"\n'
      })
      const { violations } = check(src)
      expect(violations).toHaveLength(2)
      expect(violations).toContain('store/Accounts.ts → admin/Role.ts: store may not import admin (DESIGN.md, "Who may import whom")')
      expect(violations).toContain('signature/Render.ts → store/Accounts.ts: signature may not import store (DESIGN.md, "Who may import whom")')
    })

    it("reports an admin contract importing anything but domain/ and admin/, though admin may import store", () => {
      const src = tree({
        "store/AuditRepo.ts": "export const MAX_AUDIT_PAGE = 500\n",
        "admin/AuditApi.ts": 'import { MAX_AUDIT_PAGE } from "../store/AuditRepo.js"\n',
        "admin/handlers/Audit.ts": 'import { MAX_AUDIT_PAGE } from "../../store/AuditRepo.js"\n'
      })
      const { violations } = check(src)
      expect(violations).toEqual([
        "admin/AuditApi.ts → store/AuditRepo.ts: an admin contract imports only domain/ and admin/ (STYLE.md, the admin API contract)"
      ])
    })

    it("reports a module of the admin API that main.ts reaches by static imports, and lets a dynamic or type-only import pass", () => {
      const src = tree({
        "main.ts": 'import { start } from "./Server.js"\nimport { cli } from "./admin/Cli.js"\n',
        "Server.ts": 'import type { Options } from "./admin/Options.js"\nexport const start = () => import("./AdminRoot.js")\n',
        "AdminRoot.ts": 'import { Api } from "./admin/Api.js"\n',
        "admin/Api.ts": "export const Api = 1\n",
        "admin/Cli.ts": 'import { Api } from "./Api.js"\nexport const cli = 1\n',
        "admin/Options.ts": "export type Options = {}\n"
      })
      const { violations } = check(src)
      expect(violations).toEqual([
        "main.ts → admin/Cli.ts: serve and every worker would load it; import it dynamically where it runs (tools/check-imports.mjs, NOT_LOADED_BY_SERVE)"
      ])
    })

    it("reports a barrel of BARRELS, in a dynamic or type-only import too, and lets its modules and other barrels pass", () => {
      const src = tree({
        "admin/A.ts": 'import { HttpApiBuilder } from "@effect/platform"\nimport * as HttpApp from "@effect/platform/HttpApp"\n',
        "admin/B.ts": 'import type { NodeHttpServer } from "@effect/platform-node"\nimport { Effect } from "effect"\n',
        "admin/C.ts": 'const m = await import("@effect/platform")\nimport * as NodeRuntime from "@effect/platform-node/NodeRuntime"\n'
      })
      const { violations } = check(src)
      expect(violations.map((v) => v.split(":")[0])).toEqual([
        "admin/A.ts → @effect/platform",
        "admin/B.ts → @effect/platform-node",
        "admin/C.ts → @effect/platform"
      ])
    })

    it("reports a stage of the wire importing the pipeline's root files or an earlier stage, and a stage WIRE does not name", () => {
      const src = tree({
        "pipeline/RelayError.ts": 'import { MailLoop } from "./headers/HeadersError.js"\nexport { MailLoop }\n',
        "pipeline/DataPhase.ts": 'import { MailLoop } from "./RelayError.js"\nimport { Session } from "./inbound/Session.js"\n',
        "pipeline/headers/HeadersError.ts": "export class MailLoop {}\n",
        "pipeline/headers/RootHeaders.ts": 'import { MailLoop } from "../RelayError.js"\nimport { Wire } from "../downstream/Wire.js"\n',
        "pipeline/inbound/Session.ts": 'import { MailLoop } from "../headers/HeadersError.js"\nexport class Session {}\n',
        "pipeline/downstream/Wire.ts": 'import type { Session } from "../inbound/Session.js"\nexport class Wire {}\n',
        "pipeline/mime/lexicon/Words.ts": 'import { Wire } from "../../downstream/Wire.js"\nimport { x } from "../Scanner.js"\n',
        "pipeline/mime/Scanner.ts": "export const x = 1\n",
        "pipeline/smtp/Old.ts": "export const y = 1\n"
      })
      const { violations } = check(src)
      expect(violations.map((v) => v.split(":")[0]).sort()).toEqual([
        "pipeline/downstream/Wire.ts → pipeline/inbound/Session.ts",
        "pipeline/headers/RootHeaders.ts → pipeline/RelayError.ts",
        "src/pipeline/smtp/"
      ])
    })

    it("reports a cycle, within a room too, and a folder with no rule", () => {
      const src = tree({
        "pipeline/A.ts": 'import { b } from "./B.js"\nexport const a = 1\n',
        "pipeline/B.ts": 'import { a } from "./A.js"\nexport const b = 2\n',
        "newroom/X.ts": "export const x = 1\n"
      })
      const { violations } = check(src)
      expect(violations).toContain("cycle: pipeline/A.ts ⇄ pipeline/B.ts")
      expect(violations.some((v) => v.startsWith("src/newroom/"))).toBe(true)
    })
  })
})
