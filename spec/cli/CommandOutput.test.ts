import { describe, expect, it } from "vitest"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { buildDist, MAIN, ROOT } from "../support/ServeProcess.js"

/** `node dist/src/main.js …`: both streams, and the exit code */
const cli = (args: ReadonlyArray<string>, cwd: string) =>
  new Promise<{ stdout: string; stderr: string; code: number }>((resolve) =>
    execFile(process.execPath, [MAIN, ...args], { cwd, env: { ...process.env, IMPRINT_CONFIG: "" } }, (err, stdout, stderr) =>
      resolve({ stdout, stderr, code: err === null ? 0 : ((err as { code?: number }).code ?? 1) })
    )
  )

const jsonLines = (text: string) =>
  text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>)

describe("one-shot CLI commands: the result alone on standard output, log lines on standard error", () => {
  it("tenant import prints its summary on stdout and its 'tenant imported' log line on stderr; admin token create prints only the token", async () => {
    await buildDist()
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imprint-cli-output-"))
    expect((await cli(["init", dir], ROOT)).code).toBe(0)
    const imported = await cli(["tenant", "import", "acme.json", "--config", "imprint.json"], dir)
    expect(imported.code).toBe(0)
    const out = jsonLines(imported.stdout)
    expect(out).toHaveLength(1)
    expect(out[0]).toMatchObject({ tenantId: "acme", created: true })
    expect(jsonLines(imported.stderr).some((l) => l.message === "tenant imported")).toBe(true)
    const token = await cli(["admin", "token", "create", "--name", "ops", "--config", "imprint.json"], dir)
    expect(token.code).toBe(0)
    expect(token.stdout.trim()).toMatch(/^imp_op_[A-Za-z0-9_-]+$/)
  }, 120_000)
})
