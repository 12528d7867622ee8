import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { COMMANDS, helpText, parseCommandLine } from "../../src/Cli.js"

const parse = (line: string) => parseCommandLine(line === "" ? [] : line.split(" "))
const run = (line: string) => {
  const r = parse(line)
  if (Either.isLeft(r) || r.right._tag !== "Run") throw new Error(`expected a command: ${line}`)
  return r.right
}
const usageError = (line: string) => {
  const r = parse(line)
  if (Either.isRight(r)) throw new Error(`expected a usage error: ${line}`)
  return r.left
}

describe("command line", () => {
  it("answers help for --help, -h, help and no arguments, and for every command's --help", () => {
    for (const line of ["", "--help", "-h", "help"]) expect(parse(line)).toEqual(Either.right({ _tag: "Help", command: undefined }))
    for (const c of COMMANDS) {
      expect(parse(`${c.name} --help`)).toEqual(Either.right({ _tag: "Help", command: c.name === "help" ? undefined : c.name }))
      expect(parse(`help ${c.name}`)).toEqual(Either.right({ _tag: "Help", command: c.name }))
    }
    // help wins over a usage error on the same line
    expect(parse("tenant import -h")).toEqual(Either.right({ _tag: "Help", command: "tenant" }))
  })

  it("prints every command in the overview and its forms in its own help", () => {
    const overview = helpText()
    for (const c of COMMANDS) expect(overview).toContain(`  ${c.name} `)
    expect(helpText("tenant")).toContain("imprint tenant import PATH [--mode MODE] [--config FILE]")
    expect(helpText("admin")).toContain("imprint admin token create --name NAME [--config FILE]")
  })

  it("reads arguments, flags (--k v and --k=v) and switches", () => {
    expect(run("tenant import acme.json --config imprint.json")).toMatchObject({
      command: "tenant",
      positional: ["import", "acme.json"],
      flags: { config: "imprint.json" }
    })
    expect(run("tenant import tenants.jsonl --mode per-tenant")).toMatchObject({ positional: ["import", "tenants.jsonl"], flags: { mode: "per-tenant" } })
    expect(run("admin token create --name=ops")).toMatchObject({ positional: ["token", "create"], flags: { name: "ops" } })
    expect(run("demo --reset").switches.has("reset")).toBe(true)
    expect(run("init").positional).toEqual([])
    expect(run("init here").positional).toEqual(["here"])
    expect(run("send-sample --port 2600 --to bob@example.org").flags).toEqual({ port: "2600", to: "bob@example.org" })
  })

  it("names what is wrong in a usage error, with the command it belongs to", () => {
    expect(usageError("frobnicate")).toMatchObject({ message: 'unknown command "frobnicate"', command: undefined })
    expect(usageError("tenant")).toMatchObject({ message: "a subcommand is missing", command: "tenant" })
    expect(usageError("tenant delete acme").message).toBe('unknown subcommand "delete"')
    expect(usageError("tenant import").message).toBe("missing PATH")
    expect(usageError("tenant list extra").message).toBe('unexpected argument "extra"')
    expect(usageError("serve --conifg x.json").message).toBe("unknown option --conifg")
    expect(usageError("serve --config").message).toBe("--config needs a value")
    expect(usageError("admin token create").message).toBe("--name is required")
    expect(usageError("admin token list --name x").message).toBe("--name does not apply to imprint admin token list")
    expect(usageError("demo --reset=yes").message).toBe("--reset takes no value")
    expect(usageError("help frobnicate").message).toBe('unknown command "frobnicate"')
  })
})
